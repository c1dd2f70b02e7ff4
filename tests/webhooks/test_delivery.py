"""Deliveries against a real HTTP receiver on 127.0.0.1: signed, retried on schedule, 410 disables."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from lanjie.domain.errors import RuleViolation
from lanjie.embedded import free_socket
from lanjie.settings import Settings
from lanjie.store import tables as t
from lanjie.webhooks import Webhooks, manage, store
from lanjie.webhooks.delivery import SCHEDULE
from lanjie.webhooks.store import Delivery
from lanjie.worker import Worker
from tests.webhooks.conftest import Answer, Receiver, add_events, claim_due, new_shop, queued

pytestmark = pytest.mark.anyio


@dataclass
class World:
    engine: sa.Engine
    webhooks: Webhooks
    receiver: Receiver
    shop_id: str
    endpoint_id: str
    secret: str
    now: datetime

    def delivery(self, delivery_id: int | None = None) -> Delivery:
        with self.engine.connect() as conn:
            if delivery_id is None:
                delivery_id = conn.execute(sa.select(sa.func.min(t.webhook_deliveries.c.id))).scalar_one()
            found = store.get_delivery(conn, shop_id=self.shop_id, delivery_id=delivery_id)
        assert found is not None
        return found

    def log(self, delivery_id: int) -> list[tuple[int, int | None, str, str]]:
        with self.engine.connect() as conn:
            rows = store.attempts_of(conn, shop_id=self.shop_id, delivery_id=delivery_id)
        return [(a["n"], a["status_code"], a["error"], a["trigger"]) for a in rows]

    def endpoint(self) -> store.Endpoint:
        with self.engine.connect() as conn:
            return manage.require_endpoint(conn, shop_id=self.shop_id, endpoint_id=self.endpoint_id)

    async def run_due(self, at: datetime | None = None) -> int:
        """Run every webhook attempt due at ``at`` (default: the world's now); returns how many."""
        due = claim_due(self.engine, at=at or self.now)
        for job in due:
            await self.webhooks.deliver(job)
        return len(due)


@pytest.fixture
async def world(engine: sa.Engine, receiver: Receiver) -> AsyncIterator[World]:
    # A fixed clock (close to the real one, so receivers' ±5 min check passes) makes every run_at exact.
    now = datetime.now(UTC).replace(microsecond=0)
    async with httpx.AsyncClient() as http:
        webhooks = Webhooks(engine, http, Settings(webhook_allow_private_targets=True, webhook_timeout_seconds=2),
                            now=lambda: now)
        shop_id = new_shop(engine, "A")
        with engine.begin() as conn:
            endpoint, secret = manage.create_endpoint(conn, shop_id=shop_id, url=receiver.url, description="",
                                                      event_types=[], now=now)
        yield World(engine, webhooks, receiver, shop_id, endpoint.id, secret, now)


def _fan_out(w: World, *types: str) -> list[int]:
    ids = add_events(w.engine, w.shop_id, *types)
    w.webhooks.fan_out()
    return ids


async def test_a_delivery_is_posted_signed_and_succeeds_on_2xx(world: World) -> None:
    [event_id] = _fan_out(world, "aftersale.created")
    assert await world.run_due() == 1
    [got] = world.receiver.received
    d = world.delivery()
    assert got.path == "/hooks" and got.body == d.body
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-id"] == d.message_id
    assert got.headers["webhook-timestamp"] == str(int(world.now.timestamp()))
    assert Webhook(world.secret).verify(got.body, got.headers)["data"]["event_id"] == event_id
    assert (d.status, d.attempts, d.last_status_code, d.last_error, d.next_attempt_at) == \
        ("succeeded", 1, 200, "", None)
    assert world.log(d.id) == [(1, 200, "", "automatic")]
    assert queued(world.engine) == []
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(t.jobs.c.status)).scalars().all() == ["succeeded"]


