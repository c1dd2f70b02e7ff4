"""The J&T twin in process: its header and bizContent checks, and its per-event trace pushes.

Requests go in over ASGI; pushes come out through a MockTransport put in place of the world's HTTP
client. Digests are computed here from the recipe with hashlib, independently of the twin.
"""

from __future__ import annotations

import base64
import hashlib
import json
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from lanjie.domain.states import InterceptType, TrackingStatus
from lanjie.sandbox import SandboxWorld
from lanjie.sandbox.faults import FaultPlan, FaultSettings
from lanjie.sandbox.jtexpress import JTTwin
from lanjie.sandbox.model import Channel
from lanjie.sandbox.route import ScanCode

from .support import PushReceiver, in_process

ACCOUNT, KEY = "178337126125932605", "JT_SANDBOX_PRIVATEKEY"
BACK_URL = "https://lanjie.example/cb/jt/tok"
ACK = b'{"code":"1","msg":"success"}'
HOUR = 3600.0
ALL_NODES = "1&2&3&4&5&6&7&8&9&10&11&12&13&14"
SUBSCRIBE = "/jtexpress/api/trace/subscribe"
QUERY = "/jtexpress/api/logistics/trace"


def digest(text: bytes, secret: str = KEY) -> str:
    return base64.b64encode(hashlib.md5(text + secret.encode("utf-8")).digest()).decode("ascii")


class Receiver(PushReceiver):
    """The stand-in for lanjie, reading J&T's pushes, their ``bizContent`` as sent and decoded."""

    def biz(self) -> list[str]:
        return [parse_qs(p.content.decode("ascii"))["bizContent"][0] for p in self.pushes]

    def items(self) -> list[dict[str, Any]]:
        return [json.loads(text) for text in self.biz()]


def sandbox(**config: Any) -> AbstractAsyncContextManager[tuple[SandboxWorld, httpx.AsyncClient, Receiver]]:
    return in_process(Receiver(ACK), **config)


async def call(client: httpx.AsyncClient, path: str, biz: dict[str, Any] | str, *, account: str = ACCOUNT,
               key: str = KEY, **headers: str) -> dict[str, Any]:
    text = biz if isinstance(biz, str) else json.dumps(biz, ensure_ascii=False)
    sent = {"apiAccount": account, "digest": digest(text.encode(), key), "timestamp": "1740794400000", **headers}
    response = await client.post(path, data={"bizContent": text}, headers={k: v for k, v in sent.items() if v})
    assert response.status_code == 200, response.text
    return response.json()


async def subscribe(client: httpx.AsyncClient, waybill_no: str, url: str = BACK_URL, nodes: str = ALL_NODES,
                    **kwargs: Any) -> dict[str, Any]:
    biz = {"id": kwargs.get("account", ACCOUNT), "list": [{"traceNode": nodes, "waybillCode": waybill_no,
                                                           "backUrl": url}]}
    return await call(client, SUBSCRIBE, biz, **kwargs)


