"""The Yunda twin on its own: answers to hand-signed requests, and the pushes it sends (in process).

Signatures here are computed from the recipe with hashlib, independently of the sandbox's code.
Pushes go to an httpx MockTransport installed as the world's push client.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from lanjie.domain.states import InterceptType, TrackingStatus
from lanjie.sandbox import SandboxWorld
from lanjie.sandbox.faults import FaultPlan
from lanjie.sandbox.model import ForcedOutcome
from lanjie.sandbox.route import ScanCode
from lanjie.sandbox.yunda import ACTION_OF

from .support import in_process

KEY, SECRET = "YDSANDBOXKEY", "YDSANDBOXSECRET0123456789"
REQ_TIME = "1740794400000"
CALLBACK = "https://shop.example/yunda/track"
GOOD_ACK = '{"result":true,"code":"0000","message":"成功"}'.encode()
HOUR = 3600


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def md5_sign(body: bytes, secret: str = SECRET) -> str:
    return hashlib.md5(body + b"_" + secret.encode()).hexdigest()


@dataclass
class Receiver:
    """Records pushes; answers scripted replies first, then the right acknowledgement."""

    replies: list[httpx.Response] = field(default_factory=list)
    seen: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return self.replies.pop(0) if self.replies else httpx.Response(200, content=GOOD_ACK)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.seen]


@dataclass
class Yunda:
    world: SandboxWorld
    client: httpx.AsyncClient
    receiver: Receiver

    async def post(self, path: str, body: bytes, *, key: str = KEY, secret: str = SECRET,
                   sign: str | None = None, **headers: str) -> dict[str, Any]:
        sent = {"Content-Type": "application/json", "app-key": key,
                "sign": sign if sign is not None else md5_sign(body, secret), "req-time": REQ_TIME, **headers}
        response = await self.client.post(f"/yunda{path}", content=body, headers=sent)
        assert response.status_code == 200, response.text
        return response.json()

    async def query(self, mailno: str, **kwargs: Any) -> dict[str, Any]:
        return await self.post("/outer/logictis/query", json.dumps({"mailno": mailno}).encode(), **kwargs)

    async def subscribe(self, mailno: str, callback: str = CALLBACK, **kwargs: Any) -> dict[str, Any]:
        body = json.dumps({"orders": [{"orderid": f"O-{mailno}", "mailno": mailno}], "callback_url": callback})
        return await self.post("/outer/logictis/subscribe", body.encode(), **kwargs)

    def pushes(self) -> list[tuple[int, str]]:
        return [(p.attempt, p.result) for attempts in self.world.push_log.values() for p in attempts]


@asynccontextmanager
async def sandbox(**config: Any) -> AsyncIterator[Yunda]:
    async with in_process(Receiver(), **config) as (world, client, receiver):
        yield Yunda(world, client, receiver)


# ---- the track query -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_query_answers_the_full_trace_oldest_first() -> None:
    async with sandbox() as yd:
        parcel = yd.world.create_parcel(carrier_code="yunda", waybill_no="3120000000001",
                                        stage=TrackingStatus.in_transit)
        answer = await yd.query("3120000000001")

    origin = parcel.route.nodes[0]
    assert {k: v for k, v in answer.items() if k != "data"} == {"result": True, "code": "0000", "message": "成功"}
    assert (answer["data"]["mailno"], answer["data"]["status"]) == ("3120000000001", "TRANSIT")
    steps = answer["data"]["steps"]
    assert [(s["time"], s["action"]) for s in steps] == [
        ("2025-03-01 07:00:00", "ACCEPT"), ("2025-03-01 09:00:00", "GOT"), ("2025-03-01 10:00:00", "DEPARTURE")]
    assert steps[-1] == {
        "time": "2025-03-01 10:00:00", "action": "DEPARTURE", "station": steps[0]["station"],
        "station_name": origin.name, "station_type": "网点", "next": steps[-1]["next"],
        "next_name": parcel.route.nodes[1].name, "next_city": parcel.route.nodes[1].city.name,
        "description": parcel.scans[-1].context, "signer": ""}
    assert len(steps[-1]["next"]) == len(steps[0]["station"]) == 6


@pytest.mark.parametrize(("kwargs", "mailno", "code", "message"), [
    ({"secret": "WRONG"}, "3120000000002", "1002", "签名错误"),
    ({"sign": "F" * 32}, "3120000000002", "1002", "签名错误"),
    ({"key": "NOSUCHKEY"}, "3120000000002", "1003", "app-key 无效或已过期"),
    ({"key": ""}, "3120000000002", "1001", "缺少请求头 app-key"),
    ({"sign": ""}, "3120000000002", "1001", "缺少请求头 sign"),
    ({"req-time": "yesterday"}, "3120000000002", "1001", "请求头 req-time 必须是毫秒时间戳"),
    ({}, "", "1001", "缺少参数 mailno"),
    ({}, "3129999999999", "2001", "暂无轨迹信息"),
    ({}, "7300000000001", "2001", "暂无轨迹信息"),  # a ZTO waybill
])
@pytest.mark.anyio
async def test_bad_queries_answer_their_code(kwargs: dict[str, str], mailno: str, code: str, message: str) -> None:
    async with sandbox() as yd:
        yd.world.create_parcel(carrier_code="yunda", waybill_no="3120000000002", stage=TrackingStatus.in_transit)
        yd.world.create_parcel(carrier_code="zto", waybill_no="7300000000001", stage=TrackingStatus.in_transit)
        answer = await yd.query(mailno, **kwargs)

    assert answer == {"result": False, "code": code, "message": message}


@pytest.mark.anyio
async def test_the_sign_covers_the_exact_bytes_received() -> None:
    async with sandbox() as yd:
        yd.world.create_parcel(carrier_code="yunda", waybill_no="3120000000003", stage=TrackingStatus.in_transit)
        compact, spaced = b'{"mailno":"3120000000003"}', b'{"mailno": "3120000000003"}'
        reformatted = await yd.post("/outer/logictis/query", spaced, sign=md5_sign(compact))
        exact = await yd.post("/outer/logictis/query", spaced)
        not_json = await yd.post("/outer/logictis/query", b"mailno=3120000000003")

    assert reformatted["code"] == "1002"
    assert exact["code"] == "0000"
    assert not_json == {"result": False, "code": "1005", "message": "报文不是合法的 JSON"}


@pytest.mark.anyio
async def test_an_expired_account_and_the_rate_limit_are_refused() -> None:
    async with sandbox() as yd:
        yd.world.twins["yunda"].register_account({"app_key": "OLD", "app_secret": "old-secret"}, expired=True)
        expired = await yd.query("3120000000004", key="OLD", secret="old-secret")
        yd.world.faults.set_plan(FaultPlan.model_validate({"channels": {"query": {"rate_limit_per_second": 1}}}))
        first = await yd.query("3120000000004")
        limited = await yd.query("3120000000004")

    assert expired["code"] == "1003"
    assert first["code"] == "2001"
    assert limited == {"result": False, "code": "1004", "message": "请求过于频繁，请稍后再试"}


def test_every_scan_has_a_yunda_action_and_status() -> None:
    assert set(ACTION_OF) == set(ScanCode)
    documented_actions = {"ACCEPT", "GOT", "ARRIVAL", "DEPARTURE", "SENT", "INBOUND", "OUTBOUND", "SIGNED",
                          "SIGNFAIL", "RETURN", "ISSUE", "REJECTION", "OTHER", "TRANSFER"}
    assert {action for action, _ in ACTION_OF.values()} <= documented_actions
    assert {status for _, status in ACTION_OF.values()} <= {"ACCEPT", "GOT", "TRANSIT", "SIGNED", "RETURN"}


# ---- subscriptions and pushes --------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_subscription_pushes_the_full_history_signed_with_the_request_recipe() -> None:
    async with sandbox() as yd:
        yd.world.create_parcel(carrier_code="yunda", waybill_no="3120000000005", stage=TrackingStatus.in_transit)
        assert await yd.subscribe("3120000000005") == {"result": True, "code": "0000", "message": "订阅成功"}
        await yd.world.settle()
        await yd.world.advance(3 * HOUR)
        query = await yd.query("3120000000005")

    first, second = yd.receiver.seen
    for push in (first, second):
        assert (push.method, str(push.url)) == ("POST", CALLBACK)
        assert push.headers["content-type"] == "application/json;charset=utf-8"
        assert push.headers["app-key"] == KEY
        assert push.headers["sign"] == md5_sign(push.content)
    assert (first.headers["req-time"], second.headers["req-time"]) == (REQ_TIME, "1740805200000")
    assert first.content.decode().startswith('{"orderid":"O-3120000000005","mailno":"3120000000005","status":"TRANSIT"')
    first_body, second_body = yd.receiver.bodies()
    assert [s["action"] for s in first_body["steps"]] == ["ACCEPT", "GOT", "DEPARTURE"]
    assert second_body["steps"][:3] == first_body["steps"]
    assert second_body["steps"] == query["data"]["steps"]
    assert yd.pushes() == [(0, "acked"), (0, "acked")]


@pytest.mark.anyio
async def test_a_push_with_a_wrong_ack_is_retried_with_the_same_bytes() -> None:
    async with sandbox() as yd:
        yd.receiver.replies.append(httpx.Response(200, json={"result": True, "code": "1002"}))
        yd.world.create_parcel(carrier_code="yunda", waybill_no="3120000000006", stage=TrackingStatus.in_transit)
        await yd.subscribe("3120000000006")
        await yd.world.settle()
        await yd.world.advance(35 * 60)

    first, retry = yd.receiver.seen
    assert retry.content == first.content
    assert yd.pushes() == [(0, "failed"), (1, "acked")]


@pytest.mark.anyio
async def test_duplicate_and_out_of_order_faults_resend_a_push() -> None:
    async with sandbox() as yd:
        yd.world.faults.set_plan(FaultPlan.model_validate({"channels": {"push": {"duplicate_push_rate": 1.0}}}))
        yd.world.create_parcel(carrier_code="yunda", waybill_no="3120000000007", stage=TrackingStatus.in_transit)
        await yd.subscribe("3120000000007")
        await yd.world.settle()
        yd.world.faults.set_plan(FaultPlan.model_validate({"channels": {"push": {"out_of_order_rate": 1.0}}}))
        await yd.world.advance(3 * HOUR)

    contents = [request.content for request in yd.receiver.seen]
    assert len(contents) == 4
    assert contents[0] == contents[1]  # the duplicate
    assert contents[3] == contents[0] != contents[2]  # the stale snapshot after the newer one
    faults = [p.fault for attempts in yd.world.push_log.values() for p in attempts]
    assert faults == ["", "duplicate", "", "out_of_order"]


@pytest.mark.anyio
async def test_a_return_ends_the_subscription_with_a_signature_after_return_steps() -> None:
    async with sandbox() as yd:
        yd.world.create_parcel(carrier_code="yunda", waybill_no="3120000000008", stage=TrackingStatus.in_transit)
        await yd.subscribe("3120000000008")
        yd.world.request_intercept(carrier_code="yunda", waybill_no="3120000000008",
                                   intercept_type=InterceptType.return_to_sender, report_to={"protocol": "yunda"})
        yd.world.force_outcome("3120000000008", ForcedOutcome.succeed)
        await yd.world.advance(48 * HOUR)
        ended = await yd.world.advance(48 * HOUR)
        again = await yd.subscribe("3120000000008")
        await yd.world.settle()

    *_, last, resubscribed = yd.receiver.bodies()
    assert (last["status"], last["steps"][-1]["action"], last["steps"][-2]["action"]) == ("RETURN", "SIGNED", "RETURN")
    assert last["steps"][-1]["signer"] == yd.world.parcels["3120000000008"].sender.name
    assert ended == 0
    assert again["code"] == "0000"  # a finished subscription may be renewed
    assert resubscribed == last


@pytest.mark.anyio
async def test_a_repeat_subscription_is_2002_and_bad_ones_name_the_field() -> None:
    async with sandbox() as yd:
        await yd.subscribe("3120000000009")
        repeat = await yd.subscribe("3120000000009")
        no_callback = await yd.subscribe("3120000000010", callback="ftp://shop.example/x")
        no_orders = await yd.post("/outer/logictis/subscribe", b'{"callback_url":"https://shop.example/x"}')

    assert repeat == {"result": False, "code": "2002", "message": "重复订阅：该运单正在订阅中"}
    assert no_callback == {"result": False, "code": "1001", "message": "callback_url 不是 http(s) 地址"}
    assert no_orders["code"] == "1001"


@pytest.mark.anyio
async def test_an_unknown_waybill_is_pushed_once_it_has_scans_and_intercept_results_are_not() -> None:
    async with sandbox() as yd:
        await yd.subscribe("3120000000011")
        await yd.world.settle()
        assert yd.receiver.seen == []
        yd.world.create_parcel(carrier_code="yunda", waybill_no="3120000000011", stage=TrackingStatus.picked_up)
        yd.world.request_intercept(carrier_code="yunda", waybill_no="3120000000011",
                                   intercept_type=InterceptType.return_to_sender, report_to={"protocol": "yunda"})
        yd.world.force_outcome("3120000000011", ForcedOutcome.fail)
        await yd.world.settle()

    [push] = yd.receiver.bodies()
    assert [s["action"] for s in push["steps"]] == ["ACCEPT", "GOT"]
