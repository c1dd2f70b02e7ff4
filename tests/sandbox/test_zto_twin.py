"""The ZTO twin in process: its japi checks and its per-event track pushes (signed, retried, faulted).

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
from lanjie.sandbox.zto import ZTOTwin

from .support import PushReceiver, in_process

APP_KEY, APP_SECRET = "ZTO_SANDBOX_APPKEY", "ZTO_SANDBOX_APPSECRET"
PUSH_URL = "https://lanjie.example/cb/zto/tok"
ACK = b'{"status":true,"message":"success"}'
HOUR = 3600.0
SUBSCRIBE = "/zto/zto.merchant.waybill.track.subsrcibe"
QUERY = "/zto/zto.merchant.waybill.track.query"


def digest(text: bytes, secret: str = APP_SECRET) -> str:
    return base64.b64encode(hashlib.md5(text + secret.encode("utf-8")).digest()).decode("ascii")


class Receiver(PushReceiver):
    """The stand-in for lanjie, reading ZTO's push forms, their ``data`` decoded."""

    def data(self) -> list[dict[str, Any]]:
        return [json.loads(form["data"]) for form in self.forms()]


def sandbox(**config: Any) -> AbstractAsyncContextManager[tuple[SandboxWorld, httpx.AsyncClient, Receiver]]:
    return in_process(Receiver(ACK), **config)


