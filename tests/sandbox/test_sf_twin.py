"""The SF twin over its own wire: the gateway's checks, its business rules, and its route pushes.

Requests are signed here from the recipe (Java ``URLEncoder``, raw MD5, Base64) with a per-character
encoder of the test's own, independently of the sandbox's code; pushes are received in process
through an ``httpx.MockTransport`` on the world's push client.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote_plus

import httpx
import pytest

from lanjie.domain.states import TrackingStatus
from lanjie.sandbox import SandboxConfig, SandboxWorld, create_sandbox_app
from lanjie.sandbox.faults import FaultPlan, FaultSettings
from lanjie.sandbox.model import Channel, ForcedOutcome

START_AT = datetime(2025, 3, 1, 2, 0, 0, tzinfo=UTC)  # 2025-03-01 10:00:00 in Beijing
T = "1740794400000"
PARTNER, CHECK_WORD = "SFSANDBOX01", "sfSandboxCheckWord0123456789abcd"
CALLBACK = "https://lanjie.example/cb/sf/tok"
ADDRESS = {"contact": "示例商家", "phone": "13800000000", "address": "杭州市西湖区仓库 *1号~"}
GOOD_ACK = json.dumps({"return_code": "0000", "return_msg": "成功"}, ensure_ascii=False).encode()
HOUR = 3600


def java_encode(text: str) -> str:
    """``java.net.URLEncoder.encode(text, "UTF-8")``, character by character, from its documentation."""
    out = []
    for ch in text:
        if ch.isascii() and (ch.isalnum() or ch in ".-*_"):
            out.append(ch)
        elif ch == " ":
            out.append("+")
        else:
            out.extend(f"%{byte:02X}" for byte in ch.encode("utf-8"))
    return "".join(out)


def sign(msg_data: str, timestamp: str = T, check_word: str = CHECK_WORD) -> str:
    encoded = java_encode(msg_data + timestamp + check_word)
    return base64.b64encode(hashlib.md5(encoded.encode("ascii")).digest()).decode("ascii")


@dataclass
class Receiver:
    """lanjie's end of the pushes: records each, answers from a script, then with the right ack."""

    seen: list[httpx.Request] = field(default_factory=list)
    script: deque[httpx.Response] = field(default_factory=deque)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return self.script.popleft() if self.script else httpx.Response(200, content=GOOD_ACK)

    def forms(self, url: str = CALLBACK) -> list[dict[str, str]]:
        return [{k: v[0] for k, v in parse_qs(r.content.decode("ascii"), keep_blank_values=True).items()}
                for r in self.seen if str(r.url) == url]

    def routes(self, url: str = CALLBACK) -> list[list[dict[str, str]]]:
        return [json.loads(form["msgData"])["Body"]["WaybillRoute"] for form in self.forms(url)]


@dataclass
class Twin:
    world: SandboxWorld
    client: httpx.AsyncClient
    receiver: Receiver
    _ids: int = 0

    async def call(self, service_code: str, data: dict[str, Any] | str, *, partner: str = PARTNER,
                   check_word: str = CHECK_WORD, request_id: str | None = None, digest: str | None = None,
                   drop: tuple[str, ...] = ()) -> dict[str, Any]:
        msg_data = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        if request_id is None:
            self._ids += 1
            request_id = f"req-{self._ids}"
        form = {"partnerID": partner, "requestID": request_id, "serviceCode": service_code, "timestamp": T,
                "msgDigest": digest if digest is not None else sign(msg_data, T, check_word), "msgData": msg_data}
        response = await self.client.post("/sf/std/service", data={k: v for k, v in form.items() if k not in drop})
        assert response.status_code == 200, response.text
        return response.json()

    async def business(self, service_code: str, data: dict[str, Any] | str, **options: Any) -> dict[str, Any]:
        """The decoded ``apiResultData`` of an answer whose envelope is A1000."""
        answer = await self.call(service_code, data, **options)
        assert answer["apiResultCode"] == "A1000", answer
        return json.loads(answer["apiResultData"])

    async def intercept(self, waybill_no: str, service_code: str = "2", **extra: Any) -> dict[str, Any]:
        data = {"waybillNo": waybill_no, "serviceCode": service_code, "role": "1", "payMode": "4",
                "newDestAddress": ADDRESS, **extra}
        return await self.business("EXP_RECE_WANTED_INTERCEPT", {k: v for k, v in data.items() if v is not None})

    async def register(self, *numbers: str, url: str = CALLBACK, **extra: Any) -> dict[str, Any]:
        data = {"trackingType": "1", "trackingNumber": list(numbers), "callbackUrl": url, **extra}
        return await self.business("EXP_RECE_REGISTER_ROUTE", data)

    async def search(self, *numbers: str, **extra: Any) -> dict[str, Any]:
        data = {"language": "0", "trackingType": "1", "trackingNumber": list(numbers), "methodType": "1", **extra}
        return await self.business("EXP_RECE_SEARCH_ROUTES", data)


