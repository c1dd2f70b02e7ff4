"""The STO twin in process: its gateway checks and its per-event trace pushes (signed, retried, faulted).

Requests go in over ASGI; pushes come out through a MockTransport put in place of the world's HTTP
client. Digests are computed here from the recipe with hashlib, independently of the twin.
"""

from __future__ import annotations

import base64
import hashlib
import json
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest

from lanjie.domain.states import InterceptType, TrackingStatus
from lanjie.sandbox import SandboxWorld
from lanjie.sandbox.faults import FaultPlan, FaultSettings
from lanjie.sandbox.model import Channel
from lanjie.sandbox.route import ScanCode
from lanjie.sandbox.sto import STOTwin

from .support import PushReceiver, in_process

APPKEY, CODE, SECRET = "STO_SANDBOX_APPKEY", "STO_SANDBOX_CODE", "STO_SANDBOX_SECRETKEY"
PUSH_URL = "https://lanjie.example/cb/sto/tok"
ACK = b'{"success":true}'
HOUR = 3600.0
GATEWAY = "/sto/gateway/link.do"
SUBSCRIBE = ("STO_TRACE_PLATFORM_SUBSCRIBE", "sto_trace_platform")
QUERY = ("STO_TRACE_QUERY_COMMON", "sto_trace_query")


def digest(text: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hashlib.md5(text + secret.encode("utf-8")).digest()).decode("ascii")


class Receiver(PushReceiver):
    """The stand-in for lanjie, reading STO's push forms, their ``content`` decoded."""

    def content(self) -> list[dict[str, Any]]:
        return [json.loads(form["content"]) for form in self.forms()]


def sandbox(**config: Any) -> AbstractAsyncContextManager[tuple[SandboxWorld, httpx.AsyncClient, Receiver]]:
    return in_process(Receiver(ACK), **config)


async def call(client: httpx.AsyncClient, api: tuple[str, str], payload: dict[str, Any], *, text: str | None = None,
               secret: str = SECRET, method: str = "POST", **overrides: str) -> dict[str, Any]:
    """A gateway call signed with the recipe; ``text`` replaces the JSON of ``payload`` as the content."""
    text = text if text is not None else json.dumps(payload, ensure_ascii=False)
    fields = {"api_name": api[0], "content": text, "data_digest": digest(text.encode(), secret),
              "from_appkey": APPKEY, "from_code": CODE, "to_appkey": api[1], "to_code": api[1], **overrides}
    if method == "GET":
        response = await client.get(GATEWAY, params=fields)
    else:
        response = await client.post(GATEWAY, data=fields)
    assert response.status_code == 200, response.text
    return response.json()


async def subscribe(client: httpx.AsyncClient, waybill_no: str, url: str = PUSH_URL, **kwargs: Any) -> dict[str, Any]:
    return await call(client, SUBSCRIBE, {"waybillNo": waybill_no, "callbackUrl": url}, **kwargs)


