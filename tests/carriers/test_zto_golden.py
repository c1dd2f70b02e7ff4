"""ZTO adapter golden tests: each request byte for byte, the call, success, every code, and the track push.

Digests are computed here from the recipe (Base64 of the raw MD5 of body + appSecret) with hashlib,
never with the adapter's own function; the known-answer vectors were computed outside Python
(``printf '%s' "$body$secret" | openssl md5 -binary | base64``) or published by ZTO's integrators.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
import pytest

from lanjie.carriers.base import Capability, CarrierAccount, Push, Subscription, TrackingEvent, TrackingSnapshot
from lanjie.carriers.errors import CarrierRejected, CarrierUnavailable, MalformedPush, NotSupported, SignatureInvalid
from lanjie.carriers.zto import PUSH_ACK, PUSH_REJECT, ZTO, codes
from lanjie.domain.states import InterceptReason, TrackingStatus

# ZTO's published test-environment app (YangLiCon/docs zto.md): its push samples verify with it.
APP_KEY = "72089d3deb0ae445cdd35"
APP_SECRET = "11109419708e0cc91fd0a1b9369d64c4"
API = "https://japi.zto.test"
WAYBILL = "73100196611386"
ACCOUNT = CarrierAccount("zto", {"app_key": APP_KEY, "app_secret": APP_SECRET}, {"api": API})
CALLBACK = "https://lanjie.example/cb/zto/tok?备注=退货 *~"
FORM = "application/x-www-form-urlencoded"
JSON_UTF8 = "application/json;charset=UTF-8"

QUERY_BODY = b'{"billCode":"73100196611386","mobilePhone":"5514"}'
QUERY_DIGEST = "2y598sN4eQixpXYr+HYYQA=="  # known answer, computed with openssl
SUBSCRIBE_BODY = ('{"billCode":"73100196611386","mobilePhone":"5514",'
                  '"callbackUrl":"https://lanjie.example/cb/zto/tok?备注=退货 *~"}').encode()
# A push as ZTO sent it to an integrator (YangLiCon/docs zto.md), with its published data_digest.
SAMPLE_DATA = ('{"billCode":"73100196611386","facilityCode":"37131","actionTime":"2025-05-22 15:07:46",'
               '"city":"郑州市","action":"ARRIVAL","facilityName":"郑州高新区","desc":"【郑州市】快件已到达【郑州高新区】"}')
SAMPLE_DIGEST = "dyCx2odSAY4Y7dGu6mDmSQ=="


def digest(body: bytes, secret: str = APP_SECRET) -> str:
    return base64.b64encode(hashlib.md5(body + secret.encode("utf-8")).digest()).decode("ascii")


def answer(body: object, status_code: int = 200) -> httpx.Response:
    return httpx.Response(status_code, content=json.dumps(body, ensure_ascii=False).encode(),
                          headers={"Content-Type": JSON_UTF8})


def ok(result: object = None) -> httpx.Response:
    return answer({"result": result, "message": "操作成功", "statusCode": "SYS000", "status": True})


def refused(code: str, message: str = "错误") -> httpx.Response:
    return answer({"result": None, "message": message, "status": False, "statusCode": code})


@asynccontextmanager
async def zto(*replies: httpx.Response | Exception,
              account: CarrierAccount = ACCOUNT) -> AsyncIterator[tuple[ZTO, list[httpx.Request]]]:
    """An adapter wired to scripted answers through httpx.MockTransport; every answer must be used."""
    seen: list[httpx.Request] = []
    script = list(replies)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        reply = script.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        yield ZTO(account, client), seen
    assert script == [], f"{len(script)} scripted answers were never asked for"


def trace(action: str, at: str, desc: str = "", **extra: str) -> dict[str, str]:
    return {"billCode": WAYBILL, "action": action, "actionTime": at, "desc": desc, **extra}


# ---- the plugin ------------------------------------------------------------------------------------

def test_the_plugin_tracks_natively_and_intercepts_through_kuaidi100() -> None:
    assert (ZTO.name, ZTO.title, ZTO.couriers, ZTO.intercept_via, ZTO.intercept_types) == (
        "zto", "ZTO 中通", frozenset({"zto"}), "kuaidi100", frozenset())
    assert ZTO.capabilities == {Capability.subscribe, Capability.query_tracking, Capability.parse_push}
    assert (ZTO.credential_names, ZTO.endpoint_names, ZTO.rate_limit_per_second) == (
        ("app_key", "app_secret"), ("api",), 10.0)


@pytest.mark.anyio
@pytest.mark.parametrize("operation", ["intercept", "query_intercept", "cancel_intercept", "precheck"])
async def test_intercept_operations_are_not_supported_and_name_the_aggregator(operation: str) -> None:
    async with zto() as (carrier, seen):
        with pytest.raises(NotSupported, match="kuaidi100"):
            await getattr(carrier, operation)()

    assert seen == []


@pytest.mark.anyio
async def test_the_production_gateway_is_the_default_endpoint() -> None:
    async with zto(ok([]), account=CarrierAccount("zto", ACCOUNT.credentials, {})) as (carrier, seen):
        await carrier.query_tracking("zto", WAYBILL, "5514")

    assert str(seen[0].url) == "https://japi.zto.com/zto.merchant.waybill.track.query"


# ---- subscribe -----------------------------------------------------------------------------------

def test_the_digest_recipe_matches_the_known_answer() -> None:
    assert digest(QUERY_BODY) == QUERY_DIGEST


@pytest.mark.anyio
async def test_subscribe_posts_the_signed_json_body_byte_for_byte() -> None:
    async with zto(ok()) as (carrier, seen):
        result = await carrier.subscribe(Subscription("zto", WAYBILL, CALLBACK, phone_tail="+86 155-8558-5514"))

    [request] = seen
    assert result is None
    assert (request.method, str(request.url)) == ("POST", f"{API}/zto.merchant.waybill.track.subsrcibe")
    assert request.content == SUBSCRIBE_BODY
    assert (request.headers["Content-Type"], request.headers["x-appKey"], request.headers["x-dataDigest"]) == (
        JSON_UTF8, APP_KEY, digest(SUBSCRIBE_BODY))
    [exchange] = carrier.exchanges
    assert (exchange.operation, exchange.status_code, exchange.error) == ("subscribe", 200, "")
    assert APP_SECRET not in exchange.request_body and digest(SUBSCRIBE_BODY) not in exchange.request_body


@pytest.mark.anyio
async def test_subscribe_without_a_phone_sends_no_mobile_phone() -> None:
    async with zto(ok()) as (carrier, seen):
        await carrier.subscribe(Subscription("zto", WAYBILL, "https://lanjie.example/cb"))

    assert seen[0].content == b'{"billCode":"73100196611386","callbackUrl":"https://lanjie.example/cb"}'


@pytest.mark.anyio
async def test_the_other_documented_success_code_is_success_too() -> None:
    async with zto(answer({"result": {}, "message": "请求成功", "status": True, "statusCode": "0000"})) as (carrier, _):
        assert await carrier.subscribe(Subscription("zto", WAYBILL, CALLBACK, "5514")) is None


#: Every documented statusCode and what the adapter makes of it.
ERRORS: dict[str, tuple[type[Exception], InterceptReason | None]] = {
    "S200": (CarrierUnavailable, None), "S202": (CarrierUnavailable, None), "S203": (CarrierUnavailable, None),
    "S206": (CarrierRejected, InterceptReason.rate_limited), "S221": (CarrierRejected, InterceptReason.rate_limited),
    "S207": (CarrierRejected, InterceptReason.carrier_error), "S208": (CarrierRejected, InterceptReason.carrier_error),
    "S210": (CarrierRejected, InterceptReason.auth_failed), "S211": (CarrierRejected, InterceptReason.auth_failed),
    "S212": (CarrierRejected, InterceptReason.auth_failed), "S214": (CarrierRejected, InterceptReason.carrier_error),
    "E404": (CarrierRejected, InterceptReason.auth_failed), "E409": (CarrierRejected, InterceptReason.auth_failed),
    "E413": (CarrierRejected, InterceptReason.auth_failed), "E416": (CarrierRejected, InterceptReason.carrier_error),
    "E418": (CarrierRejected, InterceptReason.auth_failed),
}


@pytest.mark.anyio
@pytest.mark.parametrize("operation", ["subscribe", "query_tracking"])
@pytest.mark.parametrize("code", sorted(ERRORS))
async def test_each_documented_error_code_raises_what_it_means(operation: str, code: str) -> None:
    error, reason = ERRORS[code]
    async with zto(refused(code, "说明")) as (carrier, _):
        with pytest.raises(error) as caught:
            if operation == "subscribe":
                await carrier.subscribe(Subscription("zto", WAYBILL, CALLBACK, "5514"))
            else:
                await carrier.query_tracking("zto", WAYBILL, "5514")

    assert type(caught.value) is error
    if isinstance(caught.value, CarrierRejected):
        assert (caught.value.code, caught.value.message, caught.value.reason) == (code, "说明", reason)


@pytest.mark.anyio
async def test_an_unknown_status_code_is_refused_as_carrier_error_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async with zto(refused("S999", "新错误")) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("zto", WAYBILL, CALLBACK, "5514"))

    assert (caught.value.code, caught.value.reason) == ("S999", InterceptReason.carrier_error)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "zto zto.merchant.waybill.track.subsrcibe answered an unknown statusCode 'S999': 新错误")]


@pytest.mark.anyio
async def test_missing_credentials_are_refused_before_any_call() -> None:
    async with zto(account=CarrierAccount("zto", {"app_key": APP_KEY}, {"api": API})) as (carrier, seen):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("zto", WAYBILL, CALLBACK, "5514"))

    assert (caught.value.code, caught.value.reason, seen) == ("config", InterceptReason.auth_failed, [])


@pytest.mark.anyio
@pytest.mark.parametrize(("reply", "error"), [
    (httpx.Response(502, text="Bad Gateway"), CarrierUnavailable),
    (httpx.Response(200, text="<html>busy</html>"), CarrierUnavailable),
])
async def test_a_5xx_or_a_non_json_answer_is_unavailable(reply: httpx.Response, error: type[Exception]) -> None:
    async with zto(reply) as (carrier, _):
        with pytest.raises(error):
            await carrier.subscribe(Subscription("zto", WAYBILL, CALLBACK, "5514"))


# ---- query ---------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_query_posts_the_signed_body_and_parses_the_trace_newest_first() -> None:
    result = [
        trace("GOT", "2025-05-22 15:06:35", "【上海市】【青浦华新】的业务员张三已揽收", facilityName="青浦华新",
              city="上海市"),
        trace("DEPARTURE", "2025-05-22 15:07:42", "【上海市】快件离开【青浦华新】发往郑州高新区",
              facilityName="青浦华新"),
        trace("DISPATCH", "2025-05-22 15:07:50", "【郑州市】正在派件", city="郑州市"),
    ]
    async with zto(ok(result)) as (carrier, seen):
        snapshot = await carrier.query_tracking("zto", WAYBILL, "5514")

    [request] = seen
    assert (request.method, str(request.url)) == ("POST", f"{API}/zto.merchant.waybill.track.query")
    assert request.content == QUERY_BODY
    assert (request.headers["x-appKey"], request.headers["x-dataDigest"]) == (APP_KEY, QUERY_DIGEST)
    assert snapshot == TrackingSnapshot("zto", WAYBILL, TrackingStatus.out_for_delivery, (
        TrackingEvent(datetime(2025, 5, 22, 7, 7, 50, tzinfo=UTC), TrackingStatus.out_for_delivery, "DISPATCH",
                      "【郑州市】正在派件", "郑州市"),
        TrackingEvent(datetime(2025, 5, 22, 7, 7, 42, tzinfo=UTC), TrackingStatus.in_transit, "DEPARTURE",
                      "【上海市】快件离开【青浦华新】发往郑州高新区", "青浦华新"),
        TrackingEvent(datetime(2025, 5, 22, 7, 6, 35, tzinfo=UTC), TrackingStatus.picked_up, "GOT",
                      "【上海市】【青浦华新】的业务员张三已揽收", "青浦华新"),
    ))


@pytest.mark.anyio
@pytest.mark.parametrize("result", [[], None])
async def test_a_query_without_any_trace_is_a_parcel_not_yet_picked_up(result: object) -> None:
    async with zto(ok(result)) as (carrier, _):
        snapshot = await carrier.query_tracking("zto", WAYBILL, "5514")

    assert snapshot == TrackingSnapshot("zto", WAYBILL, TrackingStatus.created, ())


@pytest.mark.anyio
@pytest.mark.parametrize("result", [{"billCode": WAYBILL}, [{"action": "GOT", "actionTime": "yesterday"}],
                                    [{"actionTime": "2025-05-22 15:06:35"}], ["GOT"]])
async def test_a_malformed_query_answer_is_unavailable(result: object) -> None:
    async with zto(ok(result)) as (carrier, _):
        with pytest.raises(CarrierUnavailable, match="malformed answer"):
            await carrier.query_tracking("zto", WAYBILL, "5514")


# ---- code tables ---------------------------------------------------------------------------------

def test_every_answer_code_is_pinned() -> None:
    assert set(codes.ANSWER_CODES) == set(ERRORS) | {"SYS000", "0000"}


@pytest.mark.parametrize("code", sorted(codes.ANSWER_CODES))
def test_each_answer_code_has_its_verdict(code: str) -> None:
    rule = codes.answer_rule("api", code, "")
    if code in ("SYS000", "0000"):
        assert rule == codes.AnswerRule(codes.Verdict.ok)
    elif ERRORS[code][0] is CarrierUnavailable:
        assert rule == codes.AnswerRule(codes.Verdict.unavailable)
    else:
        assert rule == codes.AnswerRule(codes.Verdict.rejected, ERRORS[code][1])


ACTIONS = {
    "GOT": TrackingStatus.picked_up, "DEPARTURE": TrackingStatus.in_transit, "ARRIVAL": TrackingStatus.in_transit,
    "DISPATCH": TrackingStatus.out_for_delivery, "INBOUND": TrackingStatus.out_for_delivery,
    "HANDOVERSCAN_SIGNED": TrackingStatus.delivered, "DEPARTURE_SIGNED": TrackingStatus.delivered,
    "SIGNED": TrackingStatus.delivered, "RETURN": TrackingStatus.returning, "RETURN_SIGNED": TrackingStatus.returned,
    "PROBLEM": TrackingStatus.exception,
}


@pytest.mark.parametrize("action", sorted(codes.TRACKING_ACTIONS))
def test_each_action_maps_to_its_status(action: str, caplog: pytest.LogCaptureFixture) -> None:
    assert codes.tracking_status(action) is ACTIONS[action]
    assert caplog.records == []


def test_an_unknown_action_is_in_transit_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="lanjie.carriers.zto.codes"):
        assert codes.tracking_status("TELEPORTED") is TrackingStatus.in_transit

    assert [r.getMessage() for r in caplog.records] == [
        "zto tracking action 'TELEPORTED' is unknown; treated as in_transit"]


# ---- track push ----------------------------------------------------------------------------------

def push_body(data: str | bytes, data_digest: str | None, **extra: str) -> bytes:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fields: list[tuple[str, str | bytes]] = [("data", raw)]
    if data_digest is not None:
        fields.append(("data_digest", data_digest))
    fields += [("company_id", APP_KEY), ("msg_type", "Traces"), *extra.items()]
    return urlencode(fields).encode("ascii")


def carrier(secret: str = APP_SECRET) -> ZTO:
    def no_call(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"parse_push must not call out, it called {request.url}")

    account = CarrierAccount("zto", {"app_key": APP_KEY, "app_secret": secret}, {"api": API})
    return ZTO(account, httpx.AsyncClient(transport=httpx.MockTransport(no_call)))


def test_the_published_push_sample_verifies_and_parses_to_one_new_event() -> None:
    assert digest(SAMPLE_DATA.encode()) == SAMPLE_DIGEST

    push = carrier().parse_push(push_body(SAMPLE_DATA, SAMPLE_DIGEST), FORM)

    assert push == Push(
        message_key="73100196611386|ARRIVAL|2025-05-22 15:07:46",
        tracking=TrackingSnapshot("zto", WAYBILL, TrackingStatus.in_transit, (
            TrackingEvent(datetime(2025, 5, 22, 7, 7, 46, tzinfo=UTC), TrackingStatus.in_transit, "ARRIVAL",
                          "【郑州市】快件已到达【郑州高新区】", "郑州高新区"),), incremental=True),
        ack_body=b'{"status":true,"message":"success"}',
        ack_media_type="application/json",
    )
    assert push.ack_body == PUSH_ACK


def test_a_push_is_verified_over_the_raw_field_not_a_reserialisation() -> None:
    spaced = json.dumps(json.loads(SAMPLE_DATA), ensure_ascii=False)  # same JSON, other bytes

    with pytest.raises(SignatureInvalid, match="does not match"):
        carrier().parse_push(push_body(spaced, SAMPLE_DIGEST), FORM)


@pytest.mark.parametrize("forged", [digest(SAMPLE_DATA.encode(), "another secret"), SAMPLE_DIGEST.lower(),
                                    SAMPLE_DIGEST + " "])
def test_a_forged_push_is_refused(forged: str) -> None:
    with pytest.raises(SignatureInvalid):
        carrier().parse_push(push_body(SAMPLE_DATA, forged), FORM)


@pytest.mark.parametrize("data_digest", [None, ""])
def test_an_unsigned_push_is_refused(data_digest: str | None) -> None:
    with pytest.raises(SignatureInvalid, match="no data_digest"):
        carrier().parse_push(push_body(SAMPLE_DATA, data_digest), FORM)


def test_without_a_secret_nothing_verifies() -> None:
    with pytest.raises(SignatureInvalid, match="no app_secret configured"):
        carrier(secret="").parse_push(push_body(SAMPLE_DATA, digest(SAMPLE_DATA.encode(), "")), FORM)


def test_a_duplicate_push_has_the_same_message_key_and_a_new_event_another() -> None:
    first = carrier().parse_push(push_body(SAMPLE_DATA, SAMPLE_DIGEST), FORM)
    again = carrier().parse_push(push_body(SAMPLE_DATA, SAMPLE_DIGEST), FORM)
    later = json.dumps(trace("DISPATCH", "2025-05-22 15:07:50", "正在派件"), ensure_ascii=False)
    other = carrier().parse_push(push_body(later, digest(later.encode())), FORM)

    assert first.message_key == again.message_key == "73100196611386|ARRIVAL|2025-05-22 15:07:46"
    assert other.message_key == "73100196611386|DISPATCH|2025-05-22 15:07:50"


@pytest.mark.parametrize(("data", "problem"), [
    (b"not json", "not UTF-8 JSON"),
    (b"\xff\xfe", "not UTF-8 JSON"),
    (b"[1]", "not a JSON object"),
    (b'{"action":"GOT","actionTime":"2025-05-22 15:06:35"}', "no billCode"),
    (b'{"billCode":"7","action":"GOT","actionTime":"soon"}', "bad time"),
])
def test_a_signed_but_malformed_push_is_refused_as_malformed(data: bytes, problem: str) -> None:
    with pytest.raises(MalformedPush, match=problem):
        carrier().parse_push(push_body(data, digest(data)), FORM)


@pytest.mark.parametrize(("body", "content_type"), [
    (push_body(SAMPLE_DATA, SAMPLE_DIGEST) + b"&data=x", FORM),
    (push_body(SAMPLE_DATA, SAMPLE_DIGEST), "application/json"),
    (push_body(SAMPLE_DATA, SAMPLE_DIGEST, msg_type="Orders").replace(b"&msg_type=Traces", b""), FORM),
])
def test_a_push_that_is_not_one_track_form_is_malformed(body: bytes, content_type: str) -> None:
    with pytest.raises(MalformedPush):
        carrier().parse_push(body, content_type)


def test_the_reject_ack_is_zto_shaped() -> None:
    assert ZTO.reject_ack() == (PUSH_REJECT, "application/json")
    assert json.loads(PUSH_REJECT) == {"status": False, "message": "data_digest error"}