@asynccontextmanager
async def sandbox(**config: Any) -> AsyncIterator[Twin]:
    settings = {"time_factor": 0.0, "ack_latency_ms": 0, "start_at": START_AT, "seed": 7, **config}
    world = SandboxWorld(SandboxConfig(**settings))
    receiver = Receiver()
    world._http = httpx.AsyncClient(transport=httpx.MockTransport(receiver))
    transport = httpx.ASGITransport(app=create_sandbox_app(world))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
            yield Twin(world, client, receiver)
    finally:
        await world.stop()


# ---- the gateway ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_accepted_intercept_answers_the_envelope_with_a_json_string_inside() -> None:
    async with sandbox() as twin:
        twin.world.create_parcel(carrier_code="sf", waybill_no="SF1001", stage=TrackingStatus.in_transit)
        answer = await twin.call("EXP_RECE_WANTED_INTERCEPT", {
            "waybillNo": "SF1001", "serviceCode": "2", "role": "1", "payMode": "1", "newDestAddress": ADDRESS})
        task = twin.world.parcels["SF1001"].intercept
        dept = twin.world.parcels["SF1001"].route.nodes[-1].city.area_code

    assert task is not None
    assert answer == {"apiResultCode": "A1000", "apiErrorMsg": "", "apiResponseID": "SBX000000000001",
                      "apiResultData": answer["apiResultData"]}
    assert json.loads(answer["apiResultData"]) == {
        "success": True, "errorCode": "S0000", "errorMsg": None,
        "msgData": {"cusId": task.task_id, "amount": 12.35,
                    "freightAdditionInfoResp": {"interceptionDeptCode": dept, "transferFlg": "0"}}}
    assert (task.fee_minor, task.state, task.effective_at) == (1235, "pending", datetime(2025, 3, 1, 2, 10,
                                                                                         tzinfo=UTC))


@pytest.mark.anyio
@pytest.mark.parametrize("missing", ["partnerID", "requestID", "serviceCode", "timestamp", "msgDigest", "msgData"])
async def test_a_missing_form_field_is_a1001_naming_it(missing: str) -> None:
    async with sandbox() as twin:
        answer = await twin.call("EXP_RECE_SEARCH_ROUTES", {"trackingType": "1"}, drop=(missing,))

    assert (answer["apiResultCode"], answer["apiErrorMsg"], answer["apiResultData"]) == (
        "A1001", f"必传参数不可为空：{missing}", None)


@pytest.mark.anyio
async def test_a_request_id_longer_than_40_is_refused() -> None:
    async with sandbox() as twin:
        answer = await twin.call("EXP_RECE_SEARCH_ROUTES", {}, request_id="r" * 41)
        fits = await twin.call("EXP_RECE_SEARCH_ROUTES", {}, request_id="r" * 40)

    assert (answer["apiResultCode"], answer["apiErrorMsg"]) == ("A1001", "requestID 长度不能超过40")
    assert fits["apiResultCode"] == "A1000"


