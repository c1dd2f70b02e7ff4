"""The SF adapter and the sandbox's SF twin, written apart, agree on the wire (in process, over ASGI).

Every operation end to end, every refusal the twin gives, the transport faults, and a route push
the twin sends verified and parsed by the adapter.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from lanjie.carriers.base import (
    Address,
    CancelAck,
    CarrierAccount,
    InterceptAck,
    InterceptOutcome,
    InterceptRequest,
    InterceptState,
    Payer,
    Push,
    Subscription,
)
from lanjie.carriers.errors import CarrierRejected, CarrierTimeout, CarrierUnavailable
from lanjie.carriers.sf import SF
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus
from lanjie.sandbox import SandboxConfig, SandboxWorld, create_sandbox_app
from lanjie.sandbox.faults import FaultPlan, FaultSettings
from lanjie.sandbox.model import Channel, ForcedOutcome

START_AT = datetime(2025, 3, 1, 2, 0, 0, tzinfo=UTC)
BASE = "http://sandbox.test/sf"
CALLBACK = "https://lanjie.example/cb/sf/tok123"
CREDENTIALS = {"partner_id": "SFSANDBOX01", "check_word": "sfSandboxCheckWord0123456789abcd"}
RETURN_ADDRESS = Address("示例商家", "13800000000", "杭州市西湖区仓库")
HOUR = 3600


class HeldAnswerTransport(httpx.ASGITransport):
    """ASGI in process, with the client's read timeout enforced (ASGITransport itself has none)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {}).get("read")
        try:
            return await asyncio.wait_for(super().handle_async_request(request), timeout)
        except TimeoutError as exc:
            raise httpx.ReadTimeout("no answer in time", request=request) from exc


@asynccontextmanager
async def twin(credentials: Mapping[str, str] = CREDENTIALS, *, timeout: float = 5.0,
               **config: object) -> AsyncIterator[tuple[SF, SandboxWorld]]:
    # time_factor 0: the sandbox clock moves only when told; the adapter signs with the same clock.
    settings = {"time_factor": 0.0, "ack_latency_ms": 0, "start_at": START_AT, "seed": 7, **config}
    world = SandboxWorld(SandboxConfig(**settings))  # type: ignore[arg-type]
    transport = HeldAnswerTransport(app=create_sandbox_app(world))
    account = CarrierAccount("sf", credentials, {"api": BASE})
    try:
        async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
            yield SF(account, client, clock=world.clock.now), world
    finally:
        await world.stop()


def _return(waybill_no: str, address: Address | None = RETURN_ADDRESS) -> InterceptRequest:
    return InterceptRequest("ic_1", "sf", waybill_no, InterceptType.return_to_sender, CALLBACK, reason="仅退款",
                            address=address)


def _redirect(waybill_no: str) -> InterceptRequest:
    return InterceptRequest("ic_2", "sf", waybill_no, InterceptType.redirect, CALLBACK,
                            address=Address("李四", "13600001234", "上海市浦东新区世纪大道 100 号 *B~2"),
                            payer=Payer.monthly_account)


@pytest.mark.anyio
async def test_an_intercept_is_accepted_with_its_cus_id_and_fee_and_a_repeat_is_a_duplicate() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="shunfeng", waybill_no="SF7001", stage=TrackingStatus.in_transit)
        first = await carrier.intercept(_return("SF7001"))
        again = await carrier.intercept(_return("SF7001"))
        task = world.parcels["SF7001"].intercept

    assert first.task_id is not None and re.fullmatch(r"SFC\d{12}", first.task_id)
    assert first == InterceptAck(accepted=True, task_id=first.task_id, message="fee 12.35 CNY", fee_minor=1235)
    assert again == InterceptAck(accepted=True, task_id=first.task_id, reason=InterceptReason.already_intercepted,
                                 message="重复的拦截请求：该运单的拦截正在处理中; fee 12.35 CNY", duplicate=True,
                                 fee_minor=1235)
    assert task is not None
    assert (task.task_id, task.intercept_type, task.fee_minor, task.requested_by) == (
        first.task_id, InterceptType.return_to_sender, 1235, "SFSANDBOX01")


