"""The STO adapter and the sandbox's STO twin, written apart, agree on the wire (in process, over ASGI)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
import pytest

from lanjie.carriers.base import CarrierAccount, Subscription
from lanjie.carriers.errors import CarrierRejected, CarrierTimeout, CarrierUnavailable, NotSupported
from lanjie.carriers.sto import STO
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus
from lanjie.sandbox import SandboxWorld
from lanjie.sandbox.faults import FaultPlan, FaultSettings
from lanjie.sandbox.model import Channel

from .sandbox_support import START_AT, channel_faults, sandbox

BASE = "http://sandbox.test/sto"
CALLBACK = "https://lanjie.example/cb/sto/tok123"
# The twin's default test account (STOTwin.test_credentials), written out: the adapter must not need the twin.
CREDENTIALS = {"from_appkey": "STO_SANDBOX_APPKEY", "from_code": "STO_SANDBOX_CODE",
               "secret_key": "STO_SANDBOX_SECRETKEY"}
HOUR = 3600.0


@asynccontextmanager
async def twin(credentials: Mapping[str, str] = CREDENTIALS,
               timeout: float = 5.0) -> AsyncIterator[tuple[STO, SandboxWorld, httpx.AsyncClient]]:
    async with sandbox(timeout) as (world, client):
        account = CarrierAccount("sto", credentials, {"api": BASE})
        yield STO(account, client), world, client


@pytest.mark.anyio
async def test_the_twins_trace_parses_with_known_scan_types_newest_first(caplog: pytest.LogCaptureFixture) -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="sto", waybill_no="ST7700000001", stage=TrackingStatus.out_for_delivery)
        snapshot = await carrier.query_tracking("sto", "ST7700000001")

    assert (snapshot.carrier_code, snapshot.waybill_no, snapshot.status, snapshot.incremental) == (
        "sto", "ST7700000001", TrackingStatus.out_for_delivery, False)
    assert snapshot.events[0].at == START_AT
    assert [e.code for e in snapshot.events][:2] == ["派件", "到件"]
    assert (snapshot.events[-1].code, snapshot.events[-1].status) == ("收件", TrackingStatus.picked_up)
    assert list(snapshot.events) == sorted(snapshot.events, key=lambda e: e.at, reverse=True)
    assert caplog.records == []


@pytest.mark.anyio
@pytest.mark.parametrize(("stage", "status"), [
    (TrackingStatus.created, TrackingStatus.created),  # the label-printed scan is not in STO's trace
    (TrackingStatus.picked_up, TrackingStatus.picked_up),
    (TrackingStatus.at_destination, TrackingStatus.in_transit),  # 到件 cannot tell a hub from the outlet
    (TrackingStatus.delivered, TrackingStatus.delivered),
])
async def test_each_stage_reads_back_as_its_status(stage: TrackingStatus, status: TrackingStatus) -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="sto", waybill_no="ST7700000002", stage=stage)
        snapshot = await carrier.query_tracking("sto", "ST7700000002")

    assert snapshot.status is status


@pytest.mark.anyio
async def test_a_turned_back_parcel_reads_as_returning_then_returned() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="sto", waybill_no="ST7700000003", stage=TrackingStatus.in_transit)
        world.request_intercept(carrier_code="sto", waybill_no="ST7700000003",
                                intercept_type=InterceptType.return_to_sender, report_to={"protocol": "nobody"})
        await world.advance(4 * HOUR)
        returning = await carrier.query_tracking("sto", "ST7700000003")
        await world.advance(60 * HOUR)
        returned = await carrier.query_tracking("sto", "ST7700000003")

    assert (returning.status, returning.events[0].code) == (TrackingStatus.returning, "退回")
    assert (returned.status, returned.events[0].code) == (TrackingStatus.returned, "退回签收")


@pytest.mark.anyio
@pytest.mark.parametrize("waybill_no", ["ST7799999999", "ZT7700000004"])
async def test_a_waybill_sto_does_not_know_is_an_empty_trace(waybill_no: str) -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="zto", waybill_no="ZT7700000004", stage=TrackingStatus.in_transit)
        snapshot = await carrier.query_tracking("sto", waybill_no)

    assert (snapshot.status, snapshot.events) == (TrackingStatus.created, ())
    assert world.request_log[-1].code == "B01"


@pytest.mark.anyio
async def test_the_twin_takes_a_subscription_and_a_repeat_of_it() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="sto", waybill_no="ST7700000005", stage=TrackingStatus.in_transit)
        await carrier.subscribe(Subscription("sto", "ST7700000005", CALLBACK))
        await carrier.subscribe(Subscription("sto", "ST7700000005", CALLBACK + "/new"))
        subscription = world.twins["sto"].subscriptions[("STO_SANDBOX_APPKEY", "ST7700000005")]

    assert [e.status_code for e in carrier.exchanges] == [200, 200]
    assert subscription.push_url == CALLBACK + "/new"
    assert [(entry.channel, entry.method, entry.code) for entry in world.request_log] == [
        (Channel.subscribe, "STO_TRACE_PLATFORM_SUBSCRIBE", "success")] * 2


@pytest.mark.anyio
async def test_another_carriers_waybill_cannot_be_subscribed() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="zto", waybill_no="ZT7700000006", stage=TrackingStatus.in_transit)
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("sto", "ZT7700000006", CALLBACK))

    assert (caught.value.code, caught.value.reason) == ("B01", InterceptReason.carrier_error)


@pytest.mark.anyio
@pytest.mark.parametrize(("credentials", "code"), [
    ({**CREDENTIALS, "secret_key": "WRONG"}, "S01"),  # bad digest
    ({**CREDENTIALS, "from_appkey": "NOSUCHAPP"}, "S03"),
    ({**CREDENTIALS, "from_code": "NOT_MINE"}, "S03"),
])
async def test_bad_credentials_are_auth_failed(credentials: dict[str, str], code: str) -> None:
    async with twin(credentials) as (carrier, _, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("sto", "ST7700000007", CALLBACK))

    assert (caught.value.code, caught.value.reason) == (code, InterceptReason.auth_failed)


@pytest.mark.anyio
async def test_an_expired_account_is_auth_failed() -> None:
    expired = {"from_appkey": "OLDAPP", "from_code": "OLD", "secret_key": "OLDSECRET"}
    async with twin(expired) as (carrier, world, _):
        world.twins["sto"].register_account(expired, expired=True)
        with pytest.raises(CarrierRejected) as caught:
            await carrier.query_tracking("sto", "ST7700000008")

    assert (caught.value.code, caught.value.reason) == ("S03", InterceptReason.auth_failed)


@pytest.mark.anyio
async def test_a_subscription_without_a_push_url_is_a_bad_field() -> None:
    async with twin() as (carrier, _, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("sto", "ST7700000009", ""))

    assert (caught.value.code, caught.value.message, caught.value.reason) == (
        "S02", "callbackUrl 不是 http(s) 地址", InterceptReason.carrier_error)


@pytest.mark.anyio
@pytest.mark.parametrize(("channel", "call"), [(Channel.subscribe, "subscribe"), (Channel.query, "query")])
async def test_the_rate_limit_fault_is_s05_rate_limited(channel: Channel, call: str) -> None:
    async with twin() as (carrier, world, _):
        world.faults.set_plan(channel_faults(channel, rate_limit_per_second=1))

        async def once() -> None:
            if call == "subscribe":
                await carrier.subscribe(Subscription("sto", "ST7700000010", CALLBACK))
            else:
                await carrier.query_tracking("sto", "ST7700000010")

        await once()
        with pytest.raises(CarrierRejected) as caught:
            await once()

    assert (caught.value.code, caught.value.reason) == ("S05", InterceptReason.rate_limited)


@pytest.mark.anyio
async def test_faults_of_one_api_do_not_touch_the_other() -> None:
    async with twin() as (carrier, world, _):
        world.faults.set_plan(channel_faults(Channel.query, error_rate=1.0))
        await carrier.subscribe(Subscription("sto", "ST7700000011", CALLBACK))
        with pytest.raises(CarrierUnavailable):
            await carrier.query_tracking("sto", "ST7700000011")

    assert [(entry.channel, entry.http_status) for entry in world.request_log] == [
        (Channel.subscribe, 200), (Channel.query, world.request_log[-1].http_status)]
    assert world.request_log[-1].http_status in (500, 502)


@pytest.mark.anyio
async def test_an_injected_5xx_is_unavailable_and_does_nothing() -> None:
    async with twin() as (carrier, world, _):
        world.faults.set_plan(FaultPlan(default=FaultSettings(error_rate=1.0)))
        with pytest.raises(CarrierUnavailable) as caught:
            await carrier.subscribe(Subscription("sto", "ST7700000012", CALLBACK))

    assert type(caught.value) is CarrierUnavailable
    assert world.twins["sto"].subscriptions == {}


@pytest.mark.anyio
async def test_a_held_answer_is_a_timeout_whose_effect_happened() -> None:
    async with twin(timeout=0.05) as (carrier, world, _):
        world.faults.set_plan(channel_faults(Channel.subscribe, timeout_rate=1.0, timeout_seconds=0.5))
        with pytest.raises(CarrierTimeout):
            await carrier.subscribe(Subscription("sto", "ST7700000013", CALLBACK))

        assert ("STO_SANDBOX_APPKEY", "ST7700000013") in world.twins["sto"].subscriptions
        assert carrier.exchanges[-1].error.startswith("ReadTimeout")


@pytest.mark.anyio
async def test_intercepts_are_not_asked_of_the_twin() -> None:
    async with twin() as (carrier, world, _):
        with pytest.raises(NotSupported, match="kuaidi100"):
            await carrier.intercept()

    assert world.request_log == []
