"""Housekeeping removes only what has outlived its retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from lanjie.service.housekeeping import sweep
from lanjie.store import tables as t

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_sweep_deletes_old_keys_processed_pushes_and_expired_sessions_only(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(t.shops.insert().values(id="s1", name="n", settlement_policy="on_accept", timezone="UTC",
                                             created_at=NOW, updated_at=NOW))
        conn.execute(t.idempotency_keys.insert(), [
            {"shop_id": "s1", "key": key, "fingerprint": "f", "response_status": status, "response_body": "{}",
             "created_at": NOW - age}
            for key, status, age in (("old-done", 201, timedelta(hours=73)), ("fresh", 201, timedelta(hours=71)),
                                     ("old-in-flight", 0, timedelta(hours=80)))])
        conn.execute(t.inbox.insert(), [
            {"shop_id": "s1", "carrier": "kuaidi100", "message_key": key, "content_type": "x", "body": b"b",
             "received_at": NOW - age, "processed_at": processed}
            for key, age, processed in (("old", timedelta(days=8), NOW), ("new", timedelta(days=6), NOW),
                                        ("old-unprocessed", timedelta(days=9), None))])
        conn.execute(t.console_users.insert().values(id="cu_1", shop_id="s1", login="ann", role="owner",
                                                     password_hash="x", created_at=NOW, updated_at=NOW))
        conn.execute(t.console_sessions.insert(), [
            {"id": sid, "shop_id": "s1", "user_id": "cu_1", "csrf_token": "c", "created_at": NOW - timedelta(hours=12),
             "expires_at": NOW + offset}
            for sid, offset in (("expired", -timedelta(seconds=1)), ("live", timedelta(seconds=1)))])
    assert sweep(engine, NOW) == {"idempotency_keys": 2, "inbox": 1, "console_sessions": 1}
    with engine.connect() as conn:
        assert sorted(conn.execute(sa.select(t.idempotency_keys.c.key)).scalars()) == ["fresh"]
        assert sorted(conn.execute(sa.select(t.inbox.c.message_key)).scalars()) == ["new", "old-unprocessed"]
        assert list(conn.execute(sa.select(t.console_sessions.c.id)).scalars()) == ["live"]
    assert sweep(engine, NOW) == {"idempotency_keys": 0, "inbox": 0, "console_sessions": 0}
