"""Periodic clean-up: expired idempotency keys (kept 72 h), processed carrier pushes (kept 7 days) and
expired console sessions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

import anyio
import sqlalchemy as sa

from lanjie.service.ids import utcnow
from lanjie.store import tables as t

log = logging.getLogger("lanjie.housekeeping")
IDEMPOTENCY_RETENTION = timedelta(hours=72)
#: Longer than any carrier's retry horizon, so a late duplicate push is still recognised.
INBOX_RETENTION = timedelta(days=7)


def sweep(engine: sa.Engine, now: datetime | None = None) -> dict[str, int]:
    """Delete what has outlived its retention; returns the rows removed per table."""
    now = now or utcnow()
    with engine.begin() as conn:
        # An in-flight claim that old belongs to a request that died long ago: it goes too.
        keys = conn.execute(t.idempotency_keys.delete().where(
            t.idempotency_keys.c.created_at < now - IDEMPOTENCY_RETENTION)).rowcount
        pushes = conn.execute(t.inbox.delete().where(
            t.inbox.c.processed_at.is_not(None), t.inbox.c.received_at < now - INBOX_RETENTION)).rowcount
        sessions = conn.execute(t.console_sessions.delete().where(
            t.console_sessions.c.expires_at < now)).rowcount
    return {"idempotency_keys": keys, "inbox": pushes, "console_sessions": sessions}


async def run_housekeeping(engine: sa.Engine, stop: asyncio.Event, every_seconds: float = 3600.0) -> None:
    """Sweep now and then every ``every_seconds`` until ``stop`` is set."""
    while not stop.is_set():
        try:
            removed = await anyio.to_thread.run_sync(sweep, engine)
            if any(removed.values()):
                log.info("housekeeping removed %s", removed)
        except Exception:  # never take the worker down over clean-up; try again next round
            log.exception("housekeeping failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
