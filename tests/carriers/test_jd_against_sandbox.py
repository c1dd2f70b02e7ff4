"""The JD adapter and the sandbox's JD twin, written apart, agree on the wire (in process, over ASGI)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
import pytest

from lanjie.carriers.base import CarrierAccount, InterceptAck, InterceptOutcome, InterceptRequest, InterceptState
from lanjie.carriers.errors import CarrierRejected, CarrierTimeout, CarrierUnavailable
from lanjie.carriers.jd import JD, router_form, wire
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus
from lanjie.sandbox import SandboxWorld
from lanjie.sandbox.model import Channel, ForcedOutcome

from .sandbox_support import START_AT, channel_faults, sandbox

BASE = "http://sandbox.test/jd"
CALLBACK = "https://lanjie.example/cb/jd/tok123"
# The twin's default test account (JDTwin.test_credentials), written out: the adapter must not need the twin.
CREDENTIALS = {"app_key": "SANDBOXJDAPPKEY", "app_secret": "SANDBOXJDAPPSECRET",
               "access_token": "SANDBOXJDACCESSTOKEN", "vendor_code": "010K000001"}
HOUR = 3600.0


@asynccontextmanager
async def twin(credentials: Mapping[str, str] = CREDENTIALS,
               timeout: float = 5.0) -> AsyncIterator[tuple[JD, SandboxWorld, httpx.AsyncClient]]:
    async with sandbox(timeout) as (world, client):
        account = CarrierAccount("jd", credentials, {"api": BASE})
        yield JD(account, client, clock=lambda: START_AT), world, client


def _request(waybill_no: str, intercept_type: InterceptType = InterceptType.return_to_sender) -> InterceptRequest:
    return InterceptRequest("ic_1", "jd", waybill_no, intercept_type, CALLBACK, reason="买家 申请仅退款 *急*")


@pytest.mark.anyio
async def test_an_intercept_is_accepted_then_polled_until_the_parcel_turned_back(
        caplog: pytest.LogCaptureFixture) -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="jd", waybill_no="JDV000000000001", stage=TrackingStatus.in_transit)
        ack = await carrier.intercept(_request("JDV000000000001"))
        task = world.parcels["JDV000000000001"].intercept
        pending = await carrier.query_intercept("jd", "JDV000000000001", None)
        await world.advance(12 * HOUR)
        done = await carrier.query_intercept("jd", "JDV000000000001", None)
        snapshot = await carrier.query_tracking("jd", "JDV000000000001")

    assert task is not None
    assert ack == InterceptAck(accepted=True, task_id=task.task_id, message="拦截中")
    assert pending == InterceptState(InterceptOutcome.pending, task_id=task.task_id, message="拦截中")
    assert done == InterceptState(InterceptOutcome.succeeded, task_id=task.task_id, message="拦截成功")
    assert snapshot.status is TrackingStatus.returned
    assert [e.status for e in snapshot.events][-3:] == [
        TrackingStatus.in_transit, TrackingStatus.picked_up, TrackingStatus.created]
    assert TrackingStatus.returning in {e.status for e in snapshot.events}
    assert list(snapshot.events) == sorted(snapshot.events, key=lambda e: e.at, reverse=True)
    assert world.push_log == {}  # JD pushes nothing: lanjie polls
    assert caplog.records == []  # every code and title the twin used is known to the adapter


@pytest.mark.anyio
async def test_a_repeat_of_our_own_intercept_counts_as_accepted() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="jd", waybill_no="JDV000000000002", stage=TrackingStatus.at_destination)
        first = await carrier.intercept(_request("JDV000000000002"))
        again = await carrier.intercept(_request("JDV000000000002"))

    assert (first.accepted, first.task_id is not None) == (True, True)
    assert again == InterceptAck(accepted=True, task_id=first.task_id, reason=InterceptReason.already_intercepted,
                                 duplicate=True, message="已拦截，请勿重复提交")


@pytest.mark.anyio
async def test_a_parcel_intercepted_through_someone_else_is_refused() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="jd", waybill_no="JDV000000000003", stage=TrackingStatus.in_transit)
        world.request_intercept(carrier_code="jd", waybill_no="JDV000000000003",
                                intercept_type=InterceptType.return_to_sender, report_to={"protocol": "kuaidi100"})
        ack = await carrier.intercept(_request("JDV000000000003"))

    assert ack == InterceptAck(accepted=False, reason=InterceptReason.already_intercepted, message="该运单已被拦截")


@pytest.mark.anyio
async def test_an_order_not_picked_up_is_cancelled_which_lanjie_reads_as_not_picked_up() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="jd", waybill_no="JDV000000000004", stage=TrackingStatus.created)
        ack = await carrier.intercept(_request("JDV000000000004"))
        again = await carrier.intercept(_request("JDV000000000004"))
        polled = await carrier.query_intercept("jd", "JDV000000000004", None)

    assert ack == InterceptAck(accepted=False, reason=InterceptReason.not_picked_up,
                               message="JD cancelled the shipping order instead: it was not picked up yet "
                                       "(取消成功：订单未揽收，已取消)")
    assert (again.accepted, again.reason) == (False, InterceptReason.not_picked_up)
    assert again.message.startswith("JD had already cancelled this order")
    assert polled == InterceptState(InterceptOutcome.failed, reason=InterceptReason.not_picked_up,
                                    message="已取消：订单未揽收")
    assert world.parcels["JDV000000000004"].intercept is None  # nothing for the world to turn back


@pytest.mark.parametrize(("stage", "reason", "message"), [
    (TrackingStatus.delivered, InterceptReason.already_delivered, "已妥投，不能拦截"),
    (TrackingStatus.out_for_delivery, InterceptReason.out_for_delivery, "配送中，不能拦截"),
])
@pytest.mark.anyio
async def test_a_parcel_past_the_window_is_refused_with_a_reason_the_adapter_knows(
        stage: TrackingStatus, reason: InterceptReason, message: str, caplog: pytest.LogCaptureFixture) -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="jd", waybill_no="JDV000000000005", stage=stage)
        ack = await carrier.intercept(_request("JDV000000000005"))
        polled = await carrier.query_intercept("jd", "JDV000000000005", None)

    assert ack == InterceptAck(accepted=False, reason=reason, message=message)
    assert polled == InterceptState(InterceptOutcome.not_found, message="无拦截记录")
    assert caplog.records == []


@pytest.mark.parametrize(("carrier_code", "waybill_no"), [("jd", "JDV999999999999"), ("zto", "JDV000000000006")])
@pytest.mark.anyio
async def test_an_unknown_waybill_or_another_couriers_parcel_is_not_supported(carrier_code: str,
                                                                              waybill_no: str) -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="zto", waybill_no="JDV000000000006", stage=TrackingStatus.in_transit)
        ack = await carrier.intercept(_request(waybill_no))
        snapshot = await carrier.query_tracking("jd", waybill_no)

    assert ack == InterceptAck(accepted=False, reason=InterceptReason.not_supported, message="运单不存在或不支持拦截")
    assert (snapshot.status, snapshot.events) == (TrackingStatus.created, ())


@pytest.mark.parametrize(("forced", "reason"), [
    (ForcedOutcome.missed, InterceptReason.missed),
    (ForcedOutcome.fail, InterceptReason.carrier_error),
])
@pytest.mark.anyio
async def test_a_failed_intercept_is_polled_with_its_reason(forced: ForcedOutcome, reason: InterceptReason) -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="jd", waybill_no="JDV000000000007", stage=TrackingStatus.in_transit)
        ack = await carrier.intercept(_request("JDV000000000007"))
        world.force_outcome("JDV000000000007", forced, "拦截失败：测试")
        polled = await carrier.query_intercept("jd", "JDV000000000007", ack.task_id)

    assert polled == InterceptState(InterceptOutcome.failed, task_id=ack.task_id, reason=reason,
                                    message="拦截失败：测试")


@pytest.mark.parametrize(("stage", "eligible", "reason"), [
    (TrackingStatus.created, False, InterceptReason.not_picked_up),
    (TrackingStatus.picked_up, True, None),
    (TrackingStatus.in_transit, True, None),
    (TrackingStatus.at_destination, True, None),
    (TrackingStatus.out_for_delivery, False, InterceptReason.out_for_delivery),
    (TrackingStatus.delivered, False, InterceptReason.already_delivered),
])
@pytest.mark.anyio
async def test_precheck_agrees_with_what_the_twin_would_answer(stage: TrackingStatus, eligible: bool,
                                                               reason: InterceptReason | None) -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="jd", waybill_no="JDV000000000008", stage=stage)
        judged = await carrier.precheck(_request("JDV000000000008"))
        ack = await carrier.intercept(_request("JDV000000000008"))

    assert (judged.eligible, judged.reason, judged.fee_minor) == (eligible, reason, None)
    assert (ack.accepted, ack.reason) == (eligible, reason)


# ---- refusals of the request itself -----------------------------------------------------------------


@pytest.mark.parametrize(("credentials", "code"), [
    ({**CREDENTIALS, "app_secret": "WRONGSECRET"}, "14"),
    ({**CREDENTIALS, "app_key": "NOSUCHAPPKEY"}, "15"),
    ({**CREDENTIALS, "access_token": "STALETOKEN"}, "19"),
    ({**CREDENTIALS, "vendor_code": "010K999999"}, "20"),
])
@pytest.mark.anyio
async def test_bad_credentials_are_auth_failed(credentials: dict[str, str], code: str) -> None:
    async with twin(credentials) as (carrier, world, _):
        world.create_parcel(carrier_code="jd", waybill_no="JDV000000000009", stage=TrackingStatus.in_transit)
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(_request("JDV000000000009"))

    assert (caught.value.code, caught.value.reason) == (code, InterceptReason.auth_failed)
    assert world.parcels["JDV000000000009"].intercept is None


@pytest.mark.anyio
async def test_an_expired_access_token_is_auth_failed() -> None:
    async with twin({**CREDENTIALS, "app_key": "EXPIREDKEY"}) as (carrier, world, _):
        world.twins["jd"].register_account({**CREDENTIALS, "app_key": "EXPIREDKEY"}, expired=True)
        with pytest.raises(CarrierRejected) as caught:
            await carrier.query_tracking("jd", "JDV000000000010")

    assert (caught.value.code, caught.value.message, caught.value.reason) == (
        "19", "access_token 无效或已过期，请重新授权", InterceptReason.auth_failed)


async def _post(client: httpx.AsyncClient, fields: dict[str, str], method: str) -> object:
    response = await client.post(f"{BASE}/routerjson", data=fields)
    assert response.status_code == 200
    return wire.unwrap(response.json(), method)


@pytest.mark.parametrize("missing", ["access_token", "timestamp", "360buy_param_json"])
@pytest.mark.anyio
async def test_a_missing_parameter_is_a_request_error(missing: str) -> None:
    async with twin() as (_, _world, client):
        fields = router_form("jingdong.ldop.receive.trace.get", '{"customerCode":"010K000001","waybillCode":"X1"}',
                             app_key=CREDENTIALS["app_key"], app_secret=CREDENTIALS["app_secret"],
                             access_token=CREDENTIALS["access_token"], timestamp="2025-03-01 10:00:00")
        del fields[missing]
        fields["sign"] = wire.jos_sign(fields, CREDENTIALS["app_secret"])
        with pytest.raises(CarrierRejected) as caught:
            await _post(client, fields, "jingdong.ldop.receive.trace.get")

    assert (caught.value.code, caught.value.message, caught.value.reason) == (
        "9", f"缺少必选参数：{missing}", InterceptReason.carrier_error)


@pytest.mark.anyio
async def test_a_missing_business_field_is_a_request_error() -> None:
    async with twin() as (_, _world, client):
        method = "jingdong.ldop.receive.order.intercept"
        business = json.dumps({"vendorCode": "010K000001", "deliveryId": "JDV1", "interceptReason": "退款",
                               "cancelOperatorCodeType": "1", "cancelTime": "2025-03-01 10:00:00"})
        fields = router_form(method, business, app_key=CREDENTIALS["app_key"], app_secret=CREDENTIALS["app_secret"],
                             access_token=CREDENTIALS["access_token"], timestamp="2025-03-01 10:00:00")
        with pytest.raises(CarrierRejected) as caught:
            await _post(client, fields, method)

    assert (caught.value.code, caught.value.message) == ("9", "缺少必选参数：cancelOperator")


@pytest.mark.anyio
async def test_an_unknown_method_is_a_request_error() -> None:
    async with twin() as (_, _world, client):
        fields = router_form("jingdong.ldop.nothing.here", "{}", app_key=CREDENTIALS["app_key"],
                             app_secret=CREDENTIALS["app_secret"], access_token=CREDENTIALS["access_token"],
                             timestamp="2025-03-01 10:00:00")
        with pytest.raises(CarrierRejected) as caught:
            await _post(client, fields, "jingdong.ldop.nothing.here")

    assert (caught.value.code, caught.value.message, caught.value.reason) == (
        "22", "方法不存在：jingdong.ldop.nothing.here", InterceptReason.carrier_error)


@pytest.mark.parametrize("channel", [Channel.intercept, Channel.query])
@pytest.mark.anyio
async def test_the_twins_rate_limit_is_rate_limited_so_lanjie_retries(channel: Channel) -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="jd", waybill_no="JDV000000000011", stage=TrackingStatus.in_transit)
        world.faults.set_plan(channel_faults(channel, rate_limit_per_second=1))
        call = (lambda: carrier.intercept(_request("JDV000000000011"))) if channel is Channel.intercept else (
            lambda: carrier.query_intercept("jd", "JDV000000000011", None))
        await call()
        with pytest.raises(CarrierRejected) as caught:
            await call()

    assert (caught.value.code, caught.value.message, caught.value.reason) == (
        "61", "调用频率超限，请稍后再试", InterceptReason.rate_limited)


# ---- transport faults ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_injected_500_is_carrier_unavailable_and_nothing_happened() -> None:
    async with twin() as (carrier, world, _):
        world.create_parcel(carrier_code="jd", waybill_no="JDV000000000012", stage=TrackingStatus.in_transit)
        world.faults.set_plan(channel_faults(Channel.intercept, error_rate=1.0))
        with pytest.raises(CarrierUnavailable) as caught:
            await carrier.intercept(_request("JDV000000000012"))

    assert type(caught.value) is CarrierUnavailable
    assert world.parcels["JDV000000000012"].intercept is None


@pytest.mark.anyio
async def test_a_held_answer_is_a_timeout_whose_effect_the_result_query_reveals() -> None:
    async with twin(timeout=0.2) as (carrier, world, _):
        world.create_parcel(carrier_code="jd", waybill_no="JDV000000000013", stage=TrackingStatus.in_transit)
        world.faults.set_plan(channel_faults(Channel.intercept, timeout_rate=1.0, timeout_seconds=30.0))
        with pytest.raises(CarrierTimeout):
            await carrier.intercept(_request("JDV000000000013"))
        polled = await carrier.query_intercept("jd", "JDV000000000013", None)
        task = world.parcels["JDV000000000013"].intercept

    assert task is not None  # the intercept happened although its answer never came
    assert polled == InterceptState(InterceptOutcome.pending, task_id=task.task_id, message="拦截中")
