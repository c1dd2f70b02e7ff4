"""Shops (tenants), their API keys and their carrier accounts."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import available_timezones

import sqlalchemy as sa

from lanjie.domain.states import SettlementPolicy
from lanjie.service.ids import new_id, utcnow
from lanjie.store import tables as t
from lanjie.store.db import reader

KEY_PREFIX = "lj"
_KEY_RE = re.compile(r"^lj_(k_[0-9a-f]{20})_([A-Za-z0-9_-]{43})$")
DEFAULT_SCOPES = ["cases:read", "cases:write", "interceptions:write", "refunds:approve", "carriers:manage"]


@dataclass(frozen=True)
class Shop:
    id: str
    name: str
    settlement_policy: SettlementPolicy
    timezone: str


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_shop(engine: sa.Engine, name: str,
                policy: SettlementPolicy = SettlementPolicy.on_turned_back) -> tuple[Shop, str]:
    """Create a shop and its first API key; the key is returned once and stored hashed."""
    now = utcnow()
    shop = Shop(id=new_id("shop"), name=name, settlement_policy=policy, timezone="Asia/Shanghai")
    with engine.begin() as conn:
        conn.execute(t.shops.insert().values(id=shop.id, name=name, settlement_policy=policy,
                                             timezone=shop.timezone, created_at=now, updated_at=now))
        key = _issue_key(conn, shop.id, "initial")
    return shop, key


def _issue_key(conn: sa.Connection, shop_id: str, label: str) -> str:
    key_id = f"k_{secrets.token_hex(10)}"
    secret = secrets.token_urlsafe(32)  # 256 bits
    conn.execute(t.api_keys.insert().values(id=key_id, shop_id=shop_id, secret_sha256=_sha256(secret),
                                            scopes=DEFAULT_SCOPES, label=label, created_at=utcnow()))
    return f"{KEY_PREFIX}_{key_id}_{secret}"


def issue_key(engine: sa.Engine, shop_id: str, label: str = "") -> str:
    """A new API key for the shop (rotation: issue a new one, then revoke the old)."""
    with engine.begin() as conn:
        return _issue_key(conn, shop_id, label)


def revoke_key(engine: sa.Engine, shop_id: str, key_id: str) -> bool:
    with engine.begin() as conn:
        res = conn.execute(t.api_keys.update().where(
            t.api_keys.c.shop_id == shop_id, t.api_keys.c.id == key_id, t.api_keys.c.revoked_at.is_(None),
        ).values(revoked_at=utcnow()))
        return res.rowcount == 1


@dataclass(frozen=True)
class KeyRecord:
    """An API key as the shop sees it after issue: never its secret."""

    id: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


def list_keys(engine: sa.Engine, shop_id: str) -> list[KeyRecord]:
    """The shop's API keys, oldest first, revoked ones included."""
    k = t.api_keys
    with engine.connect() as conn:
        rows = conn.execute(sa.select(k.c.id, k.c.label, k.c.created_at, k.c.revoked_at)
                            .where(k.c.shop_id == shop_id).order_by(k.c.created_at, k.c.id)).all()
    return [KeyRecord(r.id, r.label, r.created_at, r.revoked_at) for r in rows]


def authenticate(engine: sa.Engine, token: str) -> str | None:
    """The shop id a bearer key belongs to, or None (unknown, malformed, revoked)."""
    match = _KEY_RE.match(token)
    if match is None:
        return None
    key_id, secret = match.groups()
    with reader(engine).connect() as conn:
        row = conn.execute(sa.select(t.api_keys.c.shop_id, t.api_keys.c.secret_sha256).where(
            t.api_keys.c.id == key_id, t.api_keys.c.revoked_at.is_(None))).first()
    if row is None or not hmac.compare_digest(row.secret_sha256, _sha256(secret)):
        return None
    return str(row.shop_id)


def get_shop(conn: sa.Connection, shop_id: str) -> Shop | None:
    row = conn.execute(sa.select(t.shops).where(t.shops.c.id == shop_id)).first()
    if row is None:
        return None
    return Shop(id=row.id, name=row.name, settlement_policy=SettlementPolicy(row.settlement_policy),
                timezone=row.timezone)


def set_timezone(engine: sa.Engine, shop_id: str, timezone: str) -> None:
    """The shop's time zone (an IANA name such as Asia/Shanghai): the console shows its times in it."""
    if timezone not in available_timezones():
        raise ValueError(f"timezone: {timezone!r} is not an IANA time zone, e.g. Asia/Shanghai")
    with engine.begin() as conn:
        conn.execute(t.shops.update().where(t.shops.c.id == shop_id).values(timezone=timezone, updated_at=utcnow()))


def set_settlement_policy(engine: sa.Engine, shop_id: str, policy: SettlementPolicy) -> None:
    with engine.begin() as conn:
        conn.execute(t.shops.update().where(t.shops.c.id == shop_id).values(
            settlement_policy=policy, updated_at=utcnow()))


# ------------------------------------------------------------------ carrier accounts
@dataclass(frozen=True)
class AccountRecord:
    id: str
    shop_id: str
    carrier: str
    credentials: dict[str, str]
    callback_token: str


def upsert_carrier_account(conn: sa.Connection, shop_id: str, carrier: str,
                           credentials: dict[str, str]) -> AccountRecord:
    """Set the shop's credentials for a carrier; the callback token is kept across updates."""
    now = utcnow()
    existing = account_for(conn, shop_id, carrier)
    if existing is not None:
        conn.execute(t.carrier_accounts.update().where(t.carrier_accounts.c.id == existing.id).values(
            credentials=credentials, updated_at=now))
        return AccountRecord(existing.id, shop_id, carrier, credentials, existing.callback_token)
    record = AccountRecord(new_id("ca"), shop_id, carrier, credentials, secrets.token_hex(16))
    conn.execute(t.carrier_accounts.insert().values(
        id=record.id, shop_id=shop_id, carrier=carrier, credentials=credentials,
        callback_token=record.callback_token, created_at=now, updated_at=now))
    return record


def account_for(conn: sa.Connection, shop_id: str, carrier: str) -> AccountRecord | None:
    row = conn.execute(sa.select(t.carrier_accounts).where(
        t.carrier_accounts.c.shop_id == shop_id, t.carrier_accounts.c.carrier == carrier)).first()
    return _account(row) if row else None


def account_by_token(conn: sa.Connection, carrier: str, token: str) -> AccountRecord | None:
    row = conn.execute(sa.select(t.carrier_accounts).where(
        t.carrier_accounts.c.callback_token == token, t.carrier_accounts.c.carrier == carrier)).first()
    if row is None or not hmac.compare_digest(row.callback_token, token):
        return None
    return _account(row)


def accounts_of(conn: sa.Connection, shop_id: str) -> list[AccountRecord]:
    rows = conn.execute(sa.select(t.carrier_accounts).where(t.carrier_accounts.c.shop_id == shop_id)).all()
    return [_account(r) for r in rows]


def _account(row: Any) -> AccountRecord:
    return AccountRecord(row.id, row.shop_id, row.carrier, dict(row.credentials), row.callback_token)
