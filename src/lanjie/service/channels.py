"""Sales-channel accounts of a shop and the adapters built for them (endpoints, the shared HTTP client)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa

from lanjie.channels.base import Channel, ChannelAccount, ChannelCapability
from lanjie.service.ids import new_id, utcnow
from lanjie.settings import Settings
from lanjie.store import tables as t

#: The inbox's ``carrier`` column names a channel push as ``channel:<name>``.
INBOX_PREFIX = "channel:"


@dataclass(frozen=True)
class ChannelAccountRecord:
    id: str
    shop_id: str
    channel: str
    credentials: dict[str, str]
    callback_token: str


class ChannelGateway:
    """The one place channel adapters are made; tests hand it a client whose transport they control."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient, registry: Mapping[str, type[Channel]]) -> None:
        self.settings, self.client, self.registry = settings, client, registry

    def endpoints(self, channel: str) -> dict[str, str]:
        """Base URLs for a plugin: the sandbox's platform simulator when configured, then explicit settings."""
        endpoints: dict[str, str] = {}
        cls = self.registry.get(channel)
        sandbox = self.settings.channel_sandbox_url.rstrip("/")
        if sandbox and cls is not None:
            endpoints.update({name: f"{sandbox}/{channel}" for name in cls.endpoint_names})
        endpoints.update(self.settings.channel_endpoints.get(channel, {}))
        return endpoints

    def adapter(self, account: ChannelAccountRecord) -> Channel:
        cls = self.registry[account.channel]
        return cls(ChannelAccount(channel=account.channel, credentials=account.credentials,
                                  endpoints=self.endpoints(account.channel)), self.client)

    def can(self, channel: str, capability: ChannelCapability) -> bool:
        """Whether the channel's plugin offers ``capability`` (unknown channels — CSV platforms — offer nothing)."""
        cls = self.registry.get(channel)
        return cls is not None and capability in cls.capabilities

    def callback_url(self, account: ChannelAccountRecord) -> str:
        base = self.settings.public_base_url.rstrip("/")
        return f"{base}/v1/channels/{account.channel}/callbacks/{account.callback_token}"


def upsert_account(conn: sa.Connection, shop_id: str, channel: str,
                   credentials: dict[str, str]) -> ChannelAccountRecord:
    """Set the shop's credentials on a platform; the callback token is kept across updates."""
    now = utcnow()
    existing = account_for(conn, shop_id, channel)
    if existing is not None:
        conn.execute(t.channel_accounts.update().where(t.channel_accounts.c.id == existing.id).values(
            credentials=credentials, updated_at=now))
        return ChannelAccountRecord(existing.id, shop_id, channel, credentials, existing.callback_token)
    record = ChannelAccountRecord(new_id("cha"), shop_id, channel, credentials, secrets.token_hex(16))
    conn.execute(t.channel_accounts.insert().values(
        id=record.id, shop_id=shop_id, channel=channel, credentials=credentials,
        callback_token=record.callback_token, created_at=now, updated_at=now))
    return record


def account_for(conn: sa.Connection, shop_id: str, channel: str) -> ChannelAccountRecord | None:
    row = conn.execute(sa.select(t.channel_accounts).where(
        t.channel_accounts.c.shop_id == shop_id, t.channel_accounts.c.channel == channel)).first()
    return _record(row) if row else None


def account_by_token(conn: sa.Connection, channel: str, token: str) -> ChannelAccountRecord | None:
    row = conn.execute(sa.select(t.channel_accounts).where(
        t.channel_accounts.c.callback_token == token, t.channel_accounts.c.channel == channel)).first()
    if row is None or not hmac.compare_digest(row.callback_token, token):
        return None
    return _record(row)


def accounts_of(conn: sa.Connection, shop_id: str) -> list[ChannelAccountRecord]:
    rows = conn.execute(sa.select(t.channel_accounts).where(t.channel_accounts.c.shop_id == shop_id)
                        .order_by(t.channel_accounts.c.channel)).all()
    return [_record(r) for r in rows]


def _record(row: Any) -> ChannelAccountRecord:
    return ChannelAccountRecord(row.id, row.shop_id, row.channel, dict(row.credentials), row.callback_token)
