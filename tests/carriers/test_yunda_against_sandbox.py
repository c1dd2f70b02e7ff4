"""The Yunda adapter and the sandbox's Yunda twin, written apart, agree on the wire (in process, over ASGI).

Queries and subscriptions end to end, every refusal the twin gives, transport faults, and a twin's
push parsed by the adapter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
import pytest

from lanjie.carriers.base import CarrierAccount, InterceptRequest, Subscription
from lanjie.carriers.errors import (
    CarrierRejected,
    CarrierTimeout,
    CarrierUnavailable,
    NotSupported,
    SignatureInvalid,
)
from lanjie.carriers.yunda import Yunda
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus
from lanjie.sandbox import SandboxWorld, create_sandbox_app
from lanjie.sandbox.faults import FaultPlan
from lanjie.sandbox.model import ForcedOutcome
from lanjie.sandbox.yunda import YundaTwin

from .sandbox_support import START_AT, capture_pushes, sandbox

BASE = "http://sandbox.test/yunda"
CALLBACK = "https://lanjie.example/cb/yunda/tok123"
CREDENTIALS: Mapping[str, str] = dict(YundaTwin.test_credentials)
HOUR = 3600


def _ack(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content='{"result":true,"code":"0000","message":"成功"}'.encode())


@asynccontextmanager
async def twin(credentials: Mapping[str, str] = CREDENTIALS,
               timeout: float = 5.0) -> AsyncIterator[tuple[Yunda, SandboxWorld, list[httpx.Request]]]:
    async with sandbox(timeout) as (world, client):
        account = CarrierAccount("yunda", credentials, {"api": BASE})
        # Pushes land in the list yielded last, acknowledged.
        yield Yunda(account, client, clock=lambda: START_AT), world, capture_pushes(world, _ack)


@pytest.mark.anyio
async def test_the_twins_trace_parses_with_known_actions(caplog: pytest.LogCaptureFixture) -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="yunda", waybill_no="3120000000001", stage=TrackingStatus.out_for_delivery)
        snapshot = await carrier.query_tracking("yunda", "3120000000001")

    assert (snapshot.carrier_code, snapshot.waybill_no, snapshot.status) == (
        "yunda", "3120000000001", TrackingStatus.out_for_delivery)
    assert snapshot.events[0].at == START_AT
    assert [e.code for e in snapshot.events][-2:] == ["GOT", "ACCEPT"]
    assert [e.status for e in snapshot.events][-2:] == [TrackingStatus.picked_up, TrackingStatus.created]
    assert list(snapshot.events) == sorted(snapshot.events, key=lambda e: e.at, reverse=True)
    assert caplog.records == []


@pytest.mark.anyio
async def test_a_parcel_turned_back_and_signed_by_its_sender_reads_as_returned() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="yunda", waybill_no="3120000000002", stage=TrackingStatus.in_transit)
        world.request_intercept(carrier_code="yunda", waybill_no="3120000000002",
                                intercept_type=InterceptType.return_to_sender, report_to={"protocol": "kuaidi100x"})
        world.force_outcome("3120000000002", ForcedOutcome.succeed)
        await world.advance(48 * HOUR)
        snapshot = await carrier.query_tracking("yunda", "3120000000002")

    codes = [(e.code, e.status) for e in snapshot.events]
    assert codes[0] == ("SIGNED", TrackingStatus.returned)
    assert ("RETURN", TrackingStatus.returning) in codes
    assert codes[-2:] == [("GOT", TrackingStatus.picked_up), ("ACCEPT", TrackingStatus.created)]


@pytest.mark.anyio
async def test_a_waybill_the_twin_has_no_trace_for_is_an_empty_trace() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="zto", waybill_no="7300000000001", stage=TrackingStatus.in_transit)
        unknown = await carrier.query_tracking("yunda", "3129999999999")
        other_courier = await carrier.query_tracking("yunda", "7300000000001")

    for number, snapshot in (("3129999999999", unknown), ("7300000000001", other_courier)):
        assert (snapshot.waybill_no, snapshot.status, snapshot.events) == (number, TrackingStatus.created, ())
    assert [e.code for e in world.request_log] == ["2001", "2001"]


@pytest.mark.anyio
async def test_a_subscription_brings_a_signed_push_the_adapter_accepts() -> None:
    async with twin() as (carrier, world, pushed):
        world.create_parcel(carrier_code="yunda", waybill_no="3120000000003", stage=TrackingStatus.in_transit)
        await carrier.subscribe(Subscription("yunda", "3120000000003", CALLBACK))
        await carrier.subscribe(Subscription("yunda", "3120000000003", CALLBACK))  # 2002: harmless
        await world.settle()
        queried = await carrier.query_tracking("yunda", "3120000000003")
        [request] = pushed
        push = carrier.parse_push(request.content, request.headers["content-type"], dict(request.headers))

    assert str(request.url) == CALLBACK
    assert [e.code for e in world.request_log] == ["0000", "2002", "0000"]
    assert push.tracking == queried
    assert push.ack_body == '{"result":true,"code":"0000","message":"成功"}'.encode()


@pytest.mark.anyio
async def test_a_push_for_another_account_fails_verification() -> None:
    async with twin() as (carrier, world, pushed):
        world.twins["yunda"].register_account({"app_key": "OTHER", "app_secret": "other-secret"})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_sandbox_app(world))) as client:
            other = Yunda(CarrierAccount("yunda", {"app_key": "OTHER", "app_secret": "other-secret"},
                                         {"api": BASE}), client)
            world.create_parcel(carrier_code="yunda", waybill_no="3120000000004", stage=TrackingStatus.in_transit)
            await other.subscribe(Subscription("yunda", "3120000000004", CALLBACK))
            await world.settle()
        [request] = pushed

    assert request.headers["app-key"] == "OTHER"
    with pytest.raises(SignatureInvalid):
        carrier.parse_push(request.content, request.headers["content-type"], dict(request.headers))


@pytest.mark.parametrize(("credentials", "code"), [
    ({**CREDENTIALS, "app_secret": "WRONG"}, "1002"),
    ({**CREDENTIALS, "app_key": "NOSUCHKEY"}, "1003"),
    ({"app_key": "EXPIRED", "app_secret": "expired-secret"}, "1003"),
])
@pytest.mark.anyio
async def test_bad_credentials_are_auth_failed(credentials: dict[str, str], code: str) -> None:
    async with twin(credentials) as (carrier, world, _):
        world.twins["yunda"].register_account({"app_key": "EXPIRED", "app_secret": "expired-secret"}, expired=True)
        with pytest.raises(CarrierRejected) as query:
            await carrier.query_tracking("yunda", "3120000000005")
        with pytest.raises(CarrierRejected) as subscribe:
            await carrier.subscribe(Subscription("yunda", "3120000000005", CALLBACK))

    for caught in (query, subscribe):
        assert (caught.value.code, caught.value.reason) == (code, InterceptReason.auth_failed)


@pytest.mark.anyio
async def test_a_missing_field_is_a_carrier_error_naming_it() -> None:
    async with twin() as (carrier, _, _):
        with pytest.raises(CarrierRejected) as query:
            await carrier.query_tracking("yunda", "")
        with pytest.raises(CarrierRejected) as subscribe:
            await carrier.subscribe(Subscription("yunda", "3120000000006", ""))

    assert (query.value.code, query.value.reason, query.value.message) == (
        "1001", InterceptReason.carrier_error, "缺少参数 mailno")
    assert (subscribe.value.code, subscribe.value.message) == ("1001", "缺少参数 callback_url")


@pytest.mark.anyio
async def test_beyond_the_rate_limit_the_twin_answers_rate_limited() -> None:
    async with twin() as (carrier, world, _):
        world.faults.set_plan(FaultPlan.model_validate({"channels": {"query": {"rate_limit_per_second": 1}}}))
        world.create_parcel(carrier_code="yunda", waybill_no="3120000000007", stage=TrackingStatus.in_transit)
        await carrier.query_tracking("yunda", "3120000000007")
        with pytest.raises(CarrierRejected) as caught:
            await carrier.query_tracking("yunda", "3120000000007")

    assert (caught.value.code, caught.value.reason) == ("1004", InterceptReason.rate_limited)


@pytest.mark.anyio
async def test_a_5xx_is_unavailable_and_a_held_answer_is_a_timeout() -> None:
    async with twin(timeout=0.05) as (carrier, world, _):
        world.faults.set_plan(FaultPlan.model_validate({"channels": {
            "subscribe": {"error_rate": 1.0}, "query": {"timeout_rate": 1.0, "timeout_seconds": 0.5}}}))
        with pytest.raises(CarrierUnavailable) as failed:
            await carrier.subscribe(Subscription("yunda", "3120000000008", CALLBACK))
        with pytest.raises(CarrierTimeout):
            await carrier.query_tracking("yunda", "3120000000008")

    assert not isinstance(failed.value, CarrierTimeout)
    assert [e.status_code for e in carrier.exchanges] == [world.request_log[0].http_status, None]


@pytest.mark.anyio
async def test_intercepts_are_not_supported_and_never_reach_the_twin() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="yunda", waybill_no="3120000000009", stage=TrackingStatus.in_transit)
        with pytest.raises(NotSupported, match="kuaidi100"):
            await carrier.intercept(InterceptRequest("ic_1", "yunda", "3120000000009",
                                                     InterceptType.return_to_sender, CALLBACK))

    assert (world.request_log, world.parcels["3120000000009"].intercept) == ([], None)
