"""Who is signed in to the console: a signed session cookie, its CSRF token, the sign-in throttle.

The cookie (Starlette's ``SessionMiddleware``, signed with itsdangerous) holds the user's id and
the CSRF token; the user and role are read from the store on every request, so a removed user is
out at once. Every form carries the session's CSRF token; a POST without it is refused (403).
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy import Engine, delete, insert, select

from pipeline.errors import Forbidden, TooManyRequests, Unauthorized
from pipeline.service.keys import Role
from pipeline.service.tables import login_failures
from pipeline.service.users import User, find_user

SESSION_COOKIE = "precheck_session"
SESSION_HOURS = 10  # one working day


class SignInRequired(Unauthorized):
    """No signed-in user: a page is answered by the sign-in form, JSON by 401."""


def session_secret() -> str:
    """``PRECHECK_SESSION_SECRET``, else a random key made once in ``var/session.key`` (owner-only).
    Several ``precheck serve`` instances behind one load balancer need the same secret."""
    given = os.environ.get("PRECHECK_SESSION_SECRET")
    if given:
        return given
    path = Path(os.environ.get("PRECHECK_SESSION_KEY_FILE") or Path("var") / "session.key")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_text().strip()


def secure_cookies() -> bool:
    """``PRECHECK_SECURE_COOKIES=1``: the session cookie is sent over HTTPS only (behind TLS)."""
    return os.environ.get("PRECHECK_SECURE_COOKIES", "") == "1"


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def check_csrf(request: Request, form: Any) -> None:
    sent, kept = form.get("csrf_token"), request.session.get("csrf")
    if not isinstance(sent, str) or not kept or not secrets.compare_digest(sent, str(kept)):
        raise Forbidden("表单校验码缺失或无效，请刷新页面后重试 / missing or wrong CSRF token")


def signed_in(request: Request) -> User:
    user_id = request.session.get("uid")
    user = find_user(request.app.state.store.engine, int(user_id)) if isinstance(user_id, int) else None
    if user is None:
        request.session.pop("uid", None)
        raise SignInRequired("请先登录 / sign in first")
    return user


def require(user: User, *roles: Role) -> None:
    if user.role not in roles:
        names = "、".join(r.value for r in roles)
        raise Forbidden(f"您的角色（{user.role.value}）无权进行此操作，需要：{names} / "
                        f"role {user.role.value} may not do this")


class LoginThrottle:
    """At most ``per_name`` failed sign-ins for one user name and ``per_address`` from one address in
    ``window_s`` seconds; then sign-in is refused (429) until the oldest failure leaves the window.
    Failures are kept in the store (``login_failures``), so every ``precheck serve`` counts the same ones."""

    def __init__(self, engine: Engine, per_name: int = 5, per_address: int = 20, window_s: float = 300.0) -> None:
        self.engine = engine
        self.limits = {"name": per_name, "address": per_address}
        self.window_s = window_s

    def check(self, name: str, address: str) -> None:
        now = datetime.now(UTC)
        since = now - timedelta(seconds=self.window_s)
        with self.engine.connect() as conn:
            for kind, subject in self._subjects(name, address):
                times = list(conn.execute(select(login_failures.c.at).where(
                    login_failures.c.subject == subject, login_failures.c.at > since)
                    .order_by(login_failures.c.at)).scalars())
                if len(times) >= self.limits[kind]:
                    oldest = times[0] if times[0].tzinfo else times[0].replace(tzinfo=UTC)
                    wait = max(1, round((self.window_s - (now - oldest).total_seconds()) / 60))
                    raise TooManyRequests(f"登录失败次数过多，请 {wait} 分钟后再试 / too many failed sign-ins, "
                                          f"try again in {wait} min")

    def failed(self, name: str, address: str) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.at < now - timedelta(seconds=self.window_s)))
            conn.execute(insert(login_failures), [{"subject": s, "at": now} for _, s in self._subjects(name, address)])

    def succeeded(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.subject == f"name:{_folded(name)}"))

    @staticmethod
    def _subjects(name: str, address: str) -> list[tuple[str, str]]:
        return [("name", f"name:{_folded(name)}"[:160]), ("address", f"address:{address}"[:160])]


def _folded(name: str) -> str:
    return name.strip().lower()
