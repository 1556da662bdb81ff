"""Console users: a name, one role, an argon2id password hash (the password is never kept).

``precheck user create`` makes them; the web console checks passwords here. Making a user is
an audit event, like making an API key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.errors import Unprocessable
from pipeline.service import audit
from pipeline.service.keys import Role
from pipeline.service.tables import users

#: the roles a person signing in to the console may have (submitters are programs with API keys)
CONSOLE_ROLES = (Role.CLERK, Role.AUDITOR, Role.ADMIN)
MIN_PASSWORD = 8

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters
#: verified against when a name is unknown, so a wrong name costs what a wrong password costs
_DUMMY = _hasher.hash("precheck-no-such-user")


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role

    @property
    def actor(self) -> str:
        return f"user:{self.id}:{self.name}"


def create_user(engine: Engine, name: str, role: Role, password: str) -> User:
    name = name.strip()
    if not name or len(name) > 64:
        raise Unprocessable("用户名须为 1–64 个字符 / the user name must be 1-64 characters")
    if role not in CONSOLE_ROLES:
        raise Unprocessable(f"控制台用户的角色只能是 clerk、auditor 或 admin / not a console role: {role.value}")
    if len(password) < MIN_PASSWORD:
        raise Unprocessable(f"密码至少 {MIN_PASSWORD} 个字符 / the password needs at least {MIN_PASSWORD} characters")
    try:
        with engine.begin() as conn:
            result = conn.execute(insert(users).values(name=name, role=role.value, password_hash=_hasher.hash(password),
                                                       created_at=datetime.now(UTC)))
            user_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            audit.append(conn, "user_created", actor="cli", payload={"user_id": user_id, "name": name,
                                                                    "role": role.value})
    except IntegrityError as exc:
        raise Unprocessable(f"用户 {name} 已存在 / user {name} exists already") from exc
    return User(user_id, name, role)


def authenticate(engine: Engine, name: str, password: str) -> User | None:
    """The user when the password is right, else None (the same work either way)."""
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name.strip())).mappings().first()
    stored = row["password_hash"] if row is not None else _DUMMY
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(stored):
        with engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == row["id"]).values(password_hash=_hasher.hash(password)))
    return User(row["id"], row["name"], Role(row["role"]))


def find_user(engine: Engine, user_id: int) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.id == user_id)).mappings().first()
    return None if row is None else User(row["id"], row["name"], Role(row["role"]))