# ---- pushes --------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_subscription_gets_each_scan_so_far_as_one_signed_form_push() -> None:
    async with sandbox() as (world, client, receiver):
        world.create_parcel(carrier_code="sto", waybill_no="ST9001", stage=TrackingStatus.in_transit)
        answer = await subscribe(client, "ST9001")
        await world.settle()

    assert answer == {"success": True, "errorCode": "", "errorMsg": "", "data": None}
    first = receiver.pushes[0]
    assert (first.method, str(first.url), first.headers["content-type"]) == (
        "POST", PUSH_URL, "application/x-www-form-urlencoded")
    forms = receiver.forms()
    assert [list(form) for form in forms] == [["api_name", "content", "data_digest"]] * 2
    assert all(form["data_digest"] == digest(form["content"].encode("utf-8")) for form in forms)
    assert {form["api_name"] for form in forms} == {"STO_TRACE_PUSH"}
    picked, departed = receiver.content()
    assert (picked["waybillNo"], picked["scanType"], picked["opTime"]) == ("ST9001", "收件", "2025-03-01 09:00:00")
    assert set(picked) == {"waybillNo", "scanType", "opTime", "memo", "opOrgName", "opOrgCityName"}
    assert (departed["scanType"], departed["opTime"]) == ("发件", "2025-03-01 10:00:00")
    assert forms[0]["content"] == json.dumps(picked, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.anyio
async def test_each_new_scan_is_pushed_once_as_it_happens() -> None:
    async with sandbox() as (world, client, receiver):
        world.create_parcel(carrier_code="sto", waybill_no="ST9002", stage=TrackingStatus.out_for_delivery)
        await subscribe(client, "ST9002")
        await world.settle()
        before = len(receiver.pushes)
        await world.advance(3 * HOUR)

    assert [c["scanType"] for c in receiver.content()[before - 1:]] == ["派件", "签收"]


@pytest.mark.anyio
async def test_a_return_and_a_loss_are_pushed_with_their_scan_types() -> None:
    async with sandbox() as (world, client, receiver):
        world.create_parcel(carrier_code="sto", waybill_no="ST9003", stage=TrackingStatus.in_transit)
        world.create_parcel(carrier_code="sto", waybill_no="ST9004", stage=TrackingStatus.in_transit)
        await subscribe(client, "ST9003")
        await subscribe(client, "ST9004", url=PUSH_URL + "/lost")
        world.request_intercept(carrier_code="sto", waybill_no="ST9003", intercept_type=InterceptType.return_to_sender,
                                report_to={"protocol": "nobody"})
        world.inject("ST9004", ScanCode.lost)
        await world.advance(40 * HOUR)

    returned = [c["scanType"] for c in receiver.content() if c["waybillNo"] == "ST9003"]
    assert returned[2:] == ["退回"] * (len(returned) - 3) + ["退回签收"]
    assert [c["scanType"] for c in receiver.content() if c["waybillNo"] == "ST9004"][-1] == "问题件"


@pytest.mark.anyio
async def test_an_unknown_waybill_is_subscribed_and_pushed_once_it_exists() -> None:
    async with sandbox() as (world, client, receiver):
        assert (await subscribe(client, "ST9005"))["success"] is True
        await world.settle()
        assert receiver.pushes == []
        world.create_parcel(carrier_code="sto", waybill_no="ST9005", stage=TrackingStatus.picked_up)
        await world.settle()

    assert [c["scanType"] for c in receiver.content()] == ["收件"]


@pytest.mark.anyio
async def test_a_push_without_the_expected_ack_is_retried_with_the_same_bytes() -> None:
    async with sandbox(push_retry_seconds=600) as (world, client, receiver):
        receiver.answers = [httpx.Response(200, content=b'{"success":"true"}'), httpx.Response(500)]
        world.create_parcel(carrier_code="sto", waybill_no="ST9006", stage=TrackingStatus.picked_up)
        await subscribe(client, "ST9006")
        await world.settle()
        await world.advance(599)
        assert len(receiver.pushes) == 1
        await world.advance(1)
        await world.advance(600)

    first, retry, second_retry = receiver.pushes
    assert first.content == retry.content == second_retry.content
    assert [(p.attempt, p.result) for p in world.push_log["ST9006"]] == [(0, "failed"), (1, "failed"), (2, "acked")]


@pytest.mark.anyio
async def test_the_duplicate_fault_delivers_the_same_push_twice() -> None:
    async with sandbox() as (world, client, receiver):
        world.faults.set_plan(FaultPlan(channels={Channel.push: FaultSettings(duplicate_push_rate=1.0)}))
        world.create_parcel(carrier_code="sto", waybill_no="ST9007", stage=TrackingStatus.picked_up)
        await subscribe(client, "ST9007")
        await world.settle()

    first, second = receiver.pushes
    assert first.content == second.content
    assert [p.fault for p in world.push_log["ST9007"]] == ["", "duplicate"]


@pytest.mark.anyio
async def test_the_out_of_order_fault_resends_the_older_event_after_the_newer() -> None:
    async with sandbox() as (world, client, receiver):
        world.create_parcel(carrier_code="sto", waybill_no="ST9008", stage=TrackingStatus.picked_up)
        await subscribe(client, "ST9008")
        await world.settle()
        world.faults.set_plan(FaultPlan(channels={Channel.push: FaultSettings(out_of_order_rate=1.0)}))
        await world.advance(1 * HOUR)

    assert [c["scanType"] for c in receiver.content()] == ["收件", "发件", "收件"]
    assert receiver.pushes[0].content == receiver.pushes[2].content
    assert [p.fault for p in world.push_log["ST9008"]] == ["", "", "out_of_order"]


@pytest.mark.anyio
async def test_each_account_gets_pushes_signed_with_its_own_secret() -> None:
    async with sandbox() as (world, client, receiver):
        world.twins["sto"].register_account({"from_appkey": "OTHER", "from_code": CODE, "secret_key": "OTHERSECRET"})
        world.create_parcel(carrier_code="sto", waybill_no="ST9009", stage=TrackingStatus.picked_up)
        await subscribe(client, "ST9009", url=PUSH_URL + "/a")
        await subscribe(client, "ST9009", url=PUSH_URL + "/b", secret="OTHERSECRET", from_appkey="OTHER")
        await world.settle()

    by_url = {str(p.url): form for p, form in zip(receiver.pushes, receiver.forms(), strict=True)}
    assert by_url[PUSH_URL + "/a"]["data_digest"] == digest(by_url[PUSH_URL + "/a"]["content"].encode())
    assert by_url[PUSH_URL + "/b"]["data_digest"] == digest(by_url[PUSH_URL + "/b"]["content"].encode(),
                                                            "OTHERSECRET")


# ---- requests ------------------------------------------------------------------------------------

@pytest.mark.anyio
@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_query_answers_the_trace_so_far_oldest_first(method: str) -> None:
    async with sandbox() as (world, client, _):
        world.create_parcel(carrier_code="sto", waybill_no="ST9010", stage=TrackingStatus.in_transit)
        answer = await call(client, QUERY, {"waybillNoList": ["ST9010"]}, method=method)

    assert (answer["success"], list(answer["data"])) == (True, ["ST9010"])
    assert [(i["scanType"], i["opTime"]) for i in answer["data"]["ST9010"]] == [
        ("收件", "2025-03-01 09:00:00"), ("发件", "2025-03-01 10:00:00")]


@pytest.mark.anyio
async def test_the_digest_is_checked_over_the_content_received() -> None:
    async with sandbox() as (world, client, _):
        compact = '{"waybillNoList":["ST9011"]}'
        answer = await call(client, QUERY, {"waybillNoList": ["ST9011"]}, data_digest=digest(compact.encode()))

    assert answer == {"success": False, "errorCode": "S01", "errorMsg": "data_digest 校验失败", "data": None}


@pytest.mark.anyio
@pytest.mark.parametrize(("api", "content", "overrides", "code"), [
    (QUERY, {"waybillNoList": ["ST9012"]}, {"to_code": ""}, "S02"),
    (QUERY, {"waybillNoList": []}, {}, "S02"),
    (QUERY, {"waybillNoList": ["ST9012"]}, {"text": "not json"}, "S02"),
    (SUBSCRIBE, {"waybillNo": "ST9012"}, {}, "S02"),
    (QUERY, {"waybillNoList": ["ST9012"]}, {"from_appkey": "NOBODY"}, "S03"),
    (QUERY, {"waybillNoList": ["ST9012"]}, {"from_code": "NOT_MINE"}, "S03"),
    (QUERY, {"waybillNoList": ["ST9012"]}, {"api_name": "STO_ORDER_CREATE"}, "S04"),
    (QUERY, {"waybillNoList": ["ST9012"]}, {"to_appkey": "sto_trace_platform"}, "S04"),
    (QUERY, {"waybillNoList": ["ST9099"]}, {}, "B01"),
])
async def test_bad_requests_answer_the_gateways_codes(api: tuple[str, str], content: dict[str, Any],
                                                      overrides: dict[str, str], code: str) -> None:
    async with sandbox() as (world, client, _):
        world.create_parcel(carrier_code="sto", waybill_no="ST9012", stage=TrackingStatus.in_transit)
        answer = await call(client, api, content, **overrides)

    assert (answer["success"], answer["errorCode"], answer["data"]) == (False, code, None)
    assert world.request_log[-1].code == code


@pytest.mark.anyio
async def test_accounts_are_registered_through_the_control_api_without_echoing_secrets() -> None:
    async with sandbox() as (world, client, _):
        made = await client.post("/control/carriers/sto/accounts", json={"credentials": {
            "from_appkey": "NEWAPP", "from_code": "NEWCODE", "secret_key": "NEWSECRET"}})
        incomplete = await client.post("/control/carriers/sto/accounts", json={"credentials": {"from_appkey": "X"}})
        listed = await client.get("/control/carriers")

    assert (made.status_code, made.json()) == (201, {"from_appkey": "NEWAPP", "from_code": "NEWCODE",
                                                     "expired": False})
    assert (incomplete.status_code, incomplete.json()["detail"]) == (
        422, "credentials: sto needs from_code, secret_key")
    assert listed.json()["sto"] == {"prefix": "/sto", "test_credentials": dict(STOTwin.test_credentials)}
    assert world.twins["sto"].accounts["NEWAPP"].secret_key == "NEWSECRET"
