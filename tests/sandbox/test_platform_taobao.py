"""The Taobao simulator in process: signed TOP calls, the refund_version lock, the 5-day intercept window,
batch approval, disputes and the TMC relay's pushes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lanjie.domain.states import InterceptType, TrackingStatus
from lanjie.sandbox.model import ForcedOutcome

from .platform_support import HOUR, TB_ACK, TB_KEY, TB_PUSH, control, relay_sign, sandbox, taobao

DAY = 24 * HOUR


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def setup(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    """The test shop relaying to TB_PUSH, and one refund (refund-only after shipment by default)."""
    await control(client, "/taobao/shops", {"app_key": TB_KEY, "push_url": TB_PUSH})
    fields = {"type": "refund_only_shipped", "refund_fen": 12300, "waybill_no": "ZT7001", **body}
    return await control(client, "/taobao/aftersales", fields, status=201)


async def state(client: httpx.AsyncClient, refund_id: int) -> dict[str, Any]:
    return await control(client, f"/taobao/aftersales/{refund_id}")


async def refund_get(client: httpx.AsyncClient, refund_id: int, fields: str = "") -> dict[str, Any]:
    answer = await taobao(client, "taobao.refund.get", {"refund_id": str(refund_id), "fields": fields})
    return answer["refund_get_response"]["refund"]


async def commit(client: httpx.AsyncClient, refund: dict[str, Any]) -> dict[str, Any]:
    return await taobao(client, "taobao.rp.refund.intercept", {"refund_id": str(refund["id"]),
                                                                "refund_version": str(refund["refund_version"])})


async def agree(client: httpx.AsyncClient, *infos: tuple[int, int, int], **extra: str) -> dict[str, Any]:
    refund_infos = ",".join(f"{refund_id}|{fen}|{version}|onsale" for refund_id, fen, version in infos)
    return await taobao(client, "taobao.rp.refunds.agree", {"refund_infos": refund_infos, **extra})


@pytest.mark.anyio
async def test_refund_get_answers_money_in_yuan_with_the_version_and_deadline() -> None:
    async with sandbox(TB_ACK) as (_world, client, _receiver):
        refund = await setup(client, paid_fen=20000, order_id="3012345678901234567")
        got = await refund_get(client, refund["id"], "refund_id,tid,status,dispute_type,good_status,refund_fee,"
                                                     "payment,total_fee,refund_version,refund_remind_timeout")

    assert got == {
        "refund_id": str(refund["id"]), "tid": 3012345678901234567, "status": "WAIT_SELLER_AGREE",
        "dispute_type": "REFUND", "good_status": "BUYER_NOT_RECEIVED", "refund_fee": "123.00",
        "payment": "200.00", "total_fee": "200.00", "refund_version": refund["refund_version"],
        "refund_remind_timeout": {"exist_timeout": True, "remind_type": 1, "timeout": "2025-03-03 10:00:00"}}


@pytest.mark.parametrize(("change", "code", "msg"), [
    ({"sign": "0" * 32}, 25, "Invalid signature"),
    ({"session": "expired"}, 27, "Invalid session"),
    ({"key": "NOSUCHKEY"}, 29, "Invalid app Key"),
])
@pytest.mark.anyio
async def test_a_bad_signature_session_or_app_key_gets_the_top_system_error(change: dict[str, str], code: int,
                                                                            msg: str) -> None:
    async with sandbox(TB_ACK) as (_world, client, _receiver):
        refund = await setup(client)
        answer = await taobao(client, "taobao.refund.get", {"refund_id": str(refund["id"]), "fields": "status"},
                              **change)

    error = answer["error_response"]
    assert (error["code"], error["msg"]) == (code, msg)


@pytest.mark.anyio
async def test_detail_offers_the_intercept_only_on_an_unanswered_shipped_refund_only_refund() -> None:
    async with sandbox(TB_ACK) as (_world, client, _receiver):
        shipped = await setup(client)
        unshipped = await control(client, "/taobao/aftersales", {"type": "refund_only_unshipped", "refund_fen": 10},
                                  status=201)
        returning = await control(client, "/taobao/aftersales", {"type": "return_refund", "refund_fen": 10,
                                                                 "waybill_no": "ZT7002"}, status=201)
        offered = []
        for refund in (shipped, unshipped, returning):
            answer = await taobao(client, "taobao.refund.detail.get",
                                  {"refund_id": str(refund["id"]), "fields": "allowedOperations,refund_version"})
            offered.append(answer["refund_detail_get_response"]["allowed_operations"]["string"])

    assert offered == [["APPLY_DELIVERY_INTERCEPT_V2", "NEGOTIATE_TO_RETURN_AND_REFUND", "SELLER_REFUSE"],
                       ["NEGOTIATE_TO_RETURN_AND_REFUND", "SELLER_REFUSE"], ["SELLER_REFUSE"]]


@pytest.mark.anyio
async def test_the_intercept_commitment_starts_the_five_day_window_and_marks_the_attribute() -> None:
    async with sandbox(TB_ACK) as (world, client, receiver):
        refund = await setup(client)
        await world.advance(HOUR)
        answer = await commit(client, refund)
        await world.settle()
        got = await refund_get(client, refund["id"], "attribute,refund_version,refund_remind_timeout")

    assert list(answer["rp_refund_intercept_response"]) == ["request_id"]
    items = json.dumps([{"subBizOrderId": str(refund["oid"]), "logisticInterceptEnum": "INTERCEPT_APPLY",
                         "autoInterceptAgree": 0}], separators=(",", ":")).replace(":", "#3B")
    assert got["attribute"] == f";bizCode:taobao.general.refund;interceptItemListResult:{items};"
    assert got["refund_remind_timeout"] == {"exist_timeout": True, "remind_type": 2, "timeout": "2025-03-06 11:00:00"}
    assert got["refund_version"] > refund["refund_version"]
    assert receiver.topics() == ["RefundCreated"]  # the commitment itself sends no message


@pytest.mark.anyio
async def test_a_stale_version_cannot_commit_to_intercept() -> None:
    async with sandbox(TB_ACK) as (_world, client, _receiver):
        refund = await setup(client)
        answer = await commit(client, {**refund, "refund_version": refund["refund_version"] - 1})
        after = await state(client, refund["id"])

    assert (answer["error_response"]["code"], answer["error_response"]["sub_code"]) == (
        15, "isv.refund-version-expired")
    assert (after["intercept"], after["refund_version"]) == (None, refund["refund_version"])


@pytest.mark.parametrize(("outcome", "expected"), [(ForcedOutcome.succeed, "INTERCEPT_SUCCESS"),
                                                    (ForcedOutcome.missed, "INTERCEPT_FAILED")])
@pytest.mark.anyio
async def test_the_intercept_state_follows_the_parcel_in_the_world(outcome: ForcedOutcome, expected: str) -> None:
    async with sandbox(TB_ACK) as (world, client, _receiver):
        world.create_parcel(carrier_code="zto", waybill_no="ZT7001", stage=TrackingStatus.in_transit)
        refund = await setup(client)
        await commit(client, refund)
        world.request_intercept(carrier_code="zto", waybill_no="ZT7001", intercept_type=InterceptType.return_to_sender,
                                report_to={})
        world.force_outcome("ZT7001", outcome)
        after = await state(client, refund["id"])

    assert after["intercept"] == expected
    assert f'"logisticInterceptEnum"#3B"{expected}"' in after["attribute"]
    assert after["status"] == "WAIT_SELLER_AGREE"


@pytest.mark.anyio
async def test_the_window_ending_without_a_refund_auto_agrees_and_pays() -> None:
    async with sandbox(TB_ACK) as (world, client, receiver):
        refund = await setup(client)
        await commit(client, refund)
        await world.advance(5 * DAY - 1)
        before = await state(client, refund["id"])
        await world.advance(1)
        after = await state(client, refund["id"])

    assert before["status"] == "WAIT_SELLER_AGREE"
    assert (after["status"], after["auto_agreed_on_timeout"], after["refund_paid"]) == ("SUCCESS", True, True)
    assert receiver.topics() == ["RefundCreated", "RefundSellerAgreeAgreement", "RefundSuccess"]


@pytest.mark.anyio
async def test_a_batch_approval_succeeds_per_refund_with_some_op_succ() -> None:
    async with sandbox(TB_ACK) as (_world, client, _receiver):
        good = await setup(client)
        stale = await control(client, "/taobao/aftersales", {"type": "refund_only_shipped", "refund_fen": 500,
                                                            "waybill_no": "ZT7003"}, status=201)
        large = await control(client, "/taobao/aftersales", {"type": "refund_only_shipped", "refund_fen": 200001,
                                                            "waybill_no": "ZT7004"}, status=201)
        answer = await agree(client, (good["id"], 12300, good["refund_version"]),
                             (stale["id"], 500, stale["refund_version"] - 1),
                             (large["id"], 200001, large["refund_version"]))
        statuses = [(await state(client, r["id"]))["status"] for r in (good, stale, large)]

    body = answer["rp_refunds_agree_response"]
    assert (body["msg_code"], body["succ"]) == ("SOME_OP_SUCC", False)
    assert body["results"]["refund_mapping_result"] == [
        {"refund_id": good["id"], "succ": True, "message": "success"},
        {"refund_id": stale["id"], "succ": False, "message": "isv.refund-version-expired"},
        {"refund_id": large["id"], "succ": False, "message": "isv.need-verify-code"}]
    assert statuses == ["SUCCESS", "WAIT_SELLER_AGREE", "WAIT_SELLER_AGREE"]


@pytest.mark.anyio
async def test_a_large_refund_is_agreed_with_the_sms_code() -> None:
    async with sandbox(TB_ACK) as (_world, client, _receiver):
        large = await setup(client, refund_fen=200001)
        answer = await agree(client, (large["id"], 200001, large["refund_version"]), code="123456")

    assert answer["rp_refunds_agree_response"]["msg_code"] == "OP_SUCC"


@pytest.mark.parametrize(("platform", "count", "accepted"), [("taobao", 21, False), ("tmall", 21, True),
                                                             ("tmall", 31, False)])
@pytest.mark.anyio
async def test_batch_limits_follow_the_shops_platform(platform: str, count: int, accepted: bool) -> None:
    async with sandbox(TB_ACK) as (_world, client, _receiver):
        await control(client, "/taobao/shops", {"app_key": TB_KEY, "platform": platform})
        refunds = [await control(client, "/taobao/aftersales", {"type": "refund_only_shipped", "refund_fen": 100,
                                                               "waybill_no": f"ZT80{n:02d}"}, status=201)
                   for n in range(count)]
        answer = await agree(client, *[(r["id"], 100, r["refund_version"]) for r in refunds])
        paid = [(await state(client, r["id"]))["refund_paid"] for r in refunds]

    if accepted:
        assert answer["rp_refunds_agree_response"]["msg_code"] == "OP_SUCC"
        assert paid == [True] * count
    else:
        assert (answer["error_response"]["code"], answer["error_response"]["sub_code"]) == (
            15, "isv.batch-limit-exceeded")
        assert paid == [False] * count


@pytest.mark.anyio
async def test_a_refused_buyer_asks_taobao_to_intervene_and_taobao_intervenes() -> None:
    async with sandbox(TB_ACK) as (world, client, receiver):
        refund = await setup(client, buyer={"escalate_after_rejection_seconds": 3 * HOUR})
        answer = await taobao(client, "taobao.refund.refuse", {"refund_id": str(refund["id"]),
                                                               "refuse_message": "包裹已在派送途中"})
        await world.advance(3 * HOUR)
        applied = await state(client, refund["id"])
        await world.advance(DAY)
        intervened = await state(client, refund["id"])

    assert answer["refund_refuse_response"]["refund"]["status"] == "SELLER_REFUSE_BUYER"
    assert (applied["cs_status"], intervened["cs_status"]) == (2, 3)
    assert receiver.topics() == ["RefundCreated", "RefundSellerRefuseAgreement", "TaobaoInterApplied",
                                 "TaobaoIntervened"]


@pytest.mark.anyio
async def test_a_buyer_who_changes_the_request_sends_modify_agreement_with_the_new_dispute_type() -> None:
    async with sandbox(TB_ACK) as (world, client, receiver):
        refund = await setup(client)
        await control(client, f"/taobao/aftersales/{refund['id']}/buyer", {"action": "change_type"})
        await world.settle()
        got = await refund_get(client, refund["id"], "dispute_type,has_good_return")

    assert receiver.topics() == ["RefundCreated", "RefundBuyerModifyAgreement"]
    assert receiver.data()[1]["dispute_type"] == "REFUND_AND_RETURN"
    assert got == {"dispute_type": "REFUND_AND_RETURN", "has_good_return": True}


@pytest.mark.anyio
async def test_relayed_messages_are_signed_and_retried_until_acknowledged() -> None:
    async with sandbox(TB_ACK) as (world, client, receiver):
        receiver.answers = [httpx.Response(200, content=b'{"result":"fail"}')]
        refund = await setup(client)
        await world.advance(300)
        after = await state(client, refund["id"])

    first = receiver.pushes[0]
    assert (first.headers["x-lanjie-tmc-appkey"], first.headers["x-lanjie-tmc-sign"]) == (
        TB_KEY, relay_sign(first.content))
    message = receiver.messages()[0]
    assert sorted(message) == ["content", "id", "pub_time", "topic", "user_id"]
    assert json.loads(message["content"])["refund_fee"] == "123.00"
    assert [a["acked"] for a in after["messages"][0]["attempts"]] == [False, True]


@pytest.mark.anyio
async def test_a_restarted_simulator_repeats_no_refund_id_or_message_id_of_the_earlier_run() -> None:
    # A restarted demo faces the same lanjie database: a repeated message id would be dropped as a duplicate.
    runs = []
    for _ in range(2):
        async with sandbox(TB_ACK) as (world, client, receiver):
            refund = await setup(client)
            await world.settle()
        runs.append((refund["id"], receiver.messages()[0]["id"]))

    (first_id, first_msg), (second_id, second_msg) = runs
    assert [len(str(n)) for n in (first_id, second_id)] == [18, 18]
    assert (first_msg, second_msg) == (f"{first_id}000001", f"{second_id}000001")  # the refund's id, a serial
    assert second_id > first_id