@pytest.mark.anyio
async def test_the_digest_is_javas_url_encoding_and_pythons_quote_plus_does_not_verify() -> None:
    data = json.dumps({"language": "0", "trackingType": "1", "trackingNumber": ["SF 1*~"]}, ensure_ascii=False)
    python_style = base64.b64encode(hashlib.md5(quote_plus(data + T + CHECK_WORD).encode()).digest()).decode()
    async with sandbox() as twin:
        java = await twin.call("EXP_RECE_SEARCH_ROUTES", data)
        python = await twin.call("EXP_RECE_SEARCH_ROUTES", data, digest=python_style)

    assert python_style != sign(data)
    assert java["apiResultCode"] == "A1000"
    assert (python["apiResultCode"], python["apiErrorMsg"], python["apiResultData"]) == ("A1006", "数字签名无效", None)


@pytest.mark.anyio
@pytest.mark.parametrize(("options", "code"), [
    ({"check_word": "WRONG"}, "A1006"),
    ({"partner": "NOSUCH"}, "A1004"),
    ({"partner": "SFOLD", "check_word": "old"}, "A1004"),  # expired
])
async def test_an_unknown_or_expired_account_or_a_bad_digest_is_refused(options: dict[str, str], code: str) -> None:
    async with sandbox() as twin:
        twin.world.twins["sf"].register_account({"partner_id": "SFOLD", "check_word": "old"}, expired=True)
        answer = await twin.call("EXP_RECE_SEARCH_ROUTES", {}, **options)

    assert (answer["apiResultCode"], answer["apiResultData"]) == (code, None)


@pytest.mark.anyio
async def test_a_service_the_sandbox_does_not_serve_is_a1004() -> None:
    async with sandbox() as twin:
        answer = await twin.call("EXP_RECE_CREATE_ORDER", {})

    assert (answer["apiResultCode"], answer["apiErrorMsg"]) == ("A1004", "无对应服务权限：EXP_RECE_CREATE_ORDER")


@pytest.mark.anyio
async def test_a_reused_request_id_gets_the_first_answer_and_does_nothing_again() -> None:
    async with sandbox() as twin:
        twin.world.create_parcel(carrier_code="sf", waybill_no="SF1002", stage=TrackingStatus.in_transit)
        data = {"waybillNo": "SF1002", "serviceCode": "2", "role": "1", "payMode": "1", "newDestAddress": ADDRESS}
        first = await twin.call("EXP_RECE_WANTED_INTERCEPT", data, request_id="same-id")
        again = await twin.call("EXP_RECE_WANTED_INTERCEPT", data, request_id="same-id")
        other = await twin.call("EXP_RECE_WANTED_INTERCEPT", data, request_id="other-id")

    assert again == first
    assert json.loads(other["apiResultData"])["errorCode"] == "8016"
    assert other["apiResponseID"] != first["apiResponseID"]


@pytest.mark.anyio
async def test_msg_data_that_is_not_a_json_object_is_8001() -> None:
    async with sandbox() as twin:
        result = await twin.business("EXP_RECE_SEARCH_ROUTES", "[1, 2]")

    assert result == {"success": False, "errorCode": "8001", "errorMsg": "参数错误：msgData 不是合法的 JSON 对象",
                      "msgData": None}


@pytest.mark.anyio
async def test_the_rate_limit_is_answered_in_sfs_words() -> None:
    async with sandbox() as twin:
        twin.world.faults.set_plan(FaultPlan(default=FaultSettings(rate_limit_per_second=1)))
        first = await twin.call("EXP_RECE_SEARCH_ROUTES", {})
        second = await twin.call("EXP_RECE_SEARCH_ROUTES", {})

    assert first["apiResultCode"] != "A1005"
    assert (second["apiResultCode"], second["apiErrorMsg"]) == ("A1005", "流量受控，请稍后再试")