@pytest.mark.anyio
async def test_a_redirect_is_accepted_and_the_parcel_heads_to_the_new_address() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="shunfeng", waybill_no="SF7002", stage=TrackingStatus.in_transit)
        ack = await carrier.intercept(_redirect("SF7002"))
        await world.advance(12 * HOUR)
        state = await carrier.query_intercept("sf", "SF7002", ack.task_id)
        task = world.parcels["SF7002"].intercept

    assert (ack.accepted, ack.message) == (True, "fee 18.60 CNY")
    assert task is not None and task.new_recipient is not None
    assert (task.new_recipient.name, task.new_recipient.city.name) == ("李四", "上海市")
    assert state == InterceptState(InterceptOutcome.succeeded, ack.task_id)


@pytest.mark.anyio
async def test_once_the_intercept_succeeded_another_is_refused_and_it_can_no_longer_be_cancelled() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="shunfeng", waybill_no="SF7003", stage=TrackingStatus.in_transit)
        ack = await carrier.intercept(_return("SF7003"))
        await world.advance(12 * HOUR)
        state = await carrier.query_intercept("sf", "SF7003", ack.task_id)
        second = await carrier.intercept(_return("SF7003"))
        cancel = await carrier.cancel_intercept("sf", "SF7003", ack.task_id)
        snapshot = await carrier.query_tracking("sf", "SF7003")

    assert state == InterceptState(InterceptOutcome.succeeded, ack.task_id)
    assert second == InterceptAck(accepted=False, reason=InterceptReason.already_intercepted,
                                  message="该运单已拦截，不可重复拦截")
    assert cancel == CancelAck(accepted=False, message="拦截已完成，不可撤销")
    assert snapshot.status in (TrackingStatus.returning, TrackingStatus.returned)
    assert "631" in [event.code for event in snapshot.events]


@pytest.mark.anyio
async def test_an_intercept_delivered_first_is_missed() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="shunfeng", waybill_no="SF7004", stage=TrackingStatus.at_destination)
        ack = await carrier.intercept(_return("SF7004"))
        world.force_outcome("SF7004", ForcedOutcome.missed)
        state = await carrier.query_intercept("sf", "SF7004", ack.task_id)

    assert state == InterceptState(InterceptOutcome.failed, ack.task_id, InterceptReason.missed)


@pytest.mark.anyio
async def test_a_pending_intercept_is_cancelled_and_a_new_one_may_follow() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="shunfeng", waybill_no="SF7005", stage=TrackingStatus.in_transit)
        ack = await carrier.intercept(_return("SF7005"))
        assert ack.task_id is not None
        cancelled = await carrier.cancel_intercept("sf", "SF7005", ack.task_id)
        again = await carrier.cancel_intercept("sf", "SF7005", ack.task_id)
        unknown = await carrier.cancel_intercept("sf", "SF7005", "SFC000000000000")
        state = await carrier.query_intercept("sf", "SF7005", ack.task_id)
        renewed = await carrier.intercept(_return("SF7005"))

    assert (cancelled, again) == (CancelAck(True, ""), CancelAck(True, ""))
    assert unknown == CancelAck(False, "拦截指令不存在：SFC000000000000")
    assert state == InterceptState(InterceptOutcome.indeterminate, ack.task_id)
    assert renewed.accepted and renewed.task_id != ack.task_id


@pytest.mark.anyio
@pytest.mark.parametrize(("stage", "reason", "message"), [
    (TrackingStatus.created, InterceptReason.not_picked_up, "快件未揽收，不可拦截，请取消订单"),
    (TrackingStatus.out_for_delivery, InterceptReason.out_for_delivery, "快件派送中，不可拦截"),
    (TrackingStatus.delivered, InterceptReason.already_delivered, "快件已签收，不可拦截"),
])
async def test_a_parcel_outside_the_window_is_refused_with_a_code_the_adapter_knows(
        stage: TrackingStatus, reason: InterceptReason, message: str, caplog: pytest.LogCaptureFixture) -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="shunfeng", waybill_no="SF7006", stage=stage)
        precheck = await carrier.precheck(_return("SF7006"))
        ack = await carrier.intercept(_return("SF7006"))

    assert ack == InterceptAck(accepted=False, reason=reason, message=message)
    assert (precheck.eligible, precheck.reason) == (False, reason)
    assert caplog.records == []  # no unknown code


