"""Douyin adapter: parsing each answer, success and every documented error, into lanjie's terms."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from lanjie.channels.base import ApproveItem, ChannelCase, ChannelParcel
from lanjie.channels.douyin import Douyin
from lanjie.channels.douyin.codes import COURIERS
from lanjie.channels.errors import CarrierTimeout, CarrierUnavailable, ChannelRejected, RejectionKind
from lanjie.domain.states import ArbitrationStatus, CaseType, PlatformStatus
from tests.channels.test_douyin_requests import (
    ACCOUNT,
    CASE,
    RECORDINGS,
    douyin,
    envelope,
    operated,
    recorded_answer,
)

DETAIL = json.loads((RECORDINGS / "detail_refund_only_shipped.json").read_bytes())


def detail_answer(*, info: dict[str, Any] | None = None, arbitrate: dict[str, Any] | None = None,
                  order: dict[str, Any] | None = None, drop: tuple[str, ...] = ()) -> httpx.Response:
    """The recorded detail with fields of ``after_sale_info``, ``arbitrate_info`` or ``order_info`` changed."""
    data = json.loads(json.dumps(DETAIL["data"]))
    data["process_info"]["after_sale_info"].update(info or {})
    data["process_info"]["arbitrate_info"].update(arbitrate or {})
    if order is not None:
        data["order_info"] = order
    for name in drop:
        data.pop(name, None)
        data["process_info"].pop(name, None)
    return envelope(data)


# ---- fetch_case ----------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_the_recorded_detail_reads_as_an_open_refund_only_case_with_its_parcels() -> None:
    async with douyin(recorded_answer("detail_refund_only_shipped.json")) as (channel, _seen):
        case = await channel.fetch_case("7000001")

    assert case == ChannelCase(
        ref="7000001", order_id="6900001", type=CaseType.refund_only_shipped, platform_type="1",
        status=PlatformStatus.awaiting_merchant, platform_status="6", refund_fen=12900, version="1740792600",
        paid_fen=12900, deadline_at=datetime(2025, 3, 3, 2, 0, tzinfo=UTC), arbitration=ArbitrationStatus.none,
        parcels=(ChannelParcel("73100196611386", "zhongtong", "zto"),
                 ChannelParcel("SF1400000000001", "shunfeng", "sf"),
                 ChannelParcel("PT0000001", "powertestexpress", "")),
        reason="不想要了", intercept_status=None, can_commit_intercept=False, refunded=False,
        updated_at=datetime(2025, 3, 1, 1, 30, tzinfo=UTC))
    assert case.raw == DETAIL["data"]


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "refund_status", "expected", "refunded"), [
    (6, 1, PlatformStatus.awaiting_merchant, False),
    (7, 1, PlatformStatus.awaiting_return, False),
    (11, 1, PlatformStatus.awaiting_receipt, False),
    (12, 2, PlatformStatus.agreed, False),
    (12, 3, PlatformStatus.refunded, True),
    (53, 3, PlatformStatus.refunded, True),
    (27, 0, PlatformStatus.rejected, False),
    (29, 0, PlatformStatus.rejected, False),
    (28, 0, PlatformStatus.closed, False),
    (13, 0, PlatformStatus.other, False),
    (99, 0, PlatformStatus.other, False),
])
async def test_after_sale_status_and_refund_status_map_onto_platform_status(
        status: int, refund_status: int, expected: PlatformStatus, refunded: bool) -> None:
    async with douyin(detail_answer(info={"after_sale_status": status, "refund_status": refund_status})) as (
            channel, _seen):
        case = await channel.fetch_case("7000001")

    assert (case.status, case.platform_status, case.refunded) == (expected, str(status), refunded)


@pytest.mark.anyio
@pytest.mark.parametrize(("code", "expected"), [
    (0, CaseType.return_refund), (1, CaseType.refund_only_shipped), (2, CaseType.refund_only_unshipped),
    (3, CaseType.exchange), (4, CaseType.refund_only_unshipped), (5, CaseType.refund_only_unshipped),
    (6, CaseType.return_refund), (7, CaseType.resend), (8, CaseType.exchange), (42, CaseType.return_refund),
])
async def test_after_sale_type_maps_onto_case_type_and_keeps_the_code(code: int, expected: CaseType) -> None:
    async with douyin(detail_answer(info={"after_sale_type": code})) as (channel, _seen):
        case = await channel.fetch_case("7000001")

    assert (case.type, case.platform_type) == (expected, str(code))


@pytest.mark.anyio
@pytest.mark.parametrize(("code", "expected"), [
    (0, ArbitrationStatus.none), (1, ArbitrationStatus.in_review), (2, ArbitrationStatus.buyer_won),
    (3, ArbitrationStatus.merchant_won), (4, ArbitrationStatus.evidence_requested), (5, ArbitrationStatus.requested),
    (255, ArbitrationStatus.cancelled), (77, ArbitrationStatus.in_review),
])
async def test_arbitrate_status_maps_onto_arbitration(code: int, expected: ArbitrationStatus) -> None:
    async with douyin(detail_answer(arbitrate={"arbitrate_status": code})) as (channel, _seen):
        assert (await channel.fetch_case("7000001")).arbitration == expected


@pytest.mark.anyio
async def test_a_detail_without_order_or_logistics_has_no_paid_amount_order_id_or_parcels() -> None:
    answer = detail_answer(info={"status_deadline": 0, "refund_total_amount": None, "refund_amount": 500},
                           drop=("order_info", "logistics_info", "arbitrate_info"))
    async with douyin(answer) as (channel, _seen):
        case = await channel.fetch_case("7000001")

    assert (case.order_id, case.paid_fen, case.parcels, case.deadline_at, case.refund_fen, case.arbitration) == (
        "", None, (), None, 500, ArbitrationStatus.none)


@pytest.mark.anyio
async def test_related_order_info_is_read_when_sku_order_infos_is_absent() -> None:
    order = {"shop_order_id": "6900001", "related_order_info": [{"pay_amount": 4000}, {"pay_amount": "2500"}]}
    async with douyin(detail_answer(order=order)) as (channel, _seen):
        case = await channel.fetch_case("7000001")

    assert (case.order_id, case.paid_fen) == ("6900001", 6500)


@pytest.mark.anyio
@pytest.mark.parametrize(("answer", "problem"), [
    (envelope({"order_info": {}}), "process_info is missing"),
    (detail_answer(info={"update_time": None}), "update_time is missing"),
    (detail_answer(info={"after_sale_type": "退货"}), "after_sale_type is not a number"),
    (detail_answer(info={"after_sale_id": {"id": 1}}), "after_sale_id is not an id"),
    (envelope({"process_info": {"after_sale_info": []}}), "after_sale_info is not an object"),
])
async def test_a_malformed_detail_is_unavailable_naming_the_field(answer: httpx.Response, problem: str) -> None:
    async with douyin(answer) as (channel, _seen):
        with pytest.raises(CarrierUnavailable, match=problem):
            await channel.fetch_case("7000001")


@pytest.mark.anyio
async def test_a_detail_of_another_after_sale_is_not_taken_for_the_one_asked() -> None:
    async with douyin(recorded_answer("detail_refund_only_shipped.json")) as (channel, _seen):
        with pytest.raises(CarrierUnavailable, match="asked for 7000002, answered 7000001"):
            await channel.fetch_case("7000002")


def test_the_company_code_table_covers_the_sandbox_couriers() -> None:
    assert COURIERS == {"zhongtong": "zto", "shentong": "sto", "yunda": "yunda", "jtexpress": "jtexpress",
                        "shunfeng": "sf", "jd": "jd", "yuantong": "yto", "ems": "ems"}


# ---- errors of every write and of the detail ------------------------------------------------------

Call = Callable[[Douyin], Awaitable[None]]


async def _fetch(channel: Douyin) -> None:
    await channel.fetch_case("7000001")


async def _approve(channel: Douyin) -> None:
    [error] = await channel.approve_refunds([ApproveItem(CASE, "R-1")])
    if error is not None:
        raise error


async def _reject(channel: Douyin) -> None:
    await channel.reject_refund(CASE, reason_code="32", reason="已拦截")


async def _confirm(channel: Douyin) -> None:
    await channel.confirm_received(CASE, received_at=datetime(2025, 3, 3, 2, 0, tzinfo=UTC))


async def _evidence(channel: Douyin) -> None:
    await channel.submit_evidence(CASE, text="已拦截")


OPERATIONS = {"fetch_case": _fetch, "approve": _approve, "reject": _reject, "confirm_received": _confirm,
              "submit_evidence": _evidence}
ERRORS = [  # code, sub_code, sub_msg, kind
    (50002, "isv.business-failed:20309541", "售后状态错误", RejectionKind.stale),
    (50002, "isv.business-failed:11001", "暂不支持通过OPEN处理，请登录抖店后台人工审核", RejectionKind.needs_person),
    (50002, "isv.business-failed:11005", "操作失败", RejectionKind.refused),
    (50002, "isv.business-failed:10000", "信息获取失败，请稍后重试", RejectionKind.retry),
    (50002, "isv.business-failed:-10006", "服务器开了小差，请稍后重试", RejectionKind.retry),
    (20000, "isp.service-error:10002", "查询结果为空", RejectionKind.retry),
    (20000, "isp.service-error:10000", "售后单不存在", RejectionKind.invalid),
    (20000, "isp.service-error:10099", "服务异常", RejectionKind.retry),
    (40004, "isv.parameter-invalid:11000", "参数不合法", RejectionKind.invalid),
    (40004, "isv.parameter-invalid:sign", "签名错误", RejectionKind.auth),
    (40003, "isv.access-token-invalid", "access_token不存在", RejectionKind.auth),
    (50002, "isv.business-failed:11002", "店铺未设置或启用售后小助手策略", RejectionKind.needs_person),
    (50002, "isv.business-failed:12001", "售后单类型与策略限制不符合", RejectionKind.refused),
    (50002, "isv.business-failed:99999", "新的错误", RejectionKind.refused),
    (31337, "", "", RejectionKind.refused),
]


@pytest.mark.anyio
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize(("code", "sub_code", "sub_msg", "kind"), ERRORS)
async def test_each_documented_error_is_rejected_with_the_kind_it_means(
        operation: str, code: int, sub_code: str, sub_msg: str, kind: RejectionKind) -> None:
    async with douyin(envelope(code=code, sub_code=sub_code, sub_msg=sub_msg, msg="业务处理失败")) as (channel, seen):
        with pytest.raises(ChannelRejected) as caught:
            await OPERATIONS[operation](channel)

    assert (caught.value.code, caught.value.kind, len(seen)) == (sub_code or str(code), kind, 1)
    assert (sub_msg or "业务处理失败") in caught.value.message


@pytest.mark.anyio
async def test_an_unknown_code_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lanjie.channels.douyin")
    async with douyin(envelope(code=31337, msg="奇怪")) as (channel, _seen):
        with pytest.raises(ChannelRejected):
            await channel.fetch_case("7000001")

    assert "unknown code 31337" in caplog.text


@pytest.mark.anyio
async def test_a_failed_item_inside_a_success_answer_is_refused_with_its_message() -> None:
    answer = envelope({"items": [{"aftersale_id": "7000001", "status_code": 11005, "status_msg": "售后单已关闭"}]})
    async with douyin(answer) as (channel, _seen):
        [error] = await channel.approve_refunds([ApproveItem(CASE, "R-1")])

    assert isinstance(error, ChannelRejected)
    assert (error.code, error.kind, error.message) == ("11005", RejectionKind.refused,
                                                       "douyin afterSale.operate: 售后单已关闭")


@pytest.mark.anyio
async def test_one_refused_approval_does_not_stop_the_next() -> None:
    second = replace(CASE, ref="7000005", version="1740794400")
    refused = envelope(code=50002, sub_code="isv.business-failed:20309541", sub_msg="售后状态错误")
    async with douyin(refused, operated("7000005")) as (channel, seen):
        results = await channel.approve_refunds([ApproveItem(CASE, "R-1"), ApproveItem(second, "R-5")])

    assert [getattr(result, "kind", None) for result in results] == [RejectionKind.stale, None]
    assert len(seen) == 2


# ---- transport failures --------------------------------------------------------------------------

@pytest.mark.anyio
@pytest.mark.parametrize(("reply", "error"), [
    (httpx.ConnectError("refused"), CarrierUnavailable),
    (httpx.ReadTimeout("slow"), CarrierTimeout),
    (httpx.Response(502, content=b"<html>bad gateway</html>"), CarrierUnavailable),
    (httpx.Response(200, content=b"<html>maintenance</html>"), CarrierUnavailable),
    (httpx.Response(200, content=b'{"msg":"no code"}'), CarrierUnavailable),
])
async def test_transport_failures_come_from_the_http_seam(reply: httpx.Response | Exception,
                                                          error: type[Exception]) -> None:
    async with douyin(reply, reply) as (channel, _seen):
        with pytest.raises(error):
            await channel.reject_refund(CASE, reason_code="32", reason="已拦截")
        [result] = await channel.approve_refunds([ApproveItem(CASE, "R-1")])

    assert type(result) is error
    assert len(channel.exchanges) == 2


# ---- refused before anything is sent ------------------------------------------------------------

@pytest.mark.anyio
async def test_a_case_douyin_cannot_agree_through_the_open_api_goes_to_a_person_unsent() -> None:
    async with douyin() as (channel, seen):
        [error] = await channel.approve_refunds([ApproveItem(replace(CASE, type=CaseType.exchange), "R-1")])

    assert isinstance(error, ChannelRejected)
    assert (error.code, error.kind, seen, channel.exchanges) == ("type", RejectionKind.needs_person, [], [])


@pytest.mark.anyio
@pytest.mark.parametrize("call", [
    lambda channel: channel.approve_refunds([ApproveItem(replace(CASE, version="2025-03-01T01:30:00Z"), "R-1")]),
    lambda channel: channel.reject_refund(replace(CASE, version=""), reason_code="32", reason="x"),
    lambda channel: channel.reject_refund(CASE, reason_code="不想退", reason="x"),
    lambda channel: channel.submit_evidence(CASE, text="x", evidence=[f"https://img.example/{n}.jpg"
                                                                      for n in range(5)]),
])
async def test_a_request_douyin_would_refuse_as_invalid_is_not_sent(call: Callable[[Douyin], Awaitable[Any]]) -> None:
    async with douyin() as (channel, seen):
        try:
            result = await call(channel)
        except ChannelRejected as exc:
            result = [exc]

    [error] = result
    assert isinstance(error, ChannelRejected)
    assert (error.kind, seen) == (RejectionKind.invalid, [])


@pytest.mark.anyio
async def test_missing_credentials_are_an_auth_problem_before_any_call() -> None:
    account = replace(ACCOUNT, credentials={"app_key": "SANDBOXDYKEY", "app_secret": "", "shop_id": "1000001"})
    async with douyin(account=account) as (channel, seen):
        with pytest.raises(ChannelRejected, match="app_secret, access_token") as caught:
            await channel.fetch_case("7000001")

    assert (caught.value.kind, seen) == (RejectionKind.auth, [])
