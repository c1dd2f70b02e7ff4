"""The Kdniao twin on its own: answers to hand-signed forms, and the trace pushes it sends (in process).

DataSigns here are computed from the recipe with hashlib and base64, independently of the sandbox's
code. Pushes go to an httpx MockTransport installed as the world's push client.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import httpx
import pytest

from lanjie.domain.states import InterceptType, TrackingStatus
from lanjie.sandbox import SandboxWorld
from lanjie.sandbox.faults import FaultPlan
from lanjie.sandbox.kdniao import SHIPPERS, STATE_OF
from lanjie.sandbox.model import ForcedOutcome
from lanjie.sandbox.route import ScanCode, canonical_carrier

from .support import in_process

EBID, APP_KEY = "1700001", "kdniao-sandbox-app-key-0001"
CALLBACK = "https://shop.example/kdniao/track"
HOUR = 3600


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def data_sign(request_data: str, app_key: str = APP_KEY) -> str:
    return base64.b64encode(hashlib.md5((request_data + app_key).encode()).hexdigest().encode()).decode()


def good_ack(ebid: str = EBID) -> httpx.Response:
    return httpx.Response(200, json={"EBusinessID": ebid, "UpdateTime": "2025-03-01 10:00:00", "Success": True,
                                     "Reason": ""})


@dataclass
class Received:
    url: str
    content_type: str
    raw: bytes
    form: dict[str, str]

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.form["RequestData"])


@dataclass
class Receiver:
    """Records pushes; answers scripted replies first, then the right acknowledgement."""

    replies: list[httpx.Response] = field(default_factory=list)
    seen: list[Received] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = {name: values[0] for name, values in parse_qs(request.content.decode("ascii"),
                                                              strict_parsing=True).items()}
        self.seen.append(Received(str(request.url), request.headers["content-type"], request.content, form))
        return self.replies.pop(0) if self.replies else good_ack()


@dataclass
class Kdniao:
    world: SandboxWorld
    client: httpx.AsyncClient
    receiver: Receiver

    async def post(self, path: str, request_type: str, data: dict[str, Any] | str, *, ebid: str = EBID,
                   app_key: str = APP_KEY, sign: str | None = None, **extra: str) -> dict[str, Any]:
        request_data = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        fields = {"RequestData": request_data, "EBusinessID": ebid, "RequestType": request_type,
                  "DataSign": sign if sign is not None else data_sign(request_data, app_key), "DataType": "2",
                  **extra}
        response = await self.client.post(f"/kdniao{path}", content=urlencode(fields).encode(),
                                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code == 200, response.text
        return response.json()

    async def query(self, code: str, shipper: str = "ZTO", **kwargs: Any) -> dict[str, Any]:
        return await self.post("/Ebusiness/EbusinessOrderHandle.aspx", "1002",
                               {"OrderCode": "", "ShipperCode": shipper, "LogisticCode": code}, **kwargs)

    async def subscribe(self, code: str, shipper: str = "ZTO", callback: str = CALLBACK,
                        **kwargs: Any) -> dict[str, Any]:
        return await self.post("/api/dist", "1008",
                               {"ShipperCode": shipper, "LogisticCode": code, "Callback": callback}, **kwargs)

    def pushes(self) -> list[tuple[int, str]]:
        return [(p.attempt, p.result) for attempts in self.world.push_log.values() for p in attempts]


@asynccontextmanager
async def sandbox(**config: Any) -> AsyncIterator[Kdniao]:
    async with in_process(Receiver(), **config) as (world, client, receiver):
        yield Kdniao(world, client, receiver)


# ---- the real-time query (1002) -----------------------------------------------------------------


@pytest.mark.anyio
async def test_query_answers_the_full_trace_oldest_first() -> None:
    async with sandbox() as kd:
        parcel = kd.world.create_parcel(carrier_code="zto", waybill_no="7300000000001",
                                        stage=TrackingStatus.at_destination)
        answer = await kd.query("7300000000001")

    traces = answer.pop("Traces")
    assert answer == {"EBusinessID": EBID, "OrderCode": "", "ShipperCode": "ZTO", "LogisticCode": "7300000000001",
                      "Success": True, "ResultCode": "100", "Reason": "", "State": "2", "StateEx": "201",
                      "Location": parcel.recipient.city.name}
    assert [t["Action"] for t in traces] == ["10", "1", "2", "2", "2", "2", "2", "201"]
    assert traces[-1] == {"AcceptTime": "2025-03-01 10:00:00", "AcceptStation": parcel.scans[-1].context,
                          "Remark": "", "Location": parcel.recipient.city.name, "Action": "201"}


@pytest.mark.parametrize(("kwargs", "code", "reason"), [
    ({"app_key": "WRONG"}, "102", "数据验证失败：DataSign 不正确"),
    ({"ebid": "9999999"}, "104", "EBusinessID 不存在或已过期"),
    ({"ebid": ""}, "101", "缺少必要参数 EBusinessID"),
    ({"sign": ""}, "101", "缺少必要参数 DataSign"),
    ({"DataType": "1"}, "103", "DataType 只支持 2（JSON）"),
    ({"shipper": "NOSUCH"}, "402", "不支持的快递公司编码 NOSUCH"),
    ({"shipper": "SF"}, "405", "该快递公司需要 CustomerName（手机号后四位）"),
])
@pytest.mark.anyio
async def test_bad_queries_answer_their_result_code(kwargs: dict[str, str], code: str, reason: str) -> None:
    async with sandbox() as kd:
        answer = await kd.query("7300000000002", **kwargs)

    assert answer == {"EBusinessID": kwargs.get("ebid", EBID), "Success": False, "ResultCode": code,
                      "Reason": reason}


@pytest.mark.anyio
async def test_format_errors_and_an_unknown_waybill() -> None:
    async with sandbox() as kd:
        kd.world.create_parcel(carrier_code="yunda", waybill_no="3120000000001", stage=TrackingStatus.in_transit)
        wrong_type = await kd.post("/Ebusiness/EbusinessOrderHandle.aspx", "1008",
                                   {"ShipperCode": "ZTO", "LogisticCode": "1"})
        not_json = await kd.post("/Ebusiness/EbusinessOrderHandle.aspx", "1002", "LogisticCode=1")
        unknown = await kd.query("7399999999999")
        wrong_courier = await kd.query("3120000000001")  # a Yunda parcel asked for as ZTO
        as_yunda = await kd.query("3120000000001", shipper="YD")

    assert (wrong_type["ResultCode"], wrong_type["Reason"]) == ("103", "RequestType 1008 不在此地址提供")
    assert (not_json["ResultCode"], not_json["Reason"]) == ("103", "RequestData 不是合法的 JSON")
    for number, answer in (("7399999999999", unknown), ("3120000000001", wrong_courier)):
        assert answer == {"EBusinessID": EBID, "OrderCode": "", "ShipperCode": "ZTO", "LogisticCode": number,
                          "Success": False, "ResultCode": "404", "Reason": "暂无轨迹信息", "State": "0", "Traces": []}
    assert (as_yunda["ResultCode"], as_yunda["StateEx"]) == ("100", "2")


@pytest.mark.anyio
async def test_the_datasign_field_is_checked_exactly_as_received_once_decoded() -> None:
    async with sandbox() as kd:
        request_data = '{"ShipperCode":"ZTO","LogisticCode":"7300000000003"}'
        sign = data_sign(request_data)
        body = (f"RequestData={quote(request_data, safe='')}&EBusinessID={EBID}&RequestType=1002"
                f"&DataSign={quote(quote(sign, safe=''), safe='')}&DataType=2")  # encoded twice
        response = await kd.client.post("/kdniao/Ebusiness/EbusinessOrderHandle.aspx", content=body.encode(),
                                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        once = await kd.query("7300000000003")

    assert response.json()["ResultCode"] == "102"
    assert once["ResultCode"] == "404"


@pytest.mark.anyio
async def test_an_sf_query_with_the_phone_tail_and_the_rate_limit() -> None:
    async with sandbox() as kd:
        kd.world.create_parcel(carrier_code="shunfeng", waybill_no="SF1000000000001", stage=TrackingStatus.in_transit)
        sf = await kd.post("/Ebusiness/EbusinessOrderHandle.aspx", "1002",
                           {"ShipperCode": "SF", "LogisticCode": "SF1000000000001", "CustomerName": "8000"})
        kd.world.faults.set_plan(FaultPlan.model_validate({"channels": {"query": {"rate_limit_per_second": 1}}}))
        await kd.query("SF1000000000001")
        limited = await kd.query("SF1000000000001")

    assert (sf["ResultCode"], sf["State"]) == ("100", "2")
    assert limited == {"EBusinessID": EBID, "Success": False, "ResultCode": "401", "Reason": "请求过于频繁，请稍后再试"}


def test_every_scan_has_a_state_and_action_and_every_shipper_a_sandbox_courier() -> None:
    assert set(STATE_OF) == set(ScanCode)
    assert {state for state, _ in STATE_OF.values()} <= {"0", "1", "2", "3", "4", "5", "6"}
    assert STATE_OF[ScanCode.intercepted] == ("4", "413")
    assert STATE_OF[ScanCode.return_signed] == ("4", "406")
    assert STATE_OF[ScanCode.damaged] == ("4", "414")
    assert all(canonical_carrier(courier) == courier for courier in SHIPPERS.values())


# ---- subscriptions (1008) and trace pushes (101) --------------------------------------------------


@pytest.mark.anyio
async def test_a_subscription_pushes_one_parcel_with_its_full_history_signed() -> None:
    async with sandbox() as kd:
        kd.world.create_parcel(carrier_code="zto", waybill_no="7300000000004", stage=TrackingStatus.in_transit)
        answer = await kd.subscribe("7300000000004")
        await kd.world.settle()
        await kd.world.advance(3 * HOUR)
        query = await kd.query("7300000000004")

    assert answer == {"EBusinessID": EBID, "UpdateTime": "2025-03-01 10:00:00", "EstimatedDeliveryTime": "",
                      "Success": True, "ResultCode": "100", "Reason": ""}
    first, second = kd.receiver.seen
    for push in (first, second):
        assert (push.url, push.content_type) == (CALLBACK, "application/x-www-form-urlencoded")
        assert list(push.form) == ["RequestData", "DataSign", "RequestType"]
        assert push.form["DataSign"] == data_sign(push.form["RequestData"])
        assert push.form["RequestType"] == "101"
        assert f"DataSign={quote(push.form['DataSign'], safe='')}&".encode() in push.raw
    data = second.data
    [tracing] = data.pop("Data")
    assert data == {"EBusinessID": EBID, "PushTime": "2025-03-01 13:00:00", "Count": "1"}
    traces = tracing.pop("Traces")
    assert tracing == {"EBusinessID": EBID, "OrderCode": "", "ShipperCode": "ZTO", "LogisticCode": "7300000000004",
                       "Success": True, "Reason": "", "State": "2", "StateEx": "2", "Location": query["Location"],
                       "CallBack": CALLBACK, "EstimatedDeliveryTime": ""}
    assert traces == query["Traces"]
    assert traces[:3] == first.data["Data"][0]["Traces"]
    assert kd.pushes() == [(0, "acked"), (0, "acked")]


@pytest.mark.parametrize("ack", [
    {"EBusinessID": EBID, "UpdateTime": "2025-03-01 10:00:00", "Success": False, "Reason": ""},
    {"EBusinessID": EBID, "UpdateTime": "2025-03-01 10:00:00", "Success": True},
    {"EBusinessID": "7654321", "UpdateTime": "2025-03-01 10:00:00", "Success": True, "Reason": ""},
    {"EBusinessID": EBID, "UpdateTime": "2025-03-01 10:00:00", "Success": "true", "Reason": ""},
    {"result": True, "returnCode": "200"},
], ids=["not-success", "no-reason", "other-account", "success-as-text", "kuaidi100-ack"])
@pytest.mark.anyio
async def test_anything_but_the_exact_ack_is_retried_with_the_same_bytes(ack: dict[str, Any]) -> None:
    async with sandbox() as kd:
        kd.receiver.replies.append(httpx.Response(200, json=ack))
        kd.world.create_parcel(carrier_code="zto", waybill_no="7300000000005", stage=TrackingStatus.in_transit)
        await kd.subscribe("7300000000005")
        await kd.world.settle()
        await kd.world.advance(35 * 60)

    first, retry = kd.receiver.seen
    assert retry.raw == first.raw
    assert kd.pushes() == [(0, "failed"), (1, "acked")]


@pytest.mark.anyio
async def test_duplicate_and_out_of_order_faults_resend_a_push() -> None:
    async with sandbox() as kd:
        kd.world.faults.set_plan(FaultPlan.model_validate({"channels": {"push": {"duplicate_push_rate": 1.0}}}))
        kd.world.create_parcel(carrier_code="zto", waybill_no="7300000000006", stage=TrackingStatus.in_transit)
        await kd.subscribe("7300000000006")
        await kd.world.settle()
        kd.world.faults.set_plan(FaultPlan.model_validate({"channels": {"push": {"out_of_order_rate": 1.0}}}))
        await kd.world.advance(3 * HOUR)

    raws = [push.raw for push in kd.receiver.seen]
    assert len(raws) == 4
    assert raws[0] == raws[1]
    assert raws[3] == raws[0] != raws[2]
    faults = [p.fault for attempts in kd.world.push_log.values() for p in attempts]
    assert faults == ["", "duplicate", "", "out_of_order"]


@pytest.mark.anyio
async def test_parcels_scanned_together_are_pushed_one_per_push() -> None:
    async with sandbox() as kd:
        for number in ("7300000000007", "7300000000008"):
            kd.world.create_parcel(carrier_code="zto", waybill_no=number, stage=TrackingStatus.in_transit)
            await kd.subscribe(number)
        await kd.world.settle()

    assert sorted(push.data["Data"][0]["LogisticCode"] for push in kd.receiver.seen) == [
        "7300000000007", "7300000000008"]
    assert {(push.data["Count"], len(push.data["Data"])) for push in kd.receiver.seen} == {("1", 1)}


@pytest.mark.anyio
async def test_the_console_push_url_wins_and_a_subscription_without_any_url_is_refused() -> None:
    async with sandbox() as kd:
        kd.world.twins["kdniao"].register_account({"ebusiness_id": "1700002", "app_key": "key-2",
                                                   "push_url": "https://console.example/push"})
        kd.world.create_parcel(carrier_code="yunda", waybill_no="3120000000002", stage=TrackingStatus.picked_up)
        console = await kd.subscribe("3120000000002", shipper="YD", callback="order-42", ebid="1700002",
                                     app_key="key-2")
        refused = await kd.subscribe("3120000000003", shipper="YD", callback="order-43")
        await kd.world.settle()

    assert console["ResultCode"] == "100"
    assert (refused["ResultCode"], refused["Success"]) == ("101", False)
    [push] = kd.receiver.seen
    assert push.url == "https://console.example/push"
    assert push.form["DataSign"] == data_sign(push.form["RequestData"], "key-2")
    assert push.data["Data"][0]["CallBack"] == "order-42"


@pytest.mark.anyio
async def test_a_repeat_subscription_is_403_and_a_return_ends_it() -> None:
    async with sandbox() as kd:
        kd.world.create_parcel(carrier_code="zto", waybill_no="7300000000009", stage=TrackingStatus.at_destination)
        await kd.subscribe("7300000000009")
        repeat = await kd.subscribe("7300000000009")
        kd.world.request_intercept(carrier_code="zto", waybill_no="7300000000009",
                                   intercept_type=InterceptType.return_to_outlet, report_to={"protocol": "kdniao"})
        kd.world.force_outcome("7300000000009", ForcedOutcome.succeed)
        await kd.world.advance(96 * HOUR)
        after = await kd.subscribe("7300000000009")

    assert (repeat["ResultCode"], repeat["Success"], repeat["Reason"]) == ("403", True, "重复订阅")
    actions = [push.data["Data"][0]["StateEx"] for push in kd.receiver.seen]
    assert actions[1] == "413"
    assert actions[-1] == "406"
    assert set(actions[2:-1]) == {"407"}
    assert after["ResultCode"] == "100"  # the ended subscription may be renewed
