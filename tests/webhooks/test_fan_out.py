"""Fan-out from real events rows: one delivery per wanted event and endpoint, the cursor moves, nothing twice."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from lanjie.settings import Settings
from lanjie.store import tables as t
from lanjie.webhooks import Webhooks, manage
from lanjie.webhooks.store import get_endpoint
from tests.webhooks.conftest import T0, add_events, loads, new_shop, queued


def _endpoint(engine: sa.Engine, shop_id: str, event_types: list[str] | None = None) -> str:
    with engine.begin() as conn:
        endpoint, _ = manage.create_endpoint(conn, shop_id=shop_id, url="http://127.0.0.1:9/hooks", description="",
                                             event_types=event_types or [], now=T0)
    return endpoint.id


def _deliveries(engine: sa.Engine) -> list[tuple[str, int, str, str, int]]:
    d = t.webhook_deliveries
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(d.c.endpoint_id, d.c.event_id, d.c.event_type, d.c.status,
                                                         d.c.attempts).order_by(d.c.id))]


def _cursor(engine: sa.Engine, shop_id: str, endpoint_id: str) -> int:
    with engine.connect() as conn:
        endpoint = get_endpoint(conn, shop_id=shop_id, endpoint_id=endpoint_id)
    assert endpoint is not None
    return endpoint.cursor


def _webhooks(engine: sa.Engine) -> Webhooks:
    return Webhooks(engine, httpx.AsyncClient(), Settings(webhook_allow_private_targets=True), now=lambda: T0)


def test_a_new_endpoint_starts_after_the_events_already_there(engine: sa.Engine) -> None:
    shop = new_shop(engine, "A")
    old = add_events(engine, shop, "aftersale.created", "intercept.submitted")
    endpoint = _endpoint(engine, shop)
    assert _cursor(engine, shop, endpoint) == old[-1]
    assert _webhooks(engine).fan_out() is False
    assert _deliveries(engine) == [] and queued(engine) == []


def test_wanted_events_become_deliveries_with_a_first_attempt_and_the_cursor_moves(engine: sa.Engine) -> None:
    a, b = new_shop(engine, "A"), new_shop(engine, "B")
    everything = _endpoint(engine, a)
    settled_only = _endpoint(engine, a, ["case.settled"])
    other_shop = _endpoint(engine, b)
    ids = add_events(engine, a, "aftersale.created", "intercept.requested", "intercept.refused",
                     "aftersale.status_changed", "refund.succeeded", "aftersale.settled", "claim.filed")
    assert _webhooks(engine).fan_out() is False
    assert sorted(_deliveries(engine)) == sorted([
        (everything, ids[0], "case.created", "pending", 0),
        (everything, ids[2], "intercept.answered", "pending", 0),
        (everything, ids[3], "case.updated", "pending", 0),
        (everything, ids[5], "case.settled", "pending", 0),
        (everything, ids[6], "claim.filed", "pending", 0),
        (settled_only, ids[5], "case.settled", "pending", 0),
    ])
    assert [_cursor(engine, a, everything), _cursor(engine, a, settled_only), _cursor(engine, b, other_shop)] == \
        [ids[-1], ids[-1], 0]
    jobs_ = queued(engine)
    assert [(j["trigger"], j["n"], j["shop_id"], j["run_at"]) for j in jobs_] == [("automatic", 1, a, T0)] * 6
    with engine.connect() as conn:
        first = conn.execute(sa.select(t.webhook_deliveries).where(t.webhook_deliveries.c.event_id == ids[0])).first()
    assert first is not None
    assert loads(first.body) == {"type": "case.created", "timestamp": "2026-11-27T08:00:00.000Z", "data": {
        "event_id": ids[0], "aftersale_id": "as_1", "subject_type": "aftersale", "subject_id": "as_1",
        "event": "aftersale.created", "n": 0}}
    assert first.message_id.startswith("msg_") and first.next_attempt_at == T0


def test_a_second_pass_creates_nothing_and_only_new_events_are_fanned_out(engine: sa.Engine) -> None:
    shop = new_shop(engine, "A")
    endpoint = _endpoint(engine, shop)
    webhooks = _webhooks(engine)
    first = add_events(engine, shop, "aftersale.created")
    webhooks.fan_out()
    webhooks.fan_out()
    assert len(_deliveries(engine)) == 1 and len(queued(engine)) == 1
    later = add_events(engine, shop, "intercept.failed")
    webhooks.fan_out()
    assert [(e, ev) for e, ev, *_ in _deliveries(engine)] == [(endpoint, first[0]), (endpoint, later[0])]
    assert len(queued(engine)) == 2


def test_a_cursor_set_back_does_not_duplicate_deliveries(engine: sa.Engine) -> None:
    # Two processes fanning out the same events: the unique constraint keeps one delivery each.
    shop = new_shop(engine, "A")
    endpoint = _endpoint(engine, shop)
    add_events(engine, shop, "aftersale.created", "aftersale.settled")
    webhooks = _webhooks(engine)
    webhooks.fan_out()
    with engine.begin() as conn:
        conn.execute(t.webhook_endpoints.update().values(cursor=0))
    webhooks.fan_out()
    assert [status for *_, status, _ in _deliveries(engine)] == ["pending", "pending"]
    assert len(queued(engine)) == 2
    assert _cursor(engine, shop, endpoint) > 0


def test_a_disabled_endpoint_gets_nothing(engine: sa.Engine) -> None:
    shop = new_shop(engine, "A")
    endpoint = _endpoint(engine, shop)
    with engine.begin() as conn:
        manage.disable_endpoint(conn, shop_id=shop, endpoint_id=endpoint, reason="test", now=T0)
    add_events(engine, shop, "aftersale.created")
    assert _webhooks(engine).fan_out() is False
    assert _deliveries(engine) == [] and _cursor(engine, shop, endpoint) == 0


def test_a_backlog_larger_than_a_batch_is_fanned_out_in_batches(engine: sa.Engine) -> None:
    shop = new_shop(engine, "A")
    _endpoint(engine, shop)
    ids = add_events(engine, shop, *["aftersale.status_changed"] * 7)
    webhooks = _webhooks(engine)
    webhooks.batch = 3
    assert [webhooks.fan_out() for _ in range(3)] == [True, True, False]
    assert [ev for _, ev, *_ in _deliveries(engine)] == ids