async def test_a_500_is_retried_after_5_seconds_with_the_same_webhook_id(world: World) -> None:
    world.receiver.script = [Answer(500, b"boom")]
    _fan_out(world, "aftersale.settled")
    await world.run_due()
    d = world.delivery()
    assert (d.status, d.attempts, d.last_status_code, d.last_error) == ("pending", 1, 500, "HTTP 500")
    assert d.next_attempt_at == world.now + timedelta(seconds=5)
    assert [(j["n"], j["run_at"]) for j in queued(world.engine)] == [(2, world.now + timedelta(seconds=5))]
    assert await world.run_due(world.now + timedelta(seconds=4)) == 0  # not before its time
    assert await world.run_due(world.now + timedelta(seconds=5)) == 1
    d = world.delivery()
    assert (d.status, d.attempts, d.last_status_code, d.last_error) == ("succeeded", 2, 200, "")
    assert world.log(d.id) == [(1, 500, "", "automatic"), (2, 200, "", "automatic")]
    assert {r.headers["webhook-id"] for r in world.receiver.received} == {d.message_id}
    assert [r.body for r in world.receiver.received] == [d.body, d.body]


async def test_429_with_retry_after_waits_that_long_within_the_hour(world: World) -> None:
    world.receiver.script = [Answer(429, headers={"Retry-After": "120"})]
    _fan_out(world, "aftersale.settled")
    await world.run_due()
    assert [(j["n"], j["run_at"]) for j in queued(world.engine)] == [(2, world.now + timedelta(seconds=120))]


async def test_after_ten_failed_attempts_the_delivery_has_failed_and_a_redelivery_sends_it_again(world: World) -> None:
    world.receiver.script = [Answer(503)] * 10
    _fan_out(world, "intercept.succeeded")
    at = world.now
    for delay in SCHEDULE:
        at += delay
        assert await world.run_due(at) == 1
    d = world.delivery()
    assert (d.status, d.attempts, d.last_status_code, d.next_attempt_at) == ("failed", 10, 503, None)
    assert queued(world.engine) == []
    assert [n for n, *_ in world.log(d.id)] == list(range(1, 11))

    with world.engine.begin() as conn:
        again = manage.redeliver(conn, shop_id=world.shop_id, delivery_id=d.id, now=world.now)
    assert (again.status, again.attempts) == ("pending", 10)
    assert [(j["trigger"], j["n"]) for j in queued(world.engine)] == [("manual", None)]
    assert await world.run_due() == 1
    d = world.delivery()
    assert (d.status, d.attempts, d.last_status_code) == ("succeeded", 11, 200)
    assert world.log(d.id)[-1] == (11, 200, "", "manual")
    assert len({r.headers["webhook-id"] for r in world.receiver.received}) == 1
    assert len(world.receiver.received) == 11


async def test_a_failed_manual_attempt_leaves_the_automatic_schedule_running(world: World) -> None:
    world.receiver.script = [Answer(500), Answer(502)]
    _fan_out(world, "aftersale.created")
    await world.run_due()
    delivery_id = world.delivery().id
    with world.engine.begin() as conn:
        manage.redeliver(conn, shop_id=world.shop_id, delivery_id=delivery_id, now=world.now)
    await world.run_due()
    d = world.delivery()
    assert (d.status, d.attempts, d.next_attempt_at) == ("pending", 2, world.now + timedelta(seconds=5))
    assert [(j["trigger"], j["n"]) for j in queued(world.engine)] == [("automatic", 2)]


async def test_redelivering_a_succeeded_delivery_sends_it_again_and_it_stays_succeeded(world: World) -> None:
    _fan_out(world, "aftersale.created")
    await world.run_due()
    world.receiver.script = [Answer(500)]
    delivery_id = world.delivery().id
    with world.engine.begin() as conn:
        manage.redeliver(conn, shop_id=world.shop_id, delivery_id=delivery_id, now=world.now)
    await world.run_due()
    d = world.delivery()
    assert (d.status, d.attempts, d.last_status_code) == ("succeeded", 2, 500)
    assert queued(world.engine) == []