# ---- EXP_RECE_WANTED_INTERCEPT --------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(("overrides", "code", "message"), [
    ({"waybillNo": None}, "8001", "参数错误：缺少 waybillNo"),
    ({"serviceCode": "3"}, "8001", "参数错误：serviceCode 不支持 3（仅 1 转寄、2 退回）"),
    ({"role": "9"}, "8001", "参数错误：role 必须是 1、2 或 3"),
    ({"payMode": None}, "8001", "参数错误：缺少 payMode"),
    ({"newDestAddress": None}, "8002", "参数错误：转寄、退回需要 newDestAddress"),
    ({"newDestAddress": None, "serviceCode": "1"}, "8002", "参数错误：转寄、退回需要 newDestAddress"),
    ({"newDestAddress": {"contact": "李四", "address": "上海市"}}, "8002", "参数错误：缺少 newDestAddress.phone"),
    ({"newDestAddress": {**ADDRESS, "address": 7}}, "8002", "参数错误：newDestAddress.address 必须是字符串"),
])
async def test_a_bad_intercept_parameter_is_refused_naming_it(overrides: dict[str, Any], code: str,
                                                              message: str) -> None:
    async with sandbox() as twin:
        twin.world.create_parcel(carrier_code="sf", waybill_no="SF1003", stage=TrackingStatus.in_transit)
        data = {"waybillNo": "SF1003", "serviceCode": "2", "role": "1", "payMode": "1", "newDestAddress": ADDRESS,
                **overrides}
        result = await twin.business("EXP_RECE_WANTED_INTERCEPT", {k: v for k, v in data.items() if v is not None})
        task = twin.world.parcels["SF1003"].intercept

    assert result == {"success": False, "errorCode": code, "errorMsg": message, "msgData": None}
    assert task is None


@pytest.mark.anyio
@pytest.mark.parametrize(("stage", "code"), [("created", "8103"), ("out_for_delivery", "8102"),
                                              ("delivered", "8101")])
async def test_an_intercept_outside_the_window_is_refused(stage: str, code: str) -> None:
    async with sandbox() as twin:
        twin.world.create_parcel(carrier_code="sf", waybill_no="SF1004", stage=TrackingStatus(stage))
        result = await twin.intercept("SF1004")

    assert (result["success"], result["errorCode"], result["msgData"]) == (False, code, None)


@pytest.mark.anyio
async def test_a_waybill_is_intercepted_successfully_at_most_once() -> None:
    async with sandbox() as twin:
        twin.world.create_parcel(carrier_code="sf", waybill_no="SF1005", stage=TrackingStatus.in_transit)
        first = await twin.intercept("SF1005")
        while_pending = await twin.intercept("SF1005")
        other_kind = await twin.intercept("SF1005", service_code="1")
        await twin.world.advance(4 * HOUR)
        after_success = await twin.intercept("SF1005")
        cancel = await twin.intercept("SF1005", cancel=True, cusId=first["msgData"]["cusId"], serviceCode=None)

    assert twin.world.parcels["SF1005"].intercept.state == "succeeded"  # type: ignore[union-attr]
    assert (while_pending["errorCode"], while_pending["msgData"]["cusId"]) == ("8016", first["msgData"]["cusId"])
    assert (other_kind["errorCode"], after_success["errorCode"]) == ("8104", "8104")
    assert (cancel["errorCode"], cancel["errorMsg"]) == ("8107", "拦截已完成，不可撤销")


@pytest.mark.anyio
async def test_another_accounts_pending_intercept_is_not_a_duplicate() -> None:
    async with sandbox() as twin:
        twin.world.twins["sf"].register_account({"partner_id": "SFOTHER", "check_word": "otherWord"})
        twin.world.create_parcel(carrier_code="sf", waybill_no="SF1006", stage=TrackingStatus.in_transit)
        await twin.intercept("SF1006")
        data = {"waybillNo": "SF1006", "serviceCode": "2", "role": "1", "payMode": "1", "newDestAddress": ADDRESS}
        other = await twin.business("EXP_RECE_WANTED_INTERCEPT", data, partner="SFOTHER", check_word="otherWord")
        cus_id = twin.world.parcels["SF1006"].intercept.task_id  # type: ignore[union-attr]
        theirs = await twin.business("EXP_RECE_WANTED_INTERCEPT", {"waybillNo": "SF1006", "cancel": True,
                                                                    "cusId": cus_id},
                                     partner="SFOTHER", check_word="otherWord")

    assert (other["errorCode"], other["msgData"]) == ("8104", None)
    assert (theirs["errorCode"], theirs["errorMsg"]) == ("8106", f"拦截指令不存在：{cus_id}")


