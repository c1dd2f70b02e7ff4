"""The Kdniao adapter and the sandbox's Kdniao twin, written apart, agree on the wire (in process, over ASGI).

Queries and subscriptions end to end for several couriers, every refusal the twin gives, transport
faults, and a twin's push parsed by the adapter.
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
from lanjie.carriers.kdniao import Kdniao
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus
from lanjie.sandbox import SandboxWorld, create_sandbox_app
from lanjie.sandbox.faults import FaultPlan
from lanjie.sandbox.kdniao import KdniaoTwin
from lanjie.sandbox.model import ForcedOutcome

from .sandbox_support import START_AT, capture_pushes, sandbox

BASE = "http://sandbox.test/kdniao"
CALLBACK = "https://lanjie.example/cb/kdniao/tok123"
CREDENTIALS: Mapping[str, str] = dict(KdniaoTwin.test_credentials)
HOUR = 3600


def _ack(request: httpx.Request) -> httpx.Response:
    ebid = CREDENTIALS["ebusiness_id"]
    return httpx.Response(200, json={"EBusinessID": ebid, "UpdateTime": "2025-03-01 10:00:00", "Success": True,
                                     "Reason": ""})


@asynccontextmanager
async def twin(credentials: Mapping[str, str] = CREDENTIALS,
               timeout: float = 5.0) -> AsyncIterator[tuple[Kdniao, SandboxWorld, list[httpx.Request]]]:
    async with sandbox(timeout) as (world, client):
        account = CarrierAccount("kdniao", credentials, {"api": BASE})
        # Pushes land in the list yielded last, acknowledged.
        yield Kdniao(account, client, clock=lambda: START_AT), world, capture_pushes(world, _ack)


@pytest.mark.parametrize(("courier", "waybill_no", "phone"), [
    ("zto", "7300000000001", ""),
    ("yunda", "3120000000001", ""),
    ("sf", "SF1000000000001", "13800138000"),
    ("jtexpress", "JT0000000000001", ""),
])
@pytest.mark.anyio
async def test_the_twins_trace_parses_with_known_codes(courier: str, waybill_no: str, phone: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code=courier, waybill_no=waybill_no, stage=TrackingStatus.out_for_delivery)
        snapshot = await carrier.query_tracking(courier, waybill_no, phone)

    assert (snapshot.carrier_code, snapshot.waybill_no, snapshot.status) == (
        courier, waybill_no, TrackingStatus.out_for_delivery)
    assert snapshot.events[0].at == START_AT
    assert [(e.code, e.status) for e in snapshot.events][-3:] == [
        ("2", TrackingStatus.in_transit), ("1", TrackingStatus.picked_up), ("10", TrackingStatus.created)]
    assert list(snapshot.events) == sorted(snapshot.events, key=lambda e: e.at, reverse=True)
    assert caplog.records == []


@pytest.mark.anyio
async def test_an_intercepted_parcel_reads_as_returning_then_returned() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="zto", waybill_no="7300000000002", stage=TrackingStatus.in_transit)
        world.request_intercept(carrier_code="zto", waybill_no="7300000000002",
                                intercept_type=InterceptType.return_to_sender, report_to={"protocol": "none"})
        world.force_outcome("7300000000002", ForcedOutcome.succeed)
        turned = await carrier.query_tracking("zto", "7300000000002")
        await world.advance(48 * HOUR)
        back = await carrier.query_tracking("zto", "7300000000002")

    assert (turned.events[0].code, turned.status) == ("413", TrackingStatus.returning)
    assert (back.events[0].code, back.status) == ("406", TrackingStatus.returned)


@pytest.mark.anyio
async def test_a_waybill_the_twin_has_no_trace_for_is_an_empty_trace() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="yunda", waybill_no="3120000000002", stage=TrackingStatus.in_transit)
        unknown = await carrier.query_tracking("zto", "7399999999999")
        other_courier = await carrier.query_tracking("zto", "3120000000002")

    for number, snapshot in (("7399999999999", unknown), ("3120000000002", other_courier)):
        assert (snapshot.carrier_code, snapshot.waybill_no, snapshot.status, snapshot.events) == (
            "zto", number, TrackingStatus.created, ())
    assert [e.code for e in world.request_log] == ["404", "404"]


@pytest.mark.anyio
async def test_a_subscription_brings_a_signed_push_the_adapter_accepts() -> None:
    async with twin() as (carrier, world, pushed):
        world.create_parcel(carrier_code="zto", waybill_no="7300000000003", stage=TrackingStatus.in_transit)
        await carrier.subscribe(Subscription("zto", "7300000000003", CALLBACK))
        await carrier.subscribe(Subscription("zto", "7300000000003", CALLBACK))  # 403: harmless
        await world.settle()
        queried = await carrier.query_tracking("zto", "7300000000003")
        [request] = pushed
        push = carrier.parse_push(request.content, request.headers["content-type"], dict(request.headers))

    assert str(request.url) == CALLBACK
    assert [e.code for e in world.request_log] == ["100", "403", "100"]
    assert push.tracking == queried
    assert push.ack_body == (b'{"EBusinessID":"1700001","UpdateTime":"2025-03-01 10:00:00","Success":true,'
                             b'"Reason":""}')


@pytest.mark.anyio
async def test_a_console_push_url_wins_over_the_callback() -> None:
    async with twin() as (carrier, world, pushed):
        world.twins["kdniao"].register_account({**CREDENTIALS, "push_url": "https://console.example/kdniao"})
        world.create_parcel(carrier_code="sto", waybill_no="7700000000001", stage=TrackingStatus.picked_up)
        await carrier.subscribe(Subscription("sto", "7700000000001", CALLBACK))
        await world.settle()
        [request] = pushed
        push = carrier.parse_push(request.content, request.headers["content-type"])

    assert str(request.url) == "https://console.example/kdniao"
    assert push.tracking is not None and push.tracking.carrier_code == "sto"


@pytest.mark.anyio
async def test_a_push_for_another_account_fails_verification() -> None:
    other_credentials = {"ebusiness_id": "1700002", "app_key": "another-app-key"}
    async with twin() as (carrier, world, pushed):
        world.twins["kdniao"].register_account(other_credentials)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_sandbox_app(world))) as client:
            other = Kdniao(CarrierAccount("kdniao", other_credentials, {"api": BASE}), client)
            world.create_parcel(carrier_code="zto", waybill_no="7300000000004", stage=TrackingStatus.in_transit)
            await other.subscribe(Subscription("zto", "7300000000004", CALLBACK))
            await world.settle()
        [request] = pushed

    with pytest.raises(SignatureInvalid):
        carrier.parse_push(request.content, request.headers["content-type"])


@pytest.mark.parametrize(("credentials", "code", "reason"), [
    ({**CREDENTIALS, "app_key": "WRONG"}, "102", InterceptReason.auth_failed),
    ({**CREDENTIALS, "ebusiness_id": "9999999"}, "104", InterceptReason.auth_failed),
    ({"ebusiness_id": "1700009", "app_key": "expired-key"}, "104", InterceptReason.auth_failed),
])
@pytest.mark.anyio
async def test_bad_credentials_are_auth_failed(credentials: dict[str, str], code: str, reason: str) -> None:
    async with twin(credentials) as (carrier, world, _):
        world.twins["kdniao"].register_account({"ebusiness_id": "1700009", "app_key": "expired-key"}, expired=True)
        with pytest.raises(CarrierRejected) as query:
            await carrier.query_tracking("zto", "7300000000005")
        with pytest.raises(CarrierRejected) as subscribe:
            await carrier.subscribe(Subscription("zto", "7300000000005", CALLBACK))

    for caught in (query, subscribe):
        assert (caught.value.code, caught.value.reason) == (code, reason)


@pytest.mark.anyio
async def test_missing_fields_and_the_sf_phone_rule_are_refused_with_their_codes() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="shunfeng", waybill_no="SF1000000000002", stage=TrackingStatus.in_transit)
        with pytest.raises(CarrierRejected) as no_number:
            await carrier.query_tracking("zto", "")
        with pytest.raises(CarrierRejected) as no_callback:
            await carrier.subscribe(Subscription("zto", "7300000000006", "not a url"))
        with pytest.raises(CarrierRejected) as no_phone:
            await carrier.query_tracking("sf", "SF1000000000002")

    assert (no_number.value.code, no_number.value.reason, no_number.value.message) == (
        "101", InterceptReason.carrier_error, "缺少必要参数 LogisticCode")
    assert (no_callback.value.code, no_callback.value.reason) == ("101", InterceptReason.carrier_error)
    assert (no_phone.value.code, no_phone.value.reason) == ("405", InterceptReason.carrier_error)


@pytest.mark.anyio
async def test_a_courier_kdniao_has_no_code_for_is_refused_before_any_call() -> None:
    async with twin() as (carrier, world, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("youzhengguonei", "1100000000001", CALLBACK))

    assert (caught.value.code, caught.value.reason) == ("courier", InterceptReason.not_supported)
    assert (world.request_log, carrier.exchanges) == ([], [])


@pytest.mark.anyio
async def test_beyond_the_rate_limit_the_twin_answers_rate_limited() -> None:
    async with twin() as (carrier, world, _):
        world.faults.set_plan(FaultPlan.model_validate({"channels": {"subscribe": {"rate_limit_per_second": 1}}}))
        await carrier.subscribe(Subscription("zto", "7300000000007", CALLBACK))
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("zto", "7300000000008", CALLBACK))

    assert (caught.value.code, caught.value.reason) == ("401", InterceptReason.rate_limited)


@pytest.mark.anyio
async def test_a_5xx_is_unavailable_and_a_held_answer_is_a_timeout() -> None:
    async with twin(timeout=0.05) as (carrier, world, _):
        world.faults.set_plan(FaultPlan.model_validate({"channels": {
            "query": {"error_rate": 1.0}, "subscribe": {"timeout_rate": 1.0, "timeout_seconds": 0.5}}}))
        with pytest.raises(CarrierUnavailable) as failed:
            await carrier.query_tracking("zto", "7300000000009")
        with pytest.raises(CarrierTimeout):
            await carrier.subscribe(Subscription("zto", "7300000000009", CALLBACK))
        subscriptions = dict(world.twins["kdniao"].subscriptions)

    assert not isinstance(failed.value, CarrierTimeout)
    assert [e.status_code for e in carrier.exchanges] == [world.request_log[0].http_status, None]
    assert list(subscriptions) == [("1700001", "7300000000009")]  # the held request did take effect


@pytest.mark.anyio
async def test_intercepts_are_not_supported_and_never_reach_the_twin() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="zto", waybill_no="7300000000010", stage=TrackingStatus.in_transit)
        with pytest.raises(NotSupported, match="kuaidi100"):
            await carrier.intercept(InterceptRequest("ic_1", "zto", "7300000000010",
                                                     InterceptType.return_to_sender, CALLBACK))

    assert (world.request_log, world.parcels["7300000000010"].intercept) == ([], None)
