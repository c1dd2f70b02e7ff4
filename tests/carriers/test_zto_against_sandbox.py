"""The ZTO adapter and the sandbox's ZTO twin, written apart, agree on the wire (in process, over ASGI)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
import pytest

from lanjie.carriers.base import CarrierAccount, Subscription
from lanjie.carriers.errors import CarrierRejected, CarrierTimeout, CarrierUnavailable, NotSupported
from lanjie.carriers.zto import ZTO
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus
from lanjie.sandbox import SandboxWorld
from lanjie.sandbox.faults import FaultPlan, FaultSettings
from lanjie.sandbox.model import Channel

from .sandbox_support import START_AT, channel_faults, sandbox

BASE = "http://sandbox.test/zto"
CALLBACK = "https://lanjie.example/cb/zto/tok123"
# The twin's default test account (ZTOTwin.test_credentials), written out: the adapter must not need the twin.
CREDENTIALS = {"app_key": "ZTO_SANDBOX_APPKEY", "app_secret": "ZTO_SANDBOX_APPSECRET"}
TAIL = "0000"
HOUR = 3600.0


@asynccontextmanager
async def twin(credentials: Mapping[str, str] = CREDENTIALS,
               timeout: float = 5.0) -> AsyncIterator[tuple[ZTO, SandboxWorld, httpx.AsyncClient]]:
    async with sandbox(timeout) as (world, client):
        account = CarrierAccount("zto", credentials, {"api": BASE})
        yield ZTO(account, client), world, client


@pytest.mark.anyio
async def test_the_twins_trace_parses_with_known_actions_newest_first(caplog: pytest.LogCaptureFixture) -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="zto", waybill_no="ZT7300000001", stage=TrackingStatus.out_for_delivery)
        snapshot = await carrier.query_tracking("zto", "ZT7300000001", TAIL)

    assert (snapshot.carrier_code, snapshot.waybill_no, snapshot.status, snapshot.incremental) == (
        "zto", "ZT7300000001", TrackingStatus.out_for_delivery, False)
    assert snapshot.events[0].at == START_AT
    assert [e.code for e in snapshot.events][:2] == ["DISPATCH", "ARRIVAL"]
    assert (snapshot.events[-1].code, snapshot.events[-1].status) == ("GOT", TrackingStatus.picked_up)
    assert list(snapshot.events) == sorted(snapshot.events, key=lambda e: e.at, reverse=True)
    assert caplog.records == []


@pytest.mark.anyio
@pytest.mark.parametrize(("stage", "status"), [
    (TrackingStatus.created, TrackingStatus.created),  # the label-printed scan is not in ZTO's trace
    (TrackingStatus.picked_up, TrackingStatus.picked_up),
    (TrackingStatus.at_destination, TrackingStatus.in_transit),  # ARRIVAL cannot tell a hub from the outlet
    (TrackingStatus.delivered, TrackingStatus.delivered),
])
async def test_each_stage_reads_back_as_its_status(stage: TrackingStatus, status: TrackingStatus) -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="zto", waybill_no="ZT7300000002", stage=stage)
        snapshot = await carrier.query_tracking("zto", "ZT7300000002", TAIL)

    assert snapshot.status is status


@pytest.mark.anyio
async def test_a_turned_back_parcel_reads_as_returning_then_returned() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="zto", waybill_no="ZT7300000003", stage=TrackingStatus.in_transit)
        world.request_intercept(carrier_code="zto", waybill_no="ZT7300000003",
                                intercept_type=InterceptType.return_to_sender, report_to={"protocol": "nobody"})
        await world.advance(4 * HOUR)
        returning = await carrier.query_tracking("zto", "ZT7300000003", TAIL)
        await world.advance(60 * HOUR)
        returned = await carrier.query_tracking("zto", "ZT7300000003", TAIL)

    assert (returning.status, returning.events[0].code) == (TrackingStatus.returning, "RETURN")
    assert (returned.status, returned.events[0].code) == (TrackingStatus.returned, "RETURN_SIGNED")


@pytest.mark.anyio
async def test_a_waybill_the_twin_does_not_know_is_an_empty_trace() -> None:
    async with twin() as (carrier, _, _):
        snapshot = await carrier.query_tracking("zto", "ZT7399999999", TAIL)

    assert (snapshot.status, snapshot.events) == (TrackingStatus.created, ())


@pytest.mark.anyio
async def test_the_twin_takes_a_subscription_and_a_repeat_of_it() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="zto", waybill_no="ZT7300000004", stage=TrackingStatus.in_transit)
        await carrier.subscribe(Subscription("zto", "ZT7300000004", CALLBACK, TAIL))
        await carrier.subscribe(Subscription("zto", "ZT7300000004", CALLBACK + "/new", TAIL))
        subscription = world.twins["zto"].subscriptions[("ZTO_SANDBOX_APPKEY", "ZT7300000004")]

    assert [e.status_code for e in carrier.exchanges] == [200, 200]
    assert subscription.push_url == CALLBACK + "/new"
    assert [(entry.method, entry.code) for entry in world.request_log] == [
        ("zto.merchant.waybill.track.subsrcibe", "SYS000"), ("zto.merchant.waybill.track.subsrcibe", "SYS000")]


@pytest.mark.anyio
@pytest.mark.parametrize(("credentials", "code"), [
    ({**CREDENTIALS, "app_secret": "WRONG"}, "S211"),  # bad signature
    ({**CREDENTIALS, "app_key": "NOSUCHAPP"}, "S210"),  # no permission
])
async def test_bad_credentials_are_auth_failed(credentials: dict[str, str], code: str) -> None:
    async with twin(credentials) as (carrier, world, _):
        world.create_parcel(carrier_code="zto", waybill_no="ZT7300000005", stage=TrackingStatus.in_transit)
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("zto", "ZT7300000005", CALLBACK, TAIL))

    assert (caught.value.code, caught.value.reason) == (code, InterceptReason.auth_failed)


@pytest.mark.anyio
async def test_an_expired_app_is_auth_failed() -> None:
    async with twin({"app_key": "OLDAPP", "app_secret": "OLDSECRET"}) as (carrier, world, _):
        world.twins["zto"].register_account({"app_key": "OLDAPP", "app_secret": "OLDSECRET"}, expired=True)
        with pytest.raises(CarrierRejected) as caught:
            await carrier.query_tracking("zto", "ZT7300000006", TAIL)

    assert (caught.value.code, caught.value.reason) == ("S210", InterceptReason.auth_failed)


@pytest.mark.anyio
@pytest.mark.parametrize("phone", ["", "12"])
async def test_a_query_without_a_phone_tail_is_auth_failed(phone: str) -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="zto", waybill_no="ZT7300000007", stage=TrackingStatus.in_transit)
        with pytest.raises(CarrierRejected) as caught:
            await carrier.query_tracking("zto", "ZT7300000007", phone)

    assert (caught.value.code, caught.value.reason) == ("E413", InterceptReason.auth_failed)


@pytest.mark.anyio
async def test_another_carriers_waybill_fails_zto_number_rules() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="sto", waybill_no="ST7300000008", stage=TrackingStatus.in_transit)
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("zto", "ST7300000008", CALLBACK, TAIL))

    assert (caught.value.code, caught.value.reason) == ("E416", InterceptReason.carrier_error)


@pytest.mark.anyio
async def test_a_subscription_without_a_push_url_is_a_missing_parameter() -> None:
    async with twin() as (carrier, _, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("zto", "ZT7300000009", "", TAIL))

    assert (caught.value.code, caught.value.message, caught.value.reason) == (
        "S208", "callbackUrl不能为空", InterceptReason.carrier_error)


@pytest.mark.anyio
async def test_an_api_the_twin_does_not_have_answers_s207() -> None:
    async with twin() as (_, _, client):
        body = b'{"billCode":"ZT7300000010"}'
        digest = base64.b64encode(hashlib.md5(body + b"ZTO_SANDBOX_APPSECRET").digest()).decode()
        response = await client.post(f"{BASE}/zto.open.intercept", content=body,
                                     headers={"x-appKey": "ZTO_SANDBOX_APPKEY", "x-dataDigest": digest})

    assert response.json() == {"result": None, "message": "API不存在", "status": False, "statusCode": "S207"}


@pytest.mark.anyio
@pytest.mark.parametrize(("channel", "call"), [(Channel.subscribe, "subscribe"), (Channel.query, "query")])
async def test_the_rate_limit_fault_is_s206_rate_limited(channel: Channel, call: str) -> None:
    async with twin() as (carrier, world, _):
        world.faults.set_plan(channel_faults(channel, rate_limit_per_second=1))

        async def once() -> None:
            if call == "subscribe":
                await carrier.subscribe(Subscription("zto", "ZT7300000011", CALLBACK, TAIL))
            else:
                await carrier.query_tracking("zto", "ZT7300000011", TAIL)

        await once()
        with pytest.raises(CarrierRejected) as caught:
            await once()

    assert (caught.value.code, caught.value.message, caught.value.reason) == (
        "S206", "api qos limit", InterceptReason.rate_limited)


@pytest.mark.anyio
async def test_an_injected_5xx_is_unavailable_and_does_nothing() -> None:
    async with twin() as (carrier, world, _):
        world.faults.set_plan(FaultPlan(default=FaultSettings(error_rate=1.0)))
        with pytest.raises(CarrierUnavailable) as caught:
            await carrier.subscribe(Subscription("zto", "ZT7300000012", CALLBACK, TAIL))

    assert type(caught.value) is CarrierUnavailable
    assert world.twins["zto"].subscriptions == {}


@pytest.mark.anyio
async def test_a_held_answer_is_a_timeout_whose_effect_happened() -> None:
    async with twin(timeout=0.05) as (carrier, world, _):
        world.faults.set_plan(channel_faults(Channel.subscribe, timeout_rate=1.0, timeout_seconds=0.5))
        with pytest.raises(CarrierTimeout):
            await carrier.subscribe(Subscription("zto", "ZT7300000013", CALLBACK, TAIL))

        assert ("ZTO_SANDBOX_APPKEY", "ZT7300000013") in world.twins["zto"].subscriptions
        assert carrier.exchanges[-1].error.startswith("ReadTimeout")


@pytest.mark.anyio
async def test_intercepts_are_not_asked_of_the_twin() -> None:
    async with twin() as (carrier, world, _):
        with pytest.raises(NotSupported, match="kuaidi100"):
            await carrier.intercept()

    assert world.request_log == []