@pytest.mark.anyio
async def test_a_zto_parcel_or_an_unknown_waybill_is_not_supported() -> None:
    async with sandbox() as twin:
        twin.world.create_parcel(carrier_code="zto", waybill_no="ZT1007", stage=TrackingStatus.in_transit)
        zto = await twin.intercept("ZT1007")
        unknown = await twin.intercept("SF0000")

    assert zto["errorCode"] == unknown["errorCode"] == "8105"


# ---- EXP_RECE_SEARCH_ROUTES -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_routes_are_answered_oldest_first() -> None:
    async with sandbox() as twin:
        twin.world.create_parcel(carrier_code="sf", waybill_no="SF1008", stage=TrackingStatus.in_transit)
        twin.world.create_parcel(carrier_code="sf", waybill_no="SF1009", stage=TrackingStatus.created)
        twin.world.create_parcel(carrier_code="zto", waybill_no="ZT1009", stage=TrackingStatus.in_transit)
        result = await twin.search("SF1008", "SF1009", "ZT1009", "SF0000", checkPhoneNo="1234")
        city = twin.world.parcels["SF1008"].route.nodes[0].city.name

    assert result["success"] is True
    first, created, zto, unknown = result["msgData"]["routeResps"]
    assert [(r["acceptTime"], r["opCode"]) for r in first["routes"]] == [
        ("2025-03-01 07:00:00", "9000"), ("2025-03-01 09:00:00", "50"), ("2025-03-01 10:00:00", "30")]
    assert first["routes"][1] == {"acceptTime": "2025-03-01 09:00:00", "acceptAddress": city,
                                  "remark": first["routes"][1]["remark"], "opCode": "50"}
    assert first["routes"][1]["remark"].endswith("已揽收")
    assert [r["opCode"] for r in created["routes"]] == ["9000"]
    assert (zto, unknown) == ({"mailNo": "ZT1009", "routes": []}, {"mailNo": "SF0000", "routes": []})


@pytest.mark.anyio
@pytest.mark.parametrize(("overrides", "message"), [
    ({"trackingType": "2"}, "参数错误：trackingType 只支持 1（按运单号）"),
    ({"trackingNumber": []}, "参数错误：trackingNumber 必须是 1–10 个运单号的列表"),
    ({"trackingNumber": [f"SF{i}" for i in range(11)]}, "参数错误：trackingNumber 必须是 1–10 个运单号的列表"),
    ({"trackingNumber": [123]}, "参数错误：trackingNumber 必须是运单号字符串"),
    ({"checkPhoneNo": "12345"}, "参数错误：checkPhoneNo 必须是手机号后4位"),
])
async def test_a_bad_route_query_is_8001_naming_the_field(overrides: dict[str, Any], message: str) -> None:
    async with sandbox() as twin:
        data = {"trackingType": "1", "trackingNumber": ["SF1"], **overrides}
        result = await twin.business("EXP_RECE_SEARCH_ROUTES", data)

    assert result == {"success": False, "errorCode": "8001", "errorMsg": message, "msgData": None}


# ---- route pushes ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_registration_pushes_the_routes_so_far_then_each_new_one_signed_like_a_request() -> None:
    async with sandbox() as twin:
        twin.world.create_parcel(carrier_code="sf", waybill_no="SF2001", stage=TrackingStatus.in_transit)
        assert await twin.register("SF2001") == {"success": True, "errorCode": "S0000", "errorMsg": None,
                                                 "msgData": None}
        await twin.world.settle()
        await twin.world.advance(3 * HOUR)
        requests = list(twin.receiver.seen)

    first, second = requests
    assert (first.method, str(first.url), first.headers["content-type"]) == (
        "POST", CALLBACK, "application/x-www-form-urlencoded")
    forms = twin.receiver.forms()
    assert [list(form) for form in forms] == [["msgData", "timestamp", "msgDigest"]] * 2
    assert [form["timestamp"] for form in forms] == [T, "1740805200000"]
    for form in forms:
        assert form["msgDigest"] == sign(form["msgData"], form["timestamp"])
    pushed = twin.receiver.routes()
    assert [[(r["id"], r["opCode"], r["acceptTime"]) for r in routes] for routes in pushed] == [
        [("SF20010001", "9000", "2025-03-01 07:00:00"), ("SF20010002", "50", "2025-03-01 09:00:00"),
         ("SF20010003", "30", "2025-03-01 10:00:00")],
        [("SF20010004", "31", "2025-03-01 13:00:00")],
    ]
    assert set(pushed[0][0]) == {"id", "mailno", "orderid", "acceptTime", "acceptAddress", "remark", "opCode",
                                 "reasonCode"}
    assert (pushed[0][0]["mailno"], pushed[0][0]["orderid"], pushed[0][0]["reasonCode"]) == ("SF2001", "", "")


