"""The adapter and the sandbox's Kuaidi100 twin, written apart, agree on the wire (in process, over ASGI).

Only the synchronous calls are exercised here; the twin's pushes are covered by the sandbox's tests
and the end-to-end suite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest

from lanjie.carriers.base import CarrierAccount, InterceptAck, InterceptRequest, Subscription
from lanjie.carriers.errors import CarrierRejected
from lanjie.carriers.kuaidi100 import Kuaidi100
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus
from lanjie.sandbox import SandboxConfig, SandboxWorld, create_sandbox_app
from lanjie.sandbox.model import ForcedOutcome

START_AT = datetime(2025, 3, 1, 2, 0, 0, tzinfo=UTC)
BASE = "http://sandbox.test/kuaidi100"
CALLBACK = "https://lanjie.example/cb/k100/tok123"
CREDENTIALS = {"key": "SANDBOXKEY", "customer": "SANDBOXCUSTOMER", "secret": "SANDBOXSECRET",
               "salt": "sa1tForPushes2024xyz"}


@asynccontextmanager
async def twin(credentials: dict[str, str] = CREDENTIALS) -> AsyncIterator[tuple[Kuaidi100, SandboxWorld]]:
    # time_factor 0: the sandbox clock moves only when told, so nothing is pushed during the test.
    world = SandboxWorld(SandboxConfig(time_factor=0.0, ack_latency_ms=0, start_at=START_AT, seed=7))
    transport = httpx.ASGITransport(app=create_sandbox_app(world))
    account = CarrierAccount("kuaidi100", credentials, {"api": BASE, "poll": BASE})
    try:
        async with httpx.AsyncClient(transport=transport) as client:
            yield Kuaidi100(account, client, clock=lambda: START_AT), world
    finally:
        await world.stop()


def _request(waybill_no: str) -> InterceptRequest:
    return InterceptRequest("ic_1", "zto", waybill_no, InterceptType.return_to_sender, CALLBACK,
                            reason="仅退款")


@pytest.mark.anyio
async def test_the_twin_accepts_a_signed_intercept_and_answers_a_repeat_as_already_intercepted() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="zto", waybill_no="7300000000001", stage=TrackingStatus.in_transit)
        first = await carrier.intercept(_request("7300000000001"))
        again = await carrier.intercept(_request("7300000000001"))

    assert (first.accepted, first.duplicate, first.reason) == (True, False, None)
    assert first.task_id
    assert again == InterceptAck(accepted=True, task_id=first.task_id, message=again.message,
                                 reason=InterceptReason.already_intercepted, duplicate=True)


@pytest.mark.anyio
async def test_a_retry_after_a_failed_intercept_is_refused_as_already_intercepted() -> None:
    async with twin() as (carrier, world):
        # The failure's result callback goes to a stand-in for lanjie, never to the network.
        world._http = httpx.AsyncClient(transport=httpx.MockTransport(
            lambda _: httpx.Response(200, json={"result": True, "returnCode": "200", "message": "成功"})))
        world.create_parcel(carrier_code="zto", waybill_no="7300000000007", stage=TrackingStatus.in_transit)
        first = await carrier.intercept(_request("7300000000007"))
        world.force_outcome("7300000000007", ForcedOutcome.fail)
        again = await carrier.intercept(_request("7300000000007"))
        await world.settle()

    assert first.accepted
    assert again == InterceptAck(accepted=False, task_id=None, reason=InterceptReason.already_intercepted,
                                 message="该单号已拦截过，不可重复拦截")


@pytest.mark.anyio
async def test_the_twin_refuses_a_delivered_parcel_with_a_code_the_adapter_knows(
        caplog: pytest.LogCaptureFixture) -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="zto", waybill_no="7300000000002", stage=TrackingStatus.delivered)
        ack = await carrier.intercept(_request("7300000000002"))

    assert (ack.accepted, ack.reason) == (False, InterceptReason.already_delivered)
    assert caplog.records == []  # no unknown code


@pytest.mark.anyio
async def test_a_wrong_secret_is_auth_failed() -> None:
    async with twin({**CREDENTIALS, "secret": "WRONG"}) as (carrier, world):
        world.create_parcel(carrier_code="zto", waybill_no="7300000000003", stage=TrackingStatus.in_transit)
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(_request("7300000000003"))

    assert (caught.value.code, caught.value.reason) == ("403", InterceptReason.auth_failed)


@pytest.mark.anyio
async def test_the_twins_trace_parses_with_known_codes(caplog: pytest.LogCaptureFixture) -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="zto", waybill_no="7300000000004",
                            stage=TrackingStatus.out_for_delivery)
        snapshot = await carrier.query_tracking("zto", "7300000000004")

    assert (snapshot.carrier_code, snapshot.waybill_no, snapshot.status) == (
        "zto", "7300000000004", TrackingStatus.out_for_delivery)
    assert snapshot.events[0].at == START_AT
    assert [e.status for e in snapshot.events][-2:] == [TrackingStatus.picked_up, TrackingStatus.created]
    assert list(snapshot.events) == sorted(snapshot.events, key=lambda e: e.at, reverse=True)
    assert caplog.records == []


@pytest.mark.anyio
async def test_a_waybill_the_twin_does_not_know_is_an_empty_trace() -> None:
    async with twin() as (carrier, _):
        snapshot = await carrier.query_tracking("zto", "7399999999999")

    assert (snapshot.status, snapshot.events) == (TrackingStatus.created, ())


@pytest.mark.anyio
async def test_the_twin_takes_a_subscription_and_a_repeat_of_it() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="zto", waybill_no="7300000000005", stage=TrackingStatus.in_transit)
        await carrier.subscribe(Subscription("zto", "7300000000005", CALLBACK))
        await carrier.subscribe(Subscription("zto", "7300000000005", CALLBACK))

    assert [e.status_code for e in carrier.exchanges] == [200, 200]


@pytest.mark.anyio
async def test_the_twin_refuses_an_unknown_key_as_auth_failed() -> None:
    async with twin({**CREDENTIALS, "key": "NOSUCHKEY"}) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("zto", "7300000000006", CALLBACK))

    assert caught.value.reason == InterceptReason.auth_failed
