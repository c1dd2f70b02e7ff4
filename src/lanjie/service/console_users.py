"""The console's people: users of a shop (owner, agent, warehouse), their passwords and sessions.

API keys stay for machines; a person signs in to the console with a login and a password. A session
is a random token in an HttpOnly cookie; the database keeps only its SHA-256, with the CSRF token the
session's forms and fetches must echo.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

import sqlalchemy as sa

from lanjie.service.ids import new_id, utcnow
from lanjie.store import tables as t
from lanjie.store.db import reader

SESSION_HOURS = 12
#: scrypt cost: 2**14 × 8 × 128 bytes = 16 MiB and ~50 ms a check, OWASP's floor for scrypt.
_N, _R, _P = 2**14, 8, 1
MIN_PASSWORD = 10


class Role(StrEnum):
    owner = "owner"  # everything, settings and users included
    agent = "agent"  # cases, intercepts, claims, receiving, the dashboard
    warehouse = "warehouse"  # receiving only


class UserError(ValueError):
    """A user could not be created or changed; the message names the field."""


@dataclass(frozen=True)
class ConsoleUser:
    id: str
    shop_id: str
    login: str
    name: str
    role: Role
    disabled: bool


@dataclass(frozen=True)
class ConsoleSession:
    user: ConsoleUser
    csrf_token: str
    timezone: str
    shop_name: str


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "$".join(["scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


#: Checked against when the login is unknown, so an unknown login costs the same time as a wrong password.
_DUMMY = hash_password(secrets.token_urlsafe(12))


def _user(row: sa.Row) -> ConsoleUser:
    return ConsoleUser(id=row.id, shop_id=row.shop_id, login=row.login, name=row.name, role=Role(row.role),
                       disabled=row.disabled_at is not None)


def normal_login(login: str) -> str:
    return login.strip().lower()


def create_user(engine: sa.Engine, shop_id: str, login: str, password: str, role: Role | str,
                name: str = "") -> ConsoleUser:
    """A new console user of the shop; the login is unique across all shops (it picks the shop at sign-in)."""
    login = normal_login(login)
    if not 3 <= len(login) <= 120 or any(c.isspace() for c in login):
        raise UserError("login: 3 to 120 characters, no spaces")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")
    try:
        role = Role(role)
    except ValueError:
        raise UserError(f"role: one of {', '.join(Role)}") from None
    now = utcnow()
    user = ConsoleUser(id=new_id("cu"), shop_id=shop_id, login=login, name=name.strip()[:120], role=role,
                       disabled=False)
    with engine.begin() as conn:
        taken = conn.execute(sa.select(t.console_users.c.id).where(t.console_users.c.login == login)).first()
        if taken is not None:
            raise UserError(f"login: {login!r} is taken")
        conn.execute(t.console_users.insert().values(
            id=user.id, shop_id=shop_id, login=login, name=user.name, role=role.value,
            password_hash=hash_password(password), created_at=now, updated_at=now))
    return user


def list_users(engine: sa.Engine, shop_id: str) -> list[ConsoleUser]:
    with reader(engine).connect() as conn:
        rows = conn.execute(sa.select(t.console_users).where(t.console_users.c.shop_id == shop_id)
                            .order_by(t.console_users.c.created_at, t.console_users.c.id)).all()
    return [_user(row) for row in rows]


def update_user(engine: sa.Engine, shop_id: str, user_id: str, *, role: Role | str | None = None,
                disabled: bool | None = None, password: str | None = None) -> ConsoleUser | None:
    """Change a user's role, password or whether they may sign in; a disabled user's sessions end at once.

    The shop keeps at least one enabled owner: the change that would leave none is refused."""
    values: dict[str, object] = {"updated_at": utcnow()}
    if role is not None:
        try:
            values["role"] = Role(role).value
        except ValueError:
            raise UserError(f"role: one of {', '.join(Role)}") from None
    if disabled is not None:
        values["disabled_at"] = utcnow() if disabled else None
    if password is not None:
        if len(password) < MIN_PASSWORD:
            raise UserError(f"password: at least {MIN_PASSWORD} characters")
        values["password_hash"] = hash_password(password)
    users = t.console_users
    with engine.begin() as conn:
        row = conn.execute(sa.select(users).where(users.c.shop_id == shop_id, users.c.id == user_id)
                           .with_for_update()).first()
        if row is None:
            return None
        conn.execute(users.update().where(users.c.id == user_id).values(**values))
        owners = conn.execute(sa.select(sa.func.count()).select_from(users).where(
            users.c.shop_id == shop_id, users.c.role == Role.owner.value, users.c.disabled_at.is_(None))).scalar_one()
        if owners == 0:
            raise UserError("the shop needs at least one enabled owner")
        if disabled or password is not None:
            conn.execute(t.console_sessions.delete().where(t.console_sessions.c.user_id == user_id))
        row = conn.execute(sa.select(users).where(users.c.id == user_id)).one()
    return _user(row)


def sign_in(engine: sa.Engine, login: str, password: str) -> tuple[str, ConsoleUser] | None:
    """A new session's cookie token and its user, or None (unknown login, wrong password, disabled)."""
    with reader(engine).connect() as conn:
        row = conn.execute(sa.select(t.console_users).where(
            t.console_users.c.login == normal_login(login))).first()
    ok = verify_password(password, row.password_hash if row is not None else _DUMMY)
    if row is None or not ok or row.disabled_at is not None:
        return None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(t.console_sessions.delete().where(t.console_sessions.c.user_id == row.id,
                                                       t.console_sessions.c.expires_at < now))
        conn.execute(t.console_sessions.insert().values(
            id=_digest(token), shop_id=row.shop_id, user_id=row.id, csrf_token=secrets.token_urlsafe(32),
            created_at=now, expires_at=now + timedelta(hours=SESSION_HOURS)))
    return token, _user(row)


def session_for(engine: sa.Engine, token: str) -> ConsoleSession | None:
    """The live session a cookie's token opens, or None (unknown, expired, user disabled)."""
    if not token or len(token) > 100:
        return None
    s, u = t.console_sessions, t.console_users
    with reader(engine).connect() as conn:
        row = conn.execute(
            sa.select(s.c.csrf_token, s.c.expires_at, u, t.shops.c.timezone, t.shops.c.name.label("shop_name"))
            .join(u, u.c.id == s.c.user_id).join(t.shops, t.shops.c.id == s.c.shop_id)
            .where(s.c.id == _digest(token))).first()
    if row is None or row.expires_at <= utcnow() or row.disabled_at is not None:
        return None
    return ConsoleSession(user=_user(row), csrf_token=row.csrf_token, timezone=row.timezone,
                          shop_name=row.shop_name)


def sign_out(engine: sa.Engine, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(t.console_sessions.delete().where(t.console_sessions.c.id == _digest(token)))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