@pytest.mark.anyio
async def test_a_push_with_a_wrong_ack_is_retried_after_the_retry_interval() -> None:
    async with sandbox() as twin:
        twin.receiver.script.extend([httpx.Response(200, json={"return_code": "1000", "return_msg": "err"})])
        twin.world.create_parcel(carrier_code="sf", waybill_no="SF2002", stage=TrackingStatus.picked_up)
        await twin.register("SF2002")
        await twin.world.settle()
        assert len(twin.receiver.seen) == 1
        await twin.world.advance(35 * 60 - 1)
        assert len(twin.receiver.seen) == 1
        await twin.world.advance(1)
        log = [(p.attempt, p.result, p.summary) for p in twin.world.push_log["SF2002"]]

    first, retry = twin.receiver.seen
    assert first.content == retry.content
    assert log == [(0, "failed", "2 routes (9000,50)"), (1, "acked", "2 routes (9000,50)")]


@pytest.mark.anyio
@pytest.mark.parametrize("answer", [
    httpx.Response(500, content=GOOD_ACK), httpx.Response(200, content=b"OK"), httpx.Response(200, json={})])
async def test_anything_but_return_code_0000_is_a_failed_push(answer: httpx.Response) -> None:
    async with sandbox() as twin:
        twin.receiver.script.append(answer)
        twin.world.create_parcel(carrier_code="sf", waybill_no="SF2003", stage=TrackingStatus.picked_up)
        await twin.register("SF2003")
        await twin.world.settle()

    assert [p.result for p in twin.world.push_log["SF2003"]] == ["failed"]


@pytest.mark.anyio
async def test_the_duplicate_fault_delivers_the_same_push_twice() -> None:
    async with sandbox() as twin:
        twin.world.faults.set_plan(FaultPlan(channels={Channel.push: FaultSettings(duplicate_push_rate=1.0)}))
        twin.world.create_parcel(carrier_code="sf", waybill_no="SF2004", stage=TrackingStatus.picked_up)
        await twin.register("SF2004")
        await twin.world.settle()

    first, duplicate = twin.receiver.seen
    assert first.content == duplicate.content
    assert [p.fault for p in twin.world.push_log["SF2004"]] == ["", "duplicate"]


@pytest.mark.anyio
async def test_the_out_of_order_fault_resends_the_previous_push_after_the_new_one() -> None:
    async with sandbox() as twin:
        twin.world.create_parcel(carrier_code="sf", waybill_no="SF2005", stage=TrackingStatus.picked_up)
        await twin.register("SF2005")
        await twin.world.settle()
        twin.world.faults.set_plan(FaultPlan(channels={Channel.push: FaultSettings(out_of_order_rate=1.0)}))
        await twin.world.advance(1 * HOUR)

    pushed = [[r["opCode"] for r in routes] for routes in twin.receiver.routes()]
    assert pushed == [["9000", "50"], ["30"], ["9000", "50"]]
    assert twin.receiver.seen[2].content == twin.receiver.seen[0].content
    assert [p.fault for p in twin.world.push_log["SF2005"]] == ["", "", "out_of_order"]


