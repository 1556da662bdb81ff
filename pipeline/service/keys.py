"""API keys: printed once when made, kept only as their sha256; each has one role."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Engine, insert, select

from pipeline.service import audit
from pipeline.service.tables import api_keys

KEY_PREFIX = "pck_"


class Role(StrEnum):
    SUBMITTER = "submitter"  # submits cases, sees only its own
    CLERK = "clerk"  # sees every case, records decisions
    AUDITOR = "auditor"  # reads everything, changes nothing
    ADMIN = "admin"


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    role: Role

    @property
    def actor(self) -> str:
        return f"key:{self.id}:{self.name}"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(engine: Engine, role: Role, name: str = "") -> tuple[ApiKey, str]:
    """Store a new key's hash; return the key record and the key itself (shown once)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    name = name or f"{role.value}-key"
    with engine.begin() as conn:
        result = conn.execute(insert(api_keys).values(
            name=name, role=role.value, key_hash=_hash(key), created_at=datetime.now(UTC)))
        key_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        audit.append(conn, "apikey_created", actor="cli", payload={"key_id": key_id, "role": role.value,
                                                                  "name": name})
    return ApiKey(id=key_id, name=name, role=role), key


def find_key(engine: Engine, key: str) -> ApiKey | None:
    with engine.connect() as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.key_hash == _hash(key))).mappings().first()
    return None if row is None else ApiKey(id=row["id"], name=row["name"], role=Role(row["role"]))