# ---- pushes --------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_subscription_gets_each_scan_so_far_as_one_signed_push() -> None:
    async with sandbox() as (world, client, receiver):
        world.create_parcel(carrier_code="jtexpress", waybill_no="JT9001", stage=TrackingStatus.in_transit)
        answer = await subscribe(client, "JT9001")
        await world.settle()

    assert answer == {"code": "1", "msg": "success", "data": {"list": []}}
    first = receiver.pushes[0]
    assert (first.method, str(first.url), first.headers["content-type"]) == (
        "POST", BACK_URL, "application/x-www-form-urlencoded")
    assert all(p.headers["digest"] == digest(text.encode()) for p, text in zip(receiver.pushes, receiver.biz(),
                                                                              strict=True))
    assert all((p.headers["apiAccount"], p.headers["timestamp"]) == (ACCOUNT, "1740794400000")
               for p in receiver.pushes)
    picked, departed = receiver.items()
    assert picked == {"billCode": "JT9001", "traceNode": "1", "scanTime": "2025-03-01 09:00:00",
                      "scanType": "快件揽收", "desc": picked["desc"], "scanNetworkName": picked["scanNetworkName"],
                      "scanNetworkCity": picked["scanNetworkCity"]}
    assert (departed["traceNode"], departed["scanType"], departed["scanTime"]) == (
        "3", "发件扫描", "2025-03-01 10:00:00")
    assert receiver.biz()[0] == json.dumps(picked, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.anyio
async def test_only_the_subscribed_nodes_are_pushed() -> None:
    async with sandbox() as (world, client, receiver):
        world.create_parcel(carrier_code="jtexpress", waybill_no="JT9002", stage=TrackingStatus.out_for_delivery)
        await subscribe(client, "JT9002", nodes="1&10")
        await world.advance(3 * HOUR)

    assert [(i["traceNode"], i["scanType"]) for i in receiver.items()] == [("1", "快件揽收"), ("10", "快件签收")]


@pytest.mark.anyio
async def test_a_return_and_damage_are_pushed_with_their_nodes() -> None:
    async with sandbox() as (world, client, receiver):
        world.create_parcel(carrier_code="jtexpress", waybill_no="JT9003", stage=TrackingStatus.in_transit)
        world.create_parcel(carrier_code="jtexpress", waybill_no="JT9004", stage=TrackingStatus.in_transit)
        await subscribe(client, "JT9003")
        await subscribe(client, "JT9004", url=BACK_URL + "/damaged")
        world.request_intercept(carrier_code="jtexpress", waybill_no="JT9003",
                                intercept_type=InterceptType.return_to_sender, report_to={"protocol": "nobody"})
        world.inject("JT9004", ScanCode.damaged)
        await world.advance(40 * HOUR)

    returned = [i["traceNode"] for i in receiver.items() if i["billCode"] == "JT9003"]
    assert returned[:2] == ["1", "3"] and set(returned[2:]) == {"14"}
    assert [i["traceNode"] for i in receiver.items() if i["billCode"] == "JT9004"][-1] == "11"


@pytest.mark.anyio
async def test_an_unknown_waybill_is_subscribed_and_pushed_once_it_exists() -> None:
    async with sandbox() as (world, client, receiver):
        assert (await subscribe(client, "JT9005"))["code"] == "1"
        await world.settle()
        assert receiver.pushes == []
        world.create_parcel(carrier_code="jtexpress", waybill_no="JT9005", stage=TrackingStatus.picked_up)
        await world.settle()

    assert [i["traceNode"] for i in receiver.items()] == ["1"]


@pytest.mark.anyio
async def test_a_push_without_the_expected_ack_is_retried_with_the_same_bytes() -> None:
    async with sandbox(push_retry_seconds=600) as (world, client, receiver):
        receiver.answers = [httpx.Response(200, content=b'{"code":"0"}'), httpx.Response(404)]
        world.create_parcel(carrier_code="jtexpress", waybill_no="JT9006", stage=TrackingStatus.picked_up)
        await subscribe(client, "JT9006")
        await world.settle()
        await world.advance(599)
        assert len(receiver.pushes) == 1
        await world.advance(1)
        await world.advance(600)

    first, retry, second_retry = receiver.pushes
    assert first.content == retry.content == second_retry.content
    assert first.headers["digest"] == second_retry.headers["digest"]
    assert [(p.attempt, p.result) for p in world.push_log["JT9006"]] == [(0, "failed"), (1, "failed"), (2, "acked")]


@pytest.mark.anyio
async def test_the_duplicate_fault_delivers_the_same_push_twice() -> None:
    async with sandbox() as (world, client, receiver):
        world.faults.set_plan(FaultPlan(channels={Channel.push: FaultSettings(duplicate_push_rate=1.0)}))
        world.create_parcel(carrier_code="jtexpress", waybill_no="JT9007", stage=TrackingStatus.picked_up)
        await subscribe(client, "JT9007")
        await world.settle()

    first, second = receiver.pushes
    assert (first.content, first.headers["digest"]) == (second.content, second.headers["digest"])
    assert [p.fault for p in world.push_log["JT9007"]] == ["", "duplicate"]


@pytest.mark.anyio
async def test_the_out_of_order_fault_resends_the_older_event_after_the_newer() -> None:
    async with sandbox() as (world, client, receiver):
        world.create_parcel(carrier_code="jtexpress", waybill_no="JT9008", stage=TrackingStatus.picked_up)
        await subscribe(client, "JT9008")
        await world.settle()
        world.faults.set_plan(FaultPlan(channels={Channel.push: FaultSettings(out_of_order_rate=1.0)}))
        await world.advance(1 * HOUR)

    assert [i["traceNode"] for i in receiver.items()] == ["1", "3", "1"]
    assert receiver.pushes[0].content == receiver.pushes[2].content
    assert [p.fault for p in world.push_log["JT9008"]] == ["", "", "out_of_order"]


@pytest.mark.anyio
async def test_each_account_gets_pushes_signed_with_its_own_key() -> None:
    async with sandbox() as (world, client, receiver):
        world.twins["jtexpress"].register_account({"api_account": "200", "private_key": "OTHERKEY"})
        world.create_parcel(carrier_code="jtexpress", waybill_no="JT9009", stage=TrackingStatus.picked_up)
        await subscribe(client, "JT9009", url=BACK_URL + "/a")
        await subscribe(client, "JT9009", url=BACK_URL + "/b", account="200", key="OTHERKEY")
        await world.settle()

    by_url = {str(p.url): (p, text) for p, text in zip(receiver.pushes, receiver.biz(), strict=True)}
    push_a, text_a = by_url[BACK_URL + "/a"]
    push_b, text_b = by_url[BACK_URL + "/b"]
    assert push_a.headers["digest"] == digest(text_a.encode())
    assert (push_b.headers["digest"], push_b.headers["apiAccount"]) == (digest(text_b.encode(), "OTHERKEY"), "200")


# ---- requests ------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_query_answers_each_waybills_details_oldest_first() -> None:
    async with sandbox() as (world, client, _):
        world.create_parcel(carrier_code="jtexpress", waybill_no="JT9010", stage=TrackingStatus.in_transit)
        answer = await call(client, QUERY, {"billCodes": "JT9010,JT9099"})

    assert (answer["code"], [bill["billCode"] for bill in answer["data"]]) == ("1", ["JT9010", "JT9099"])
    assert [(d["scanType"], d["scanTime"]) for d in answer["data"][0]["details"]] == [
        ("快件揽收", "2025-03-01 09:00:00"), ("发件扫描", "2025-03-01 10:00:00")]
    assert answer["data"][1]["details"] == []


@pytest.mark.anyio
async def test_the_digest_is_checked_over_the_biz_content_received() -> None:
    async with sandbox() as (_, client, _):
        compact = '{"billCodes":"JT9011"}'
        answer = await call(client, QUERY, '{"billCodes": "JT9011"}', digest=digest(compact.encode()))

    assert answer == {"code": "145003030", "msg": "headers signature verification failed", "data": None}


@pytest.mark.anyio
@pytest.mark.parametrize(("path", "biz", "headers", "code"), [
    (QUERY, {"billCodes": "JT9012"}, {"apiAccount": ""}, "145003051"),
    (QUERY, {"billCodes": "JT9012"}, {"digest": ""}, "145003052"),
    (QUERY, {"billCodes": "JT9012"}, {"timestamp": ""}, "145003053"),
    (QUERY, {"billCodes": "JT9012"}, {"apiAccount": "404"}, "145003010"),
    (QUERY, {"billCodes": ""}, {}, "145003050"),
    (QUERY, "not json", {}, "145003050"),
    (SUBSCRIBE, {"id": ACCOUNT, "list": []}, {}, "145003050"),
    (SUBSCRIBE, {"id": "someone else", "list": [{"traceNode": "1", "waybillCode": "J", "backUrl": BACK_URL}]}, {},
     "145003050"),
    (SUBSCRIBE, {"list": [{"traceNode": "1&15", "waybillCode": "J", "backUrl": BACK_URL}]}, {}, "145003050"),
    (SUBSCRIBE, {"list": [{"traceNode": "1", "backUrl": BACK_URL}]}, {}, "145003050"),
])
async def test_bad_requests_answer_jt_codes(path: str, biz: dict[str, Any] | str, headers: dict[str, str],
                                            code: str) -> None:
    async with sandbox() as (world, client, _):
        answer = await call(client, path, biz, **headers)

    assert (answer["code"], answer["data"]) == (code, None)
    assert world.request_log[-1].code == code


@pytest.mark.anyio
async def test_accounts_are_registered_through_the_control_api_without_echoing_secrets() -> None:
    async with sandbox() as (world, client, _):
        made = await client.post("/control/carriers/jtexpress/accounts",
                                 json={"credentials": {"api_account": "300", "private_key": "NEWKEY"}})
        incomplete = await client.post("/control/carriers/jtexpress/accounts",
                                       json={"credentials": {"private_key": "X"}})
        listed = await client.get("/control/carriers")

    assert (made.status_code, made.json()) == (201, {"api_account": "300", "expired": False})
    assert (incomplete.status_code, incomplete.json()["detail"]) == (422, "credentials: jtexpress needs api_account")
    assert listed.json()["jtexpress"] == {"prefix": "/jtexpress", "test_credentials": dict(JTTwin.test_credentials)}
    assert world.twins["jtexpress"].accounts["300"].private_key == "NEWKEY"
