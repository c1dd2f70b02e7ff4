"""Data access for webhook endpoints, deliveries and attempts. Every shop-facing query filters by shop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from lanjie.store import tables as t

__all__ = [
    "Delivery",
    "DeliveryStatus",
    "Endpoint",
    "add_deliveries",
    "add_endpoint",
    "attempts_of",
    "cancel_pending",
    "endpoints_behind",
    "events_after",
    "get_delivery",
    "get_endpoint",
    "last_event_id",
    "list_deliveries",
    "list_endpoints",
    "lock_endpoint",
    "record_attempt",
    "set_cursor",
    "update_delivery",
    "update_endpoint",
]

E, D, A = t.webhook_endpoints, t.webhook_deliveries, t.webhook_attempts


class DeliveryStatus(StrEnum):
    pending = "pending"  # an attempt is due or scheduled
    succeeded = "succeeded"  # a 2xx came back
    failed = "failed"  # gave up: every scheduled attempt failed, or the endpoint answered 410
    cancelled = "cancelled"  # the endpoint was disabled before the delivery went through


@dataclass(frozen=True)
class Endpoint:
    id: str
    shop_id: str
    url: str
    description: str
    event_types: list[str]
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str
    cursor: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Delivery:
    id: int
    shop_id: str
    endpoint_id: str
    event_id: int
    event_type: str
    message_id: str
    body: bytes
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    created_at: datetime
    updated_at: datetime


def _endpoint(row: sa.Row[Any]) -> Endpoint:
    return Endpoint(**{**row._mapping, "event_types": list(row.event_types)})


def _delivery(row: sa.Row[Any]) -> Delivery:
    return Delivery(**{**row._mapping, "body": bytes(row.body), "status": DeliveryStatus(row.status)})


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


# --------------------------------------------------------------------------- endpoints
def last_event_id(conn: sa.Connection, *, shop_id: str) -> int:
    """The newest event id of the shop (0 when it has none)."""
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.events.c.id), 0))
                            .where(t.events.c.shop_id == shop_id)).scalar_one())


def add_endpoint(conn: sa.Connection, *, endpoint_id: str, shop_id: str, url: str, description: str,
                 event_types: Sequence[str], secret: str, now: datetime) -> Endpoint:
    """Insert an enabled endpoint whose cursor starts at the shop's newest event (no backlog)."""
    values = {"id": endpoint_id, "shop_id": shop_id, "url": url, "description": description,
              "event_types": list(event_types), "secret": secret, "previous_secret": None,
              "previous_secret_expires_at": None, "enabled": True, "disabled_at": None, "disabled_reason": "",
              "cursor": last_event_id(conn, shop_id=shop_id), "created_at": now, "updated_at": now}
    conn.execute(E.insert().values(**values))
    return Endpoint(**values)