async def test_410_disables_the_endpoint_and_cancels_what_was_still_pending(world: World) -> None:
    world.receiver.script = [Answer(410, b"gone")]
    _fan_out(world, "aftersale.created", "aftersale.settled")
    assert await world.run_due() == 2  # the second finds its endpoint disabled and sends nothing
    assert len(world.receiver.received) == 1
    first, second = world.delivery(), world.delivery(world.delivery().id + 1)
    assert (first.status, first.last_status_code, first.attempts) == ("failed", 410, 1)
    assert (second.status, second.attempts, second.last_error) == \
        ("cancelled", 0, f"endpoint disabled: the endpoint answered 410 Gone at "
                         f"{world.now.strftime('%Y-%m-%dT%H:%M:%S')}.000Z")
    endpoint = world.endpoint()
    assert (endpoint.enabled, endpoint.disabled_at) == (False, world.now)
    assert endpoint.disabled_reason.startswith("the endpoint answered 410 Gone at ")
    assert queued(world.engine) == []
    add_events(world.engine, world.shop_id, "aftersale.status_changed")
    world.webhooks.fan_out()
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.webhook_deliveries)).scalar_one() == 2
        with pytest.raises(RuleViolation, match="disabled"):
            manage.redeliver(conn, shop_id=world.shop_id, delivery_id=first.id, now=world.now)


async def test_a_timeout_is_an_attempt_without_a_status_and_is_retried(world: World) -> None:
    world.webhooks.settings = Settings(webhook_allow_private_targets=True, webhook_timeout_seconds=0.2)
    world.receiver.script = [Answer(200, delay=1.0)]
    _fan_out(world, "aftersale.created")
    await world.run_due()
    d = world.delivery()
    assert (d.status, d.last_status_code, d.last_error) == ("pending", None, "timed out after 0.2 s")
    assert world.log(d.id) == [(1, None, "timed out after 0.2 s", "automatic")]


async def test_a_target_refused_at_send_time_is_a_failed_attempt_and_nothing_is_sent(world: World) -> None:
    world.webhooks.settings = Settings(webhook_allow_private_targets=False)
    _fan_out(world, "aftersale.created")
    await world.run_due()
    d = world.delivery()
    assert (d.status, d.last_status_code, d.last_error) == \
        ("pending", None, "target refused: webhooks are sent over https only")
    assert world.receiver.received == []


async def test_the_response_kept_is_the_first_2_kb(world: World) -> None:
    world.receiver.script = [Answer(200, "响".encode() * 2000)]
    _fan_out(world, "aftersale.created")
    await world.run_due()
    with world.engine.connect() as conn:
        [kept] = conn.execute(sa.select(t.webhook_attempts.c.response_body)).scalars().all()
    assert kept.encode("utf-8", "replace")[:2046] == ("响".encode() * 2000)[:2046]
    assert len(kept.encode("utf-8")) <= 2048 + 3


async def test_the_running_service_fans_out_on_wake_and_the_worker_delivers(world: World) -> None:
    worker = Worker(world.engine, world.webhooks.handlers(), poll_seconds=0.01)
    stop = asyncio.Event()
    fan_out = asyncio.create_task(world.webhooks.run(stop))
    try:
        await asyncio.sleep(0)  # let run() start listening
        add_events(world.engine, world.shop_id, "aftersale.created")
        world.webhooks.wake()
        for _ in range(200):  # bounded: 2 s at most
            if queued(world.engine):
                break
            await asyncio.sleep(0.01)
        assert await worker.run_until_idle(timeout=10) == 1
    finally:
        stop.set()
        await asyncio.wait_for(fan_out, timeout=5)
    assert len(world.receiver.received) == 1 and world.delivery().status == "succeeded"



async def test_a_redirect_is_not_followed_and_counts_as_a_failed_attempt(world: World) -> None:
    world.receiver.script = [Answer(302, headers={"Location": "http://127.0.0.1:9/elsewhere"})]
    _fan_out(world, "aftersale.created")
    await world.run_due()
    d = world.delivery()
    assert (d.status, d.last_status_code, d.last_error) == ("pending", 302, "HTTP 302")
    assert len(world.receiver.received) == 1


async def test_a_refused_connection_is_logged_with_its_error_and_retried(world: World) -> None:
    closed = free_socket()
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    with world.engine.begin() as conn:
        manage.change_endpoint(conn, shop_id=world.shop_id, endpoint_id=world.endpoint_id, now=world.now,
                               url=f"http://127.0.0.1:{port}/hooks")
    _fan_out(world, "aftersale.created")
    await world.run_due()
    d = world.delivery()
    assert (d.status, d.last_status_code, d.attempts) == ("pending", None, 1)
    assert d.last_error.startswith("ConnectError: ")
    assert [(j["n"], j["run_at"]) for j in queued(world.engine)] == [(2, world.now + timedelta(seconds=5))]
