"""The Douyin simulator in process: signed OpenAPI calls, the update_time lock, batches, deadlines, buyers, pushes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lanjie.domain.states import TrackingStatus
from lanjie.sandbox.config import PlatformSettings, PopulationRates

from .platform_support import DY_ACK, DY_KEY, DY_PUSH, HOUR, control, douyin, dy_sign, event_sign, sandbox
from .support import START_AT

START = int(START_AT.timestamp())


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def setup(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    """The test shop pushing to DY_PUSH, and one after-sale (refund-only after shipment by default)."""
    await control(client, "/douyin/shops", {"app_key": DY_KEY, "push_url": DY_PUSH})
    fields = {"type": "refund_only_shipped", "refund_fen": 5990, "waybill_no": "ZT5001", "company_code": "zhongtong",
              **body}
    return await control(client, "/douyin/aftersales", fields, status=201)


async def state(client: httpx.AsyncClient, case_id: int) -> dict[str, Any]:
    return await control(client, f"/douyin/aftersales/{case_id}")


async def operate(client: httpx.AsyncClient, op_type: int, *items: dict[str, Any]) -> dict[str, Any]:
    return await douyin(client, "afterSale.operate", {"type": op_type, "items": list(items)})


REJECT = {"reject_reason_code": 1, "reason": "商品已发出", "evidence": [{"type": 1, "url": "https://e.example/1.jpg"}]}


@pytest.mark.anyio
async def test_signed_detail_answers_the_case_with_the_sdk_field_names() -> None:
    async with sandbox(DY_ACK) as (world, client, _receiver):
        world.create_parcel(carrier_code="zto", waybill_no="ZT5001", stage=TrackingStatus.in_transit)
        case = await setup(client, order_id="6912345678901234567", paid_fen=5990, company_code="")  # from the parcel
        answer = await douyin(client, "afterSale.Detail", {"after_sale_id": str(case["id"]),
                                                           "need_operation_record": False})

    assert (answer["code"], answer["msg"], answer["sub_code"]) == (10000, "success", "")
    info = answer["data"]["process_info"]["after_sale_info"]
    assert {k: info[k] for k in ("after_sale_id", "after_sale_status", "after_sale_type", "refund_status",
                                 "refund_total_amount", "update_time", "status_deadline")} == {
        "after_sale_id": case["id"], "after_sale_status": 6, "after_sale_type": 1, "refund_status": 1,
        "refund_total_amount": 5990, "update_time": START, "status_deadline": START + 48 * 3600}
    assert answer["data"]["process_info"]["logistics_info"]["order"] == [{
        "tracking_no": "ZT5001", "company_code": "zhongtong", "company_name": "中通快递", "logistics_state": 0,
        "logistics_time": START, "value_added_services": []}]
    assert answer["data"]["order_info"]["shop_order_id"] == 6912345678901234567
    assert answer["data"]["process_info"]["arbitrate_info"]["arbitrate_status"] == 0


@pytest.mark.anyio
async def test_a_signature_over_other_bytes_is_refused_with_40004_sign_and_changes_nothing() -> None:
    async with sandbox(DY_ACK) as (world, client, receiver):
        case = await setup(client)
        params = {"type": 201, "items": [{"aftersale_id": str(case["id"])}]}
        other_bytes = json.dumps(params, separators=(", ", ":"))  # same JSON, different bytes
        answer = await douyin(client, "afterSale.operate", params, sign=dy_sign("afterSale.operate", other_bytes))
        await world.settle()
        after = await state(client, case["id"])

    assert {k: answer[k] for k in ("code", "sub_code", "data")} == {
        "code": 40004, "sub_code": "isv.parameter-invalid:sign", "data": {}}
    assert (after["after_sale_status"], after["update_time"], receiver.tags()) == (6, case["update_time"], ["200"])


@pytest.mark.anyio
async def test_a_wrong_access_token_is_refused_with_40003() -> None:
    async with sandbox(DY_ACK) as (_world, client, _receiver):
        case = await setup(client)
        answer = await douyin(client, "afterSale.Detail", {"after_sale_id": str(case["id"])}, token="stale")

    assert (answer["code"], answer["sub_code"]) == (40003, "isv.access-token-invalid")


@pytest.mark.anyio
async def test_approving_a_shipped_refund_pays_it_and_pushes_201_then_206_signed() -> None:
    async with sandbox(DY_ACK) as (world, client, receiver):
        case = await setup(client)
        answer = await operate(client, 201, {"aftersale_id": str(case["id"]), "update_time": case["update_time"]})
        await world.settle()
        after = await state(client, case["id"])

    assert answer["data"] == {"items": [{"aftersale_id": case["id"], "status_code": 0, "status_msg": "success"}]}
    assert (after["after_sale_status"], after["refund_status"], after["resolution"], after["refund_paid"]) == (
        12, 3, "merchant_refund", True)
    assert after["update_time"] == case["update_time"] + 1  # strictly later although the clock did not move
    assert receiver.tags() == ["200", "201", "206"]
    assert [d["aftersale_status"] for d in receiver.data()] == [6, 12, 12]
    assert all(p.headers["app-id"] == DY_KEY and p.headers["event-sign"] == event_sign(p.content)
               for p in receiver.pushes)
    assert [m["acked"] for m in after["messages"]] == [True, True, True]


@pytest.mark.anyio
async def test_stale_update_time_is_refused_with_20309541_and_nothing_is_applied() -> None:
    async with sandbox(DY_ACK) as (world, client, receiver):
        case = await setup(client)
        answer = await operate(client, 201, {"aftersale_id": str(case["id"]), "update_time": case["update_time"] - 1})
        await world.settle()
        after = await state(client, case["id"])

    assert (answer["code"], answer["sub_code"]) == (50002, "isv.business-failed:20309541")
    assert (after["after_sale_status"], after["refund_status"], receiver.tags()) == (6, 1, ["200"])
    assert after["operations"][-1]["action"] == "operate 201"
    assert after["operations"][-1]["outcome"] == "isv.business-failed:20309541"


@pytest.mark.anyio
async def test_a_second_approval_is_refused_with_20309541() -> None:
    async with sandbox(DY_ACK) as (_world, client, _receiver):
        case = await setup(client)
        first = await operate(client, 201, {"aftersale_id": str(case["id"])})
        second = await operate(client, 201, {"aftersale_id": str(case["id"])})

    assert (first["code"], second["code"], second["sub_code"]) == (10000, 50002, "isv.business-failed:20309541")


@pytest.mark.anyio
async def test_the_back_office_switch_makes_operate_answer_11001() -> None:
    async with sandbox(DY_ACK) as (_world, client, _receiver):
        case = await setup(client, back_office_only=True)
        answer = await operate(client, 201, {"aftersale_id": str(case["id"])})
        await control(client, f"/douyin/aftersales/{case['id']}/settings", {"back_office_only": False})
        later = await operate(client, 201, {"aftersale_id": str(case["id"])})

    assert (answer["code"], answer["sub_code"], later["code"]) == (50002, "isv.business-failed:11001", 10000)


@pytest.mark.anyio
async def test_one_failing_item_fails_the_whole_batch_and_applies_nothing() -> None:
    async with sandbox(DY_ACK) as (world, client, receiver):
        good = await setup(client)
        stale = await setup(client, refund_fen=100, waybill_no="ZT5002")
        answer = await operate(client, 201, {"aftersale_id": str(good["id"]), "update_time": good["update_time"]},
                               {"aftersale_id": str(stale["id"]), "update_time": 1})
        await world.settle()
        statuses = [(await state(client, c["id"]))["after_sale_status"] for c in (good, stale)]

    assert (answer["code"], answer["sub_code"]) == (50002, "isv.business-failed:20309541")
    assert statuses == [6, 6]
    assert receiver.tags() == ["200", "200"]


@pytest.mark.anyio
async def test_more_than_20_items_is_a_parameter_error() -> None:
    async with sandbox(DY_ACK) as (_world, client, _receiver):
        case = await setup(client)
        answer = await operate(client, 201, *[{"aftersale_id": str(case["id"])}] * 21)
        after = await state(client, case["id"])

    assert (answer["code"], answer["sub_code"], after["after_sale_status"]) == (
        40004, "isv.parameter-invalid:11000", 6)


@pytest.mark.anyio
async def test_a_rejection_without_evidence_is_a_parameter_error() -> None:
    async with sandbox(DY_ACK) as (_world, client, _receiver):
        case = await setup(client)
        answer = await operate(client, 202, {"aftersale_id": str(case["id"]), "reject_reason_code": 1,
                                             "reason": "商品已发出"})

    assert (answer["code"], answer["sub_code"]) == (40004, "isv.parameter-invalid:11000")


@pytest.mark.anyio
async def test_a_rejected_buyer_escalates_and_evidence_wins_the_verdict() -> None:
    plan = {"escalate_after_rejection_seconds": 2 * HOUR}
    async with sandbox(DY_ACK) as (world, client, receiver):
        case = await setup(client, buyer=plan, verdict="evidence")
        rejected = await operate(client, 202, {"aftersale_id": str(case["id"]), **REJECT})
        await world.advance(2 * HOUR)
        applied = await state(client, case["id"])
        await world.advance(24 * HOUR)  # customer service intervenes and asks for evidence
        asked = await state(client, case["id"])
        evidence = await douyin(client, "afterSale.submitEvidence", {
            "aftersale_id": case["id"], "comment": "已发货凭证", "evidence": ["https://e.example/waybill.jpg"]})
        await world.advance(72 * HOUR)
        decided = await state(client, case["id"])

    assert rejected["code"] == evidence["code"] == 10000
    assert (applied["after_sale_status"], applied["arbitrate_status"]) == (27, 1)
    assert asked["arbitrate_status"] == 4
    assert (decided["after_sale_status"], decided["arbitrate_status"], decided["arbitrate_conclusion"],
            decided["resolution"], decided["refund_paid"]) == (28, 3, 2, "verdict_merchant", False)
    assert receiver.tags() == ["200", "204", "212", "217", "213", "214", "216"]
    assert receiver.data()[-1]["arbitrate_conclusion"] == 2


@pytest.mark.anyio
async def test_without_evidence_the_verdict_refunds_the_buyer() -> None:
    async with sandbox(DY_ACK) as (world, client, receiver):
        case = await setup(client, buyer={"escalate_if_unanswered_seconds": HOUR})
        await world.advance(HOUR + 24 * HOUR + 72 * HOUR)
        decided = await state(client, case["id"])

    assert (decided["after_sale_status"], decided["refund_status"], decided["arbitrate_status"],
            decided["resolution"]) == (12, 3, 2, "verdict_refund")
    assert receiver.tags() == ["200", "212", "217", "213", "216", "201", "206"]


@pytest.mark.anyio
async def test_the_deadline_passing_auto_agrees_pays_and_is_recorded_as_a_timeout() -> None:
    async with sandbox(DY_ACK) as (world, client, receiver):
        case = await setup(client, deadline_seconds=10 * HOUR)
        await world.advance(10 * HOUR - 1)
        before = await state(client, case["id"])
        await world.advance(1)
        after = await state(client, case["id"])

    assert before["after_sale_status"] == 6
    assert (after["after_sale_status"], after["refund_status"], after["auto_agreed_on_timeout"],
            after["status_deadline"]) == (12, 3, True, 0)
    assert [(o["actor"], o["action"]) for o in after["operations"]] == [("platform", "timeout_auto_agree")]
    assert receiver.tags() == ["200", "201", "206"]
    assert receiver.data()[1]["agree_time"] == START + 10 * 3600


@pytest.mark.anyio
async def test_a_buyer_who_cancels_closes_the_case_with_207_and_no_timeout_follows() -> None:
    async with sandbox(DY_ACK) as (world, client, receiver):
        case = await setup(client, buyer={"cancel_after_seconds": HOUR})
        await world.advance(49 * HOUR)
        after = await state(client, case["id"])

    assert (after["after_sale_status"], after["resolution"], after["refund_paid"]) == (28, "buyer_cancelled", False)
    assert receiver.tags() == ["200", "207"]


@pytest.mark.anyio
async def test_a_buyer_who_changes_the_type_pushes_208_with_type_0_and_209_with_the_new_deadline() -> None:
    async with sandbox(DY_ACK) as (world, client, receiver):
        case = await setup(client, buyer={"change_type_after_seconds": HOUR})
        await world.advance(HOUR)
        after = await state(client, case["id"])
        refused = await operate(client, 201, {"aftersale_id": str(case["id"])})

    assert receiver.tags() == ["200", "208", "209"]
    assert receiver.data()[1]["aftersale_type"] == 0
    assert receiver.data()[2]["status_deadline"] == START + 49 * 3600 == after["status_deadline"]
    assert (after["after_sale_type"], refused["sub_code"]) == (0, "isv.business-failed:20309541")


@pytest.mark.anyio
async def test_a_return_put_into_the_warehouse_refunds_only_with_the_assistant_strategy() -> None:
    async with sandbox(DY_ACK) as (world, client, receiver):
        case = await setup(client, type="return_refund")
        approved = await operate(client, 101, {"aftersale_id": str(case["id"])})
        await control(client, f"/douyin/aftersales/{case['id']}/buyer", {"action": "ship_return"})
        received = {"aftersale_id": str(case["id"]), "op_time": START}
        without = await douyin(client, "afterSale.returnGoodsToWareHouseSuccess", received)
        await control(client, "/douyin/shops", {"app_key": DY_KEY, "assistant_strategy": True})
        with_strategy = await douyin(client, "afterSale.returnGoodsToWareHouseSuccess", received)
        await world.settle()
        after = await state(client, case["id"])

    assert approved["code"] == with_strategy["code"] == 10000
    assert (without["code"], without["sub_code"]) == (50002, "isv.business-failed:11002")
    assert (after["after_sale_status"], after["refund_status"], after["resolution"]) == (12, 3, "assistant_refund")
    assert receiver.tags() == ["200", "202", "203", "209", "201", "206"]


@pytest.mark.anyio
async def test_a_push_not_acknowledged_is_retried_until_it_is() -> None:
    async with sandbox(DY_ACK) as (world, client, receiver):
        receiver.answers = [httpx.Response(500), httpx.Response(200, content=b'{"code":1,"msg":"fail"}')]
        case = await setup(client)
        await world.settle()
        await world.advance(300)
        await world.advance(300)
        after = await state(client, case["id"])

    attempts = after["messages"][0]["attempts"]
    assert [(a["attempt"], a["acked"], a["http_status"]) for a in attempts] == [
        (0, False, 500), (1, False, 200), (2, True, 200)]
    assert len({p.content for p in receiver.pushes}) == 1  # the same signed bytes every time


@pytest.mark.anyio
async def test_without_a_push_url_messages_are_recorded_and_not_sent() -> None:
    async with sandbox(DY_ACK) as (world, client, receiver):
        case = await control(client, "/douyin/aftersales", {"type": "refund_only_shipped", "refund_fen": 100,
                                                           "waybill_no": "ZT5003", "company_code": "yunda"}, status=201)
        await world.settle()

    assert [(m["topic"], m["url"], m["attempts"]) for m in case["messages"]] == [("200", None, [])]
    assert receiver.pushes == []


@pytest.mark.anyio
async def test_a_shop_registration_answers_what_is_known_without_secrets() -> None:
    async with sandbox(DY_ACK) as (_world, client, _receiver):
        shop = await control(client, "/douyin/shops", {"app_key": "K2", "app_secret": "S2", "access_token": "T2",
                                                       "shop_id": "2000002", "push_url": DY_PUSH})
        foreign = await client.post("/control/platforms/douyin/shops", json={"app_key": "K2", "session": "x"})

    assert shop == {"platform": "douyin", "app_key": "K2", "shop_id": 2000002, "push_url": DY_PUSH,
                    "assistant_strategy": False}
    assert (foreign.status_code, foreign.json()["detail"]) == (422, "session: not a douyin shop field")


@pytest.mark.anyio
async def test_the_demo_population_draws_a_buyer_plan_when_none_is_given() -> None:
    rates = PopulationRates(cancel=1.0, change_type=0.0, escalate_after_rejection=0.0, escalate_if_unanswered=0.0)
    async with sandbox(DY_ACK, platforms=PlatformSettings(population=rates)) as (_world, client, _receiver):
        drawn = await setup(client)
        planned = await setup(client, buyer={})

    assert drawn["buyer"]["cancel_after_seconds"] == rates.cancel_seconds
    assert drawn["buyer"]["escalate_after_rejection_seconds"] is None
    assert planned["buyer"]["cancel_after_seconds"] is None


@pytest.mark.anyio
async def test_a_restarted_simulator_repeats_no_after_sale_id_or_msg_id_of_the_earlier_run() -> None:
    # A restarted demo faces the same lanjie database: a repeated msg_id would be dropped as a duplicate.
    runs = []
    for _ in range(2):
        async with sandbox(DY_ACK) as (world, client, receiver):
            case = await setup(client)
            await world.settle()
        runs.append((case["id"], receiver.messages()[0]["msg_id"]))

    (first_id, first_msg), (second_id, second_msg) = runs
    assert [len(str(n)) for n in (first_id, second_id)] == [19, 19]  # Douyin's 19-digit numbers
    assert [len(m) for m in (first_msg, second_msg)] == [19, 19]
    assert (str(first_id)[:2], first_msg[:2]) == ("73", "71")
    assert second_id > first_id and int(second_msg) > int(first_msg)


@pytest.mark.anyio
async def test_an_after_sale_takes_its_parcels_company_and_a_courier_douyin_does_not_carry_is_refused() -> None:
    async with sandbox(DY_ACK) as (world, client, _receiver):
        world.create_parcel(carrier_code="shunfeng", waybill_no="SF1234567890", stage=TrackingStatus.in_transit)
        world.create_parcel(carrier_code="ups", waybill_no="1Z999AA10123456784", stage=TrackingStatus.in_transit)
        sf = await setup(client, waybill_no="SF1234567890", company_code="")
        ups = await client.post("/control/platforms/douyin/aftersales", json={
            "type": "refund_only_shipped", "refund_fen": 100, "waybill_no": "1Z999AA10123456784"})
        known = await control(client, "/douyin/aftersales")

    assert sf["company_code"] == "shunfeng"
    assert (ups.status_code, ups.json()["detail"].split(":")[0]) == (422, "company_code")
    assert [case["id"] for case in known["aftersales"]] == [sf["id"]]