async def call(client: httpx.AsyncClient, path: str, body: dict[str, Any], *, app_key: str = APP_KEY,
               secret: str = APP_SECRET, sign: str | None = None) -> dict[str, Any]:
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", "x-appKey": app_key,
               "x-dataDigest": sign if sign is not None else digest(raw, secret)}
    response = await client.post(path, content=raw, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def subscribe(client: httpx.AsyncClient, waybill_no: str, url: str = PUSH_URL, **kwargs: Any) -> dict[str, Any]:
    return await call(client, SUBSCRIBE, {"billCode": waybill_no, "mobilePhone": "0000", "callbackUrl": url},
                      **kwargs)


# ---- pushes --------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_subscription_gets_each_scan_so_far_as_one_signed_form_push() -> None:
    async with sandbox() as (world, client, receiver):
        world.create_parcel(carrier_code="zto", waybill_no="ZT9001", stage=TrackingStatus.in_transit)
        answer = await subscribe(client, "ZT9001")
        await world.settle()

    assert answer == {"result": None, "message": "操作成功", "status": True, "statusCode": "SYS000"}
    first = receiver.pushes[0]
    assert (first.method, str(first.url), first.headers["content-type"]) == (
        "POST", PUSH_URL, "application/x-www-form-urlencoded")
    forms = receiver.forms()
    assert [sorted(form) for form in forms] == [["company_id", "data", "data_digest", "msg_type"]] * 2
    assert all(form["data_digest"] == digest(form["data"].encode("utf-8")) for form in forms)
    assert all((form["company_id"], form["msg_type"]) == (APP_KEY, "Traces") for form in forms)
    # The label-printed scan has no ZTO action; pickup and departure follow, oldest first.
    got, departed = receiver.data()
    assert (got["billCode"], got["action"], got["actionTime"]) == ("ZT9001", "GOT", "2025-03-01 09:00:00")
    assert set(got) == {"billCode", "action", "actionTime", "desc", "facilityName", "city"}
    assert (departed["action"], departed["actionTime"]) == ("DEPARTURE", "2025-03-01 10:00:00")
    assert forms[0]["data"] == json.dumps(got, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.anyio
async def test_each_new_scan_is_pushed_once_as_it_happens() -> None:
    async with sandbox() as (world, client, receiver):
        world.create_parcel(carrier_code="zto", waybill_no="ZT9002", stage=TrackingStatus.out_for_delivery)
        await subscribe(client, "ZT9002")
        await world.settle()
        before = len(receiver.pushes)
        await world.advance(3 * HOUR)

    assert [d["action"] for d in receiver.data()[before - 1:]] == ["DISPATCH", "SIGNED"]
    assert receiver.data()[-1]["actionTime"] == "2025-03-01 13:00:00"


@pytest.mark.anyio
async def test_a_return_is_pushed_with_the_return_actions() -> None:
    async with sandbox() as (world, client, receiver):
        world.create_parcel(carrier_code="zto", waybill_no="ZT9003", stage=TrackingStatus.in_transit)
        await subscribe(client, "ZT9003")
        world.request_intercept(carrier_code="zto", waybill_no="ZT9003", intercept_type=InterceptType.return_to_sender,
                                report_to={"protocol": "nobody"})
        await world.advance(40 * HOUR)

    actions = [d["action"] for d in receiver.data()]
    assert actions[:2] == ["GOT", "DEPARTURE"]
    assert actions[2:] == ["RETURN"] * (len(actions) - 3) + ["RETURN_SIGNED"]


@pytest.mark.anyio
async def test_damage_is_pushed_as_a_problem_parcel() -> None:
    async with sandbox() as (world, client, receiver):
        world.create_parcel(carrier_code="zto", waybill_no="ZT9004", stage=TrackingStatus.in_transit)
        await subscribe(client, "ZT9004")
        world.inject("ZT9004", ScanCode.damaged)
        await world.settle()

    assert receiver.data()[-1]["action"] == "PROBLEM"


@pytest.mark.anyio
async def test_an_unknown_waybill_is_subscribed_and_pushed_once_it_exists() -> None:
    async with sandbox() as (world, client, receiver):
        assert (await subscribe(client, "ZT9005"))["statusCode"] == "SYS000"
        await world.settle()
        assert receiver.pushes == []
        world.create_parcel(carrier_code="zto", waybill_no="ZT9005", stage=TrackingStatus.picked_up)
        await world.settle()

    assert [d["action"] for d in receiver.data()] == ["GOT"]


@pytest.mark.anyio
async def test_a_push_without_the_expected_ack_is_retried_with_the_same_bytes() -> None:
    async with sandbox(push_retry_seconds=600) as (world, client, receiver):
        receiver.answers = [httpx.Response(200, content=b'{"status":false}'), httpx.Response(200, content=b"ok")]
        world.create_parcel(carrier_code="zto", waybill_no="ZT9006", stage=TrackingStatus.picked_up)
        await subscribe(client, "ZT9006")
        await world.settle()
        await world.advance(599)
        assert len(receiver.pushes) == 1
        await world.advance(1)
        await world.advance(600)

    first, retry, second_retry = receiver.pushes
    assert first.content == retry.content == second_retry.content
    assert [(p.attempt, p.result) for p in world.push_log["ZT9006"]] == [(0, "failed"), (1, "failed"), (2, "acked")]


@pytest.mark.anyio
async def test_the_duplicate_fault_delivers_the_same_push_twice() -> None:
    async with sandbox() as (world, client, receiver):
        world.faults.set_plan(FaultPlan(channels={Channel.push: FaultSettings(duplicate_push_rate=1.0)}))
        world.create_parcel(carrier_code="zto", waybill_no="ZT9007", stage=TrackingStatus.picked_up)
        await subscribe(client, "ZT9007")
        await world.settle()

    first, second = receiver.pushes
    assert first.content == second.content
    assert [p.fault for p in world.push_log["ZT9007"]] == ["", "duplicate"]


@pytest.mark.anyio
async def test_the_out_of_order_fault_resends_the_older_event_after_the_newer() -> None:
    async with sandbox() as (world, client, receiver):
        world.create_parcel(carrier_code="zto", waybill_no="ZT9008", stage=TrackingStatus.picked_up)
        await subscribe(client, "ZT9008")
        await world.settle()
        world.faults.set_plan(FaultPlan(channels={Channel.push: FaultSettings(out_of_order_rate=1.0)}))
        await world.advance(1 * HOUR)

    assert [d["action"] for d in receiver.data()] == ["GOT", "DEPARTURE", "GOT"]
    assert receiver.pushes[0].content == receiver.pushes[2].content
    assert [p.fault for p in world.push_log["ZT9008"]] == ["", "", "out_of_order"]


@pytest.mark.anyio
async def test_each_app_gets_pushes_signed_with_its_own_secret() -> None:
    async with sandbox() as (world, client, receiver):
        world.twins["zto"].register_account({"app_key": "OTHERAPP", "app_secret": "OTHERSECRET"})
        world.create_parcel(carrier_code="zto", waybill_no="ZT9009", stage=TrackingStatus.picked_up)
        await subscribe(client, "ZT9009", url=PUSH_URL + "/a")
        await subscribe(client, "ZT9009", url=PUSH_URL + "/b", app_key="OTHERAPP", secret="OTHERSECRET")
        await world.settle()

    by_url = {str(p.url): form for p, form in zip(receiver.pushes, receiver.forms(), strict=True)}
    assert by_url[PUSH_URL + "/a"]["data_digest"] == digest(by_url[PUSH_URL + "/a"]["data"].encode())
    assert by_url[PUSH_URL + "/b"]["data_digest"] == digest(by_url[PUSH_URL + "/b"]["data"].encode(), "OTHERSECRET")
    assert by_url[PUSH_URL + "/b"]["company_id"] == "OTHERAPP"


@pytest.mark.anyio
async def test_an_intercept_result_is_not_reported_by_the_zto_twin() -> None:
    async with sandbox() as (world, client, receiver):
        world.create_parcel(carrier_code="zto", waybill_no="ZT9010", stage=TrackingStatus.in_transit)
        decision = world.request_intercept(carrier_code="zto", waybill_no="ZT9010",
                                           intercept_type=InterceptType.return_to_sender,
                                           report_to={"protocol": "zto"})
        assert decision.task is not None
        world.twins["zto"].on_intercept_resolved(world.parcel("ZT9010"), decision.task)
        await world.settle()

    assert receiver.pushes == []  # nobody subscribed, and intercepts are Kuaidi100's to report


# ---- requests ------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_the_digest_is_checked_over_the_exact_bytes_received() -> None:
    async with sandbox() as (world, client, _):
        world.create_parcel(carrier_code="zto", waybill_no="ZT9011", stage=TrackingStatus.in_transit)
        compact = b'{"billCode":"ZT9011","mobilePhone":"0000"}'
        spaced = b'{"billCode": "ZT9011", "mobilePhone": "0000"}'
        headers = {"x-appKey": APP_KEY, "Content-Type": "application/json"}
        good = await client.post(QUERY, content=compact, headers={**headers, "x-dataDigest": digest(compact)})
        bad = await client.post(QUERY, content=spaced, headers={**headers, "x-dataDigest": digest(compact)})

    assert (good.json()["statusCode"], [i["action"] for i in good.json()["result"]]) == (
        "SYS000", ["GOT", "DEPARTURE"])
    assert bad.json() == {"result": None, "message": "签名错误", "status": False, "statusCode": "S211"}


@pytest.mark.anyio
@pytest.mark.parametrize(("body", "headers", "code"), [
    ({"billCode": "ZT9012", "mobilePhone": "0000"}, {"x-appKey": ""}, "S208"),
    ({"billCode": "ZT9012", "mobilePhone": "0000"}, {"x-dataDigest": ""}, "S208"),
    ({"mobilePhone": "0000"}, {}, "S208"),
    ({"billCode": "ZT9012", "mobilePhone": "00"}, {}, "E413"),
    ({"billCode": "ZT9012", "mobilePhone": 1234}, {}, "E413"),
])
async def test_bad_requests_answer_zto_codes(body: dict[str, str], headers: dict[str, str], code: str) -> None:
    async with sandbox() as (world, client, _):
        world.create_parcel(carrier_code="zto", waybill_no="ZT9012", stage=TrackingStatus.in_transit)
        raw = json.dumps(body).encode()
        sent = {"x-appKey": APP_KEY, "x-dataDigest": digest(raw), **headers}
        response = await client.post(QUERY, content=raw, headers={k: v for k, v in sent.items() if v})

    assert (response.json()["status"], response.json()["statusCode"]) == (False, code)
    assert world.request_log[-1].code == code


@pytest.mark.anyio
async def test_accounts_are_registered_through_the_control_api_without_echoing_secrets() -> None:
    async with sandbox() as (world, client, _):
        made = await client.post("/control/carriers/zto/accounts",
                                 json={"credentials": {"app_key": "NEWAPP", "app_secret": "NEWSECRET"}})
        incomplete = await client.post("/control/carriers/zto/accounts", json={"credentials": {"app_key": "X"}})
        listed = await client.get("/control/carriers")

    assert (made.status_code, made.json()) == (201, {"app_key": "NEWAPP", "expired": False})
    assert (incomplete.status_code, incomplete.json()["detail"]) == (422, "credentials: zto needs app_secret")
    assert listed.json()["zto"] == {"prefix": "/zto", "test_credentials": dict(ZTOTwin.test_credentials)}
    assert world.twins["zto"].accounts["NEWAPP"].app_secret == "NEWSECRET"