def get_endpoint(conn: sa.Connection, *, shop_id: str, endpoint_id: str, for_update: bool = False) -> Endpoint | None:
    """One endpoint of the shop."""
    query = sa.select(E).where(E.c.shop_id == shop_id, E.c.id == endpoint_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    return _endpoint(row) if row else None


def list_endpoints(conn: sa.Connection, *, shop_id: str) -> list[Endpoint]:
    """The shop's endpoints, oldest first."""
    rows = conn.execute(sa.select(E).where(E.c.shop_id == shop_id).order_by(E.c.created_at, E.c.id))
    return [_endpoint(r) for r in rows]


def update_endpoint(conn: sa.Connection, *, shop_id: str, endpoint_id: str, now: datetime, **values: Any) -> None:
    """Change columns of one endpoint of the shop."""
    conn.execute(E.update().where(E.c.shop_id == shop_id, E.c.id == endpoint_id).values(**values, updated_at=now))


def cancel_pending(conn: sa.Connection, *, shop_id: str, endpoint_id: str, now: datetime, reason: str) -> int:
    """Cancel the endpoint's deliveries not yet through; returns how many."""
    return conn.execute(
        D.update().where(D.c.shop_id == shop_id, D.c.endpoint_id == endpoint_id,
                         D.c.status == DeliveryStatus.pending)
        .values(status=DeliveryStatus.cancelled, next_attempt_at=None, last_error=reason[:500], updated_at=now)
    ).rowcount


# --------------------------------------------------------------------------- fan-out (all shops)
def endpoints_behind(conn: sa.Connection) -> list[str]:
    """Ids of enabled endpoints whose shop has events after their cursor."""
    ev = t.events
    newer = sa.exists().where(ev.c.shop_id == E.c.shop_id, ev.c.id > E.c.cursor)
    return list(conn.execute(sa.select(E.c.id).where(E.c.enabled.is_(True), newer).order_by(E.c.id)).scalars())


def lock_endpoint(conn: sa.Connection, *, endpoint_id: str) -> Endpoint | None:
    """The endpoint, row-locked for this transaction; None if another process holds it (PostgreSQL)."""
    row = conn.execute(sa.select(E).where(E.c.id == endpoint_id).with_for_update(skip_locked=True)).first()
    return _endpoint(row) if row else None


def events_after(conn: sa.Connection, *, shop_id: str, after: int, limit: int) -> list[sa.Row[Any]]:
    """The shop's events after an id, oldest first."""
    ev = t.events
    return list(conn.execute(sa.select(ev).where(ev.c.shop_id == shop_id, ev.c.id > after)
                             .order_by(ev.c.id).limit(limit)).all())


def add_deliveries(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert deliveries; one already there for the same endpoint and event is skipped. Returns new ids."""
    ids = []
    for row in rows:  # at most one batch of events; ON CONFLICT keeps a concurrent fan-out harmless
        stmt = (_insert(conn, D).values(**row)
                .on_conflict_do_nothing(index_elements=["shop_id", "endpoint_id", "event_id"])
                .returning(D.c.id))
        new = conn.execute(stmt).scalar_one_or_none()
        if new is not None:
            ids.append(int(new))
    return ids


def set_cursor(conn: sa.Connection, *, endpoint_id: str, cursor: int) -> None:
    """Remember the last event fanned out to the endpoint."""
    conn.execute(E.update().where(E.c.id == endpoint_id).values(cursor=cursor))


# --------------------------------------------------------------------------- deliveries
def get_delivery(conn: sa.Connection, *, shop_id: str, delivery_id: int, for_update: bool = False) -> Delivery | None:
    """One delivery of the shop."""
    query = sa.select(D).where(D.c.shop_id == shop_id, D.c.id == delivery_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    return _delivery(row) if row else None


def list_deliveries(conn: sa.Connection, *, shop_id: str, endpoint_id: str, status: str | None, limit: int,
                    before: int | None) -> list[Delivery]:
    """An endpoint's deliveries, newest first, optionally in one status and older than ``before``."""
    query = (sa.select(D).where(D.c.shop_id == shop_id, D.c.endpoint_id == endpoint_id)
             .order_by(D.c.id.desc()).limit(limit))
    if status is not None:
        query = query.where(D.c.status == status)
    if before is not None:
        query = query.where(D.c.id < before)
    return [_delivery(r) for r in conn.execute(query)]


def update_delivery(conn: sa.Connection, *, shop_id: str, delivery_id: int, now: datetime, **values: Any) -> None:
    """Change columns of one delivery of the shop."""
    conn.execute(D.update().where(D.c.shop_id == shop_id, D.c.id == delivery_id).values(**values, updated_at=now))


def record_attempt(conn: sa.Connection, *, delivery: Delivery, at: datetime, status_code: int | None,
                   duration_ms: int, response_body: str, error: str, trigger: str) -> int:
    """Append an attempt to the log (the delivery row must be locked); returns its number."""
    n = delivery.attempts + 1
    conn.execute(A.insert().values(shop_id=delivery.shop_id, delivery_id=delivery.id, n=n, at=at,
                                   status_code=status_code, duration_ms=duration_ms,
                                   response_body=_storable(response_body), error=_storable(error)[:500],
                                   trigger=trigger))
    return n


def _storable(text: str) -> str:
    # A receiver may answer anything; PostgreSQL cannot store NUL in text.
    return text.replace("\x00", "\ufffd")


def attempts_of(conn: sa.Connection, *, shop_id: str, delivery_id: int) -> list[dict[str, Any]]:
    """A delivery's attempts, first first."""
    rows = conn.execute(sa.select(A).where(A.c.shop_id == shop_id, A.c.delivery_id == delivery_id).order_by(A.c.n))
    return [dict(r._mapping) for r in rows]