@pytest.mark.anyio
@pytest.mark.parametrize(("carrier_code", "waybill_no"), [("zto", "SF7007"), (None, "SF7999")])
async def test_a_waybill_sf_does_not_carry_is_not_supported(carrier_code: str | None, waybill_no: str) -> None:
    async with twin() as (carrier, world):
        if carrier_code:
            world.create_parcel(carrier_code=carrier_code, waybill_no=waybill_no, stage=TrackingStatus.in_transit)
        ack = await carrier.intercept(_return(waybill_no))
        snapshot = await carrier.query_tracking("sf", waybill_no)

    assert ack == InterceptAck(accepted=False, reason=InterceptReason.not_supported, message="运单号不存在或不支持拦截")
    assert (snapshot.status, snapshot.events) == (TrackingStatus.created, ())


@pytest.mark.anyio
async def test_a_return_without_new_dest_address_is_refused_as_a_bad_address() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="shunfeng", waybill_no="SF7008", stage=TrackingStatus.in_transit)
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(_return("SF7008", address=None))
        task = world.parcels["SF7008"].intercept

    assert (caught.value.code, caught.value.reason) == ("8002", InterceptReason.bad_address)
    assert caught.value.message == "参数错误：转寄、退回需要 newDestAddress"
    assert task is None


@pytest.mark.anyio
@pytest.mark.parametrize(("credentials", "code"), [
    ({**CREDENTIALS, "check_word": "WRONG"}, "A1006"),
    ({**CREDENTIALS, "partner_id": "NOSUCH"}, "A1004"),
])
async def test_a_bad_signature_or_unknown_account_is_auth_failed(credentials: dict[str, str], code: str) -> None:
    async with twin(credentials) as (carrier, world):
        world.create_parcel(carrier_code="shunfeng", waybill_no="SF7009", stage=TrackingStatus.in_transit)
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(_return("SF7009"))
        with pytest.raises(CarrierRejected):
            await carrier.query_tracking("sf", "SF7009")

    assert (caught.value.code, caught.value.reason) == (code, InterceptReason.auth_failed)
    assert world.parcels["SF7009"].intercept is None


@pytest.mark.anyio
async def test_an_expired_account_is_auth_failed() -> None:
    credentials = {"partner_id": "SFOLD", "check_word": "oldCheckWord"}
    async with twin(credentials) as (carrier, world):
        world.twins["sf"].register_account(credentials, expired=True)
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("sf", "SF7010", CALLBACK))

    assert (caught.value.code, caught.value.reason) == ("A1004", InterceptReason.auth_failed)


@pytest.mark.anyio
async def test_over_the_rate_limit_the_request_is_rejected_as_rate_limited() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="shunfeng", waybill_no="SF7011", stage=TrackingStatus.in_transit)
        world.faults.set_plan(FaultPlan(channels={Channel.intercept: FaultSettings(rate_limit_per_second=1)}))
        first = await carrier.intercept(_return("SF7011"))
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(_return("SF7011"))

    assert first.accepted
    assert (caught.value.code, caught.value.reason) == ("A1005", InterceptReason.rate_limited)


@pytest.mark.anyio
async def test_an_injected_server_error_is_carrier_unavailable_and_does_nothing() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="shunfeng", waybill_no="SF7012", stage=TrackingStatus.in_transit)
        world.faults.set_plan(FaultPlan(channels={Channel.intercept: FaultSettings(error_rate=1.0)}))
        with pytest.raises(CarrierUnavailable, match="HTTP 50[02]"):
            await carrier.intercept(_return("SF7012"))
        task = world.parcels["SF7012"].intercept

    assert task is None