@pytest.mark.anyio
async def test_intercept_outcomes_reach_lanjie_as_routes() -> None:
    async with sandbox() as twin:
        for waybill_no in ("SF2006", "SF2007", "SF2008"):
            twin.world.create_parcel(carrier_code="sf", waybill_no=waybill_no, stage=TrackingStatus.at_destination)
            await twin.register(waybill_no, url=f"{CALLBACK}/{waybill_no}")
            await twin.intercept(waybill_no)
        await twin.world.settle()
        twin.world.force_outcome("SF2006", ForcedOutcome.succeed)
        twin.world.force_outcome("SF2007", ForcedOutcome.missed)
        twin.world.force_outcome("SF2008", ForcedOutcome.fail)
        await twin.world.settle()

    def pushed(waybill_no: str) -> list[list[str]]:
        return [[r["opCode"] for r in routes] for routes in twin.receiver.routes(f"{CALLBACK}/{waybill_no}")]

    so_far = ["9000", "50", "30", "31", "30", "31", "30", "130"]
    assert pushed("SF2006") == [so_far, ["631"]]  # turned back: a return route
    assert pushed("SF2007") == [so_far, ["80"]]  # delivered before the stop: the signature
    assert pushed("SF2008") == [so_far]  # failed without moving the parcel: no route says so


@pytest.mark.anyio
async def test_a_registration_before_the_parcel_exists_pushes_once_it_is_scanned() -> None:
    async with sandbox() as twin:
        await twin.register("SF2009")
        await twin.world.settle()
        assert twin.receiver.seen == []
        twin.world.create_parcel(carrier_code="sf", waybill_no="SF2009", stage=TrackingStatus.created)
        await twin.world.settle()
        await twin.world.advance(2 * HOUR)

    assert [[r["opCode"] for r in routes] for routes in twin.receiver.routes()] == [["9000"], ["50"]]


@pytest.mark.anyio
async def test_registering_again_moves_the_pushes_to_the_new_url_from_the_start() -> None:
    async with sandbox() as twin:
        twin.world.create_parcel(carrier_code="sf", waybill_no="SF2010", stage=TrackingStatus.in_transit)
        await twin.register("SF2010")
        await twin.world.settle()
        await twin.register("SF2010", url=f"{CALLBACK}/new")
        await twin.world.advance(3 * HOUR)

    assert [[r["opCode"] for r in routes] for routes in twin.receiver.routes()] == [["9000", "50", "30"]]
    assert [[r["opCode"] for r in routes] for routes in twin.receiver.routes(f"{CALLBACK}/new")] == [
        ["9000", "50", "30"], ["31"]]


@pytest.mark.anyio
@pytest.mark.parametrize(("overrides", "message"), [
    ({"callbackUrl": "ftp://x"}, "参数错误：callbackUrl 不是 http(s) 地址"),
    ({"callbackUrl": None}, "参数错误：缺少 callbackUrl"),
    ({"checkPhoneNo": "12a4"}, "参数错误：checkPhoneNo 必须是手机号后4位"),
])
async def test_a_bad_registration_is_8001_naming_the_field(overrides: dict[str, Any], message: str) -> None:
    async with sandbox() as twin:
        data = {"trackingType": "1", "trackingNumber": ["SF1"], "callbackUrl": CALLBACK, **overrides}
        result = await twin.business("EXP_RECE_REGISTER_ROUTE", {k: v for k, v in data.items() if v is not None})

    assert result == {"success": False, "errorCode": "8001", "errorMsg": message, "msgData": None}


# ---- the control API ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_accounts_are_registered_through_the_control_api() -> None:
    async with sandbox() as twin:
        listed = (await twin.client.get("/control/carriers")).json()["sf"]
        made = await twin.client.post("/control/carriers/sf/accounts",
                                      json={"credentials": {"partner_id": "SFNEW", "check_word": "newWord"}})
        bad = await twin.client.post("/control/carriers/sf/accounts", json={"credentials": {"partner_id": "X"}})
        answer = await twin.call("EXP_RECE_SEARCH_ROUTES", {"trackingType": "1", "trackingNumber": ["SF1"]},
                                 partner="SFNEW", check_word="newWord")

    assert listed == {"prefix": "/sf", "test_credentials": {"partner_id": PARTNER, "check_word": CHECK_WORD}}
    assert (made.status_code, made.json()) == (201, {"partner_id": "SFNEW", "expired": False})
    assert (bad.status_code, bad.json()["detail"]) == (422, "credentials: an SF account needs partner_id and "
                                                            "check_word")
    assert answer["apiResultCode"] == "A1000"
