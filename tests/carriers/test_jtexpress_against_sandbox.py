"""The J&T adapter and the sandbox's J&T twin, written apart, agree on the wire (in process, over ASGI)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
import pytest

from lanjie.carriers.base import CarrierAccount, Subscription
from lanjie.carriers.errors import CarrierRejected, CarrierTimeout, CarrierUnavailable, NotSupported
from lanjie.carriers.jtexpress import JT
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus
from lanjie.sandbox import SandboxWorld
from lanjie.sandbox.faults import FaultPlan, FaultSettings
from lanjie.sandbox.model import Channel

from .sandbox_support import START_AT, channel_faults, sandbox

BASE = "http://sandbox.test/jtexpress"
CALLBACK = "https://lanjie.example/cb/jtexpress/tok123"
# The twin's default test account (JTTwin.test_credentials), written out: the adapter must not need the twin.
CREDENTIALS = {"api_account": "178337126125932605", "private_key": "JT_SANDBOX_PRIVATEKEY"}
HOUR = 3600.0


@asynccontextmanager
async def twin(credentials: Mapping[str, str] = CREDENTIALS,
               timeout: float = 5.0) -> AsyncIterator[tuple[JT, SandboxWorld, httpx.AsyncClient]]:
    async with sandbox(timeout) as (world, client):
        account = CarrierAccount("jtexpress", credentials, {"api": BASE})
        yield JT(account, client, clock=lambda: START_AT), world, client


@pytest.mark.anyio
async def test_the_twins_trace_parses_with_known_nodes_newest_first(caplog: pytest.LogCaptureFixture) -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="jtexpress", waybill_no="JT8800000001",
                            stage=TrackingStatus.out_for_delivery)
        snapshot = await carrier.query_tracking("jtexpress", "JT8800000001")

    assert (snapshot.carrier_code, snapshot.waybill_no, snapshot.status, snapshot.incremental) == (
        "jtexpress", "JT8800000001", TrackingStatus.out_for_delivery, False)
    assert snapshot.events[0].at == START_AT
    assert [(e.code, e.status) for e in snapshot.events][:2] == [
        ("5", TrackingStatus.out_for_delivery), ("6", TrackingStatus.at_destination)]
    assert (snapshot.events[-1].code, snapshot.events[-1].status) == ("1", TrackingStatus.picked_up)
    assert list(snapshot.events) == sorted(snapshot.events, key=lambda e: e.at, reverse=True)
    assert caplog.records == []


@pytest.mark.anyio
@pytest.mark.parametrize(("stage", "status"), [
    (TrackingStatus.created, TrackingStatus.created),  # the label-printed scan has no J&T node
    (TrackingStatus.picked_up, TrackingStatus.picked_up),
    (TrackingStatus.in_transit, TrackingStatus.in_transit),
    (TrackingStatus.at_destination, TrackingStatus.at_destination),
    (TrackingStatus.delivered, TrackingStatus.delivered),
])
async def test_each_stage_reads_back_as_its_status(stage: TrackingStatus, status: TrackingStatus) -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="jtexpress", waybill_no="JT8800000002", stage=stage)
        snapshot = await carrier.query_tracking("jt", "JT8800000002")

    assert snapshot.status is status


@pytest.mark.anyio
async def test_a_turned_back_parcel_reads_as_returning_to_the_end() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="jtexpress", waybill_no="JT8800000003", stage=TrackingStatus.in_transit)
        world.request_intercept(carrier_code="jtexpress", waybill_no="JT8800000003",
                                intercept_type=InterceptType.return_to_sender, report_to={"protocol": "nobody"})
        await world.advance(64 * HOUR)
        snapshot = await carrier.query_tracking("jtexpress", "JT8800000003")

    assert world.parcel("JT8800000003").status is TrackingStatus.returned
    # J&T has no node for a return signed for by the sender: the last event is a return scan.
    assert (snapshot.status, snapshot.events[0].code) == (TrackingStatus.returning, "14")


@pytest.mark.anyio
@pytest.mark.parametrize("waybill_no", ["JT8899999999", "ZT8800000004"])
async def test_a_waybill_jt_does_not_know_is_an_empty_trace(waybill_no: str) -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="zto", waybill_no="ZT8800000004", stage=TrackingStatus.in_transit)
        snapshot = await carrier.query_tracking("jtexpress", waybill_no)

    assert (snapshot.status, snapshot.events) == (TrackingStatus.created, ())


@pytest.mark.anyio
async def test_the_twin_takes_a_subscription_and_a_repeat_of_it() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="jtexpress", waybill_no="JT8800000005", stage=TrackingStatus.in_transit)
        await carrier.subscribe(Subscription("jtexpress", "JT8800000005", CALLBACK))
        await carrier.subscribe(Subscription("jtexpress", "JT8800000005", CALLBACK + "/new"))
        subscription = world.twins["jtexpress"].subscriptions[("178337126125932605", "JT8800000005")]

    assert [e.status_code for e in carrier.exchanges] == [200, 200]
    assert (subscription.back_url, subscription.nodes) == (CALLBACK + "/new", frozenset(map(str, range(1, 15))))
    assert [(entry.channel, entry.waybill_no, entry.code) for entry in world.request_log] == [
        (Channel.subscribe, "JT8800000005", "1")] * 2


@pytest.mark.anyio
@pytest.mark.parametrize(("credentials", "code"), [
    ({**CREDENTIALS, "private_key": "WRONG"}, "145003030"),  # bad digest
    ({**CREDENTIALS, "api_account": "999999"}, "145003010"),  # no such account
])
async def test_bad_credentials_are_auth_failed(credentials: dict[str, str], code: str) -> None:
    async with twin(credentials) as (carrier, _, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("jtexpress", "JT8800000006", CALLBACK))

    assert (caught.value.code, caught.value.reason) == (code, InterceptReason.auth_failed)


@pytest.mark.anyio
async def test_an_expired_account_is_auth_failed() -> None:
    expired = {"api_account": "100000000000000001", "private_key": "OLDKEY"}
    async with twin(expired) as (carrier, world, _):
        world.twins["jtexpress"].register_account(expired, expired=True)
        with pytest.raises(CarrierRejected) as caught:
            await carrier.query_tracking("jtexpress", "JT8800000007")

    assert (caught.value.code, caught.value.reason) == ("145003012", InterceptReason.auth_failed)


@pytest.mark.anyio
async def test_a_subscription_without_a_back_url_is_an_illegal_parameter() -> None:
    async with twin() as (carrier, _, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("jtexpress", "JT8800000008", ""))

    assert (caught.value.code, caught.value.message, caught.value.reason) == (
        "145003050", "Illegal parameters: backUrl is not an http(s) URL", InterceptReason.carrier_error)


@pytest.mark.anyio
@pytest.mark.parametrize(("channel", "call"), [(Channel.subscribe, "subscribe"), (Channel.query, "query")])
async def test_the_rate_limit_fault_is_rate_limited(channel: Channel, call: str) -> None:
    async with twin() as (carrier, world, _):
        world.faults.set_plan(channel_faults(channel, rate_limit_per_second=1))

        async def once() -> None:
            if call == "subscribe":
                await carrier.subscribe(Subscription("jtexpress", "JT8800000009", CALLBACK))
            else:
                await carrier.query_tracking("jtexpress", "JT8800000009")

        await once()
        with pytest.raises(CarrierRejected) as caught:
            await once()

    assert (caught.value.code, caught.value.reason) == ("145003060", InterceptReason.rate_limited)


@pytest.mark.anyio
async def test_an_injected_5xx_is_unavailable_and_does_nothing() -> None:
    async with twin() as (carrier, world, _):
        world.faults.set_plan(FaultPlan(default=FaultSettings(error_rate=1.0)))
        with pytest.raises(CarrierUnavailable) as caught:
            await carrier.subscribe(Subscription("jtexpress", "JT8800000010", CALLBACK))

    assert type(caught.value) is CarrierUnavailable
    assert world.twins["jtexpress"].subscriptions == {}


@pytest.mark.anyio
async def test_a_held_answer_is_a_timeout_whose_effect_happened() -> None:
    async with twin(timeout=0.05) as (carrier, world, _):
        world.faults.set_plan(channel_faults(Channel.subscribe, timeout_rate=1.0, timeout_seconds=0.5))
        with pytest.raises(CarrierTimeout):
            await carrier.subscribe(Subscription("jtexpress", "JT8800000011", CALLBACK))

        assert ("178337126125932605", "JT8800000011") in world.twins["jtexpress"].subscriptions
        assert carrier.exchanges[-1].error.startswith("ReadTimeout")


@pytest.mark.anyio
async def test_intercepts_are_not_asked_of_the_twin() -> None:
    async with twin() as (carrier, world, _):
        with pytest.raises(NotSupported, match="kuaidi100"):
            await carrier.intercept()

    assert world.request_log == []