@pytest.mark.anyio
async def test_a_held_answer_is_a_timeout_and_a_resubmission_finds_the_intercept_already_under_way() -> None:
    async with twin(timeout=0.2) as (carrier, world):
        world.create_parcel(carrier_code="shunfeng", waybill_no="SF7013", stage=TrackingStatus.in_transit)
        world.faults.set_plan(FaultPlan(channels={Channel.intercept: FaultSettings(timeout_rate=1.0,
                                                                                   timeout_seconds=5.0)}))
        with pytest.raises(CarrierTimeout):
            await carrier.intercept(_return("SF7013"))
        task = world.parcels["SF7013"].intercept
        state = await carrier.query_intercept("sf", "SF7013", None)
        world.faults.set_plan(FaultPlan())
        again = await carrier.intercept(_return("SF7013"))

    assert task is not None  # the effect happened although the answer never came
    assert state.outcome is InterceptOutcome.indeterminate  # the routes cannot show SF holds it
    assert (again.accepted, again.duplicate, again.task_id) == (True, True, task.task_id)


@pytest.mark.anyio
async def test_the_twins_routes_parse_with_known_codes_newest_first(caplog: pytest.LogCaptureFixture) -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="shunfeng", waybill_no="SF7014", stage=TrackingStatus.out_for_delivery)
        snapshot = await carrier.query_tracking("shunfeng", "SF7014", "0000")

    assert (snapshot.carrier_code, snapshot.waybill_no, snapshot.status) == (
        "shunfeng", "SF7014", TrackingStatus.out_for_delivery)
    assert snapshot.events[0].at == START_AT
    assert [e.code for e in snapshot.events] == ["44", "130", "30", "31", "30", "31", "30", "50", "9000"]
    assert [e.status for e in snapshot.events][-2:] == [TrackingStatus.picked_up, TrackingStatus.created]
    assert list(snapshot.events) == sorted(snapshot.events, key=lambda e: e.at, reverse=True)
    assert caplog.records == []


@pytest.mark.anyio
async def test_a_registered_waybills_route_pushes_verify_and_parse_in_the_adapter() -> None:
    received: list[Push] = []
    async with twin() as (carrier, world):

        def lanjie(request: httpx.Request) -> httpx.Response:
            push = carrier.parse_push(request.content, request.headers["content-type"])
            received.append(push)
            return httpx.Response(200, content=push.ack_body, headers={"Content-Type": push.ack_media_type})

        world._http = httpx.AsyncClient(transport=httpx.MockTransport(lanjie))
        world.create_parcel(carrier_code="shunfeng", waybill_no="SF7015", stage=TrackingStatus.in_transit)
        await carrier.subscribe(Subscription("sf", "SF7015", CALLBACK, phone_tail="0000"))
        await carrier.subscribe(Subscription("sf", "SF7015", CALLBACK, phone_tail="0000"))  # harmless twice
        await world.settle()
        ack = await carrier.intercept(_return("SF7015"))
        await world.advance(12 * HOUR)
        pushes = list(world.push_log["SF7015"])

    assert ack.accepted
    snapshots = [push.tracking for push in received if push.tracking is not None]
    assert len(snapshots) == len(received) == 5
    assert all(s.incremental and s.waybill_no == "SF7015" and s.carrier_code == "sf" for s in snapshots)
    assert [e.code for e in snapshots[0].events] == ["30", "50", "9000"]  # the first push: every route so far
    # Caught at the next scan (the hub), then the way back and the return signed for by the sender.
    assert [e.code for s in snapshots for e in reversed(s.events)] == [
        "9000", "50", "30", "631", "631", "631", "9080"]
    assert snapshots[-1].status is TrackingStatus.returned
    assert len({push.message_key for push in received}) == len(received)  # each push its own routes
    assert {attempt.result for attempt in pushes} == {"acked"}


@pytest.mark.anyio
async def test_precheck_of_a_picked_up_parcel_offers_both_types_and_quotes_no_fee() -> None:
    async with twin() as (carrier, world):
        await world.advance(24 * HOUR)
        world.create_parcel(carrier_code="shunfeng", waybill_no="SF7016", stage=TrackingStatus.picked_up)
        precheck = await carrier.precheck(_return("SF7016"))

    assert (precheck.eligible, precheck.reason, precheck.fee_minor, precheck.payer) == (True, None, None, Payer.sender)
    assert precheck.types == frozenset({InterceptType.return_to_sender, InterceptType.redirect})
    [exchange] = carrier.exchanges
    signed_at = json.loads(exchange.request_body)["timestamp"]
    assert signed_at == str(int((START_AT + timedelta(days=1)).timestamp() * 1000))
