"""Yunda byte by byte: the signed requests, the calls, parsing answers and pushes, every code table entry.

Expected signatures are computed here from the recipe (§8, §17) with hashlib, never with the
adapter's own sign function; one is a known answer computed outside Python.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from lanjie.carriers.base import (
    Capability,
    CarrierAccount,
    InterceptRequest,
    Push,
    Subscription,
    TrackingEvent,
    TrackingSnapshot,
)
from lanjie.carriers.errors import (
    CarrierRejected,
    CarrierUnavailable,
    MalformedPush,
    NotSupported,
    SignatureInvalid,
)
from lanjie.carriers.yunda import PUSH_ACK, PUSH_REJECT, Yunda
from lanjie.carriers.yunda import codes as yunda_codes
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus

APP_KEY = "YD-APPKEY-0001"
APP_SECRET = "yd-secret-ABCdef-2024"
API = "https://yunda.test/openapi-api"
CALLBACK = "https://lanjie.example/cb/yunda/回调 a*b~c"
WAYBILL = "3120052228790"
NOW = datetime(2024, 6, 1, 8, 0, 0, 123000, tzinfo=UTC)  # req-time 1717228800123
REQ_TIME = "1717228800123"
ACCOUNT = CarrierAccount("yunda", {"app_key": APP_KEY, "app_secret": APP_SECRET}, {"api": API})
# Known answer, computed outside Python: printf '%s' '{"mailno":"3120052228790"}_yd-secret-ABCdef-2024' | md5sum
EXAMPLE_SIGN = "f411faebd92b3d41d098fa04a5f25ac4"
BEIJING = timezone(timedelta(hours=8))
ACK = b'{"result":true,"code":"0000","message":"\xe6\x88\x90\xe5\x8a\x9f"}'  # message "成功"


def md5_sign(body: bytes, secret: str = APP_SECRET) -> str:
    return hashlib.md5(body + b"_" + secret.encode("utf-8")).hexdigest()


def utc(text: str) -> datetime:
    """A Beijing wall-clock time as the aware UTC instant."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING).astimezone(UTC)


@dataclass
class Script:
    replies: list[httpx.Response]
    seen: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return self.replies.pop(0)


def answer(body: dict[str, Any] | bytes, status: int = 200) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return httpx.Response(status, content=content, headers={"Content-Type": "application/json;charset=UTF-8"})


@asynccontextmanager
async def yunda(*replies: httpx.Response, account: CarrierAccount = ACCOUNT) -> AsyncIterator[tuple[Yunda, Script]]:
    script = Script(list(replies))
    async with httpx.AsyncClient(transport=httpx.MockTransport(script)) as client:
        yield Yunda(account, client, clock=lambda: NOW), script
    assert script.replies == [], "scripted replies were never asked for"


def _no_call(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no call expected, got {request.url}")


def offline(account: CarrierAccount = ACCOUNT) -> Yunda:
    return Yunda(account, httpx.AsyncClient(transport=httpx.MockTransport(_no_call)), clock=lambda: NOW)


STEPS = [
    {"time": "2024-05-30 09:00:00", "action": "GOT", "station": "310115", "station_name": "上海浦东营业部",
     "station_type": "网点", "next": "", "next_name": "", "next_city": "", "description": "【上海市】已揽收",
     "signer": ""},
    {"time": "2024-05-30 12:00:00", "action": "DEPARTURE", "station": "310000", "station_name": "上海分拨中心",
     "station_type": "分拨中心", "next": "330000", "next_name": "杭州分拨中心", "next_city": "杭州市",
     "description": "快件离开【上海分拨中心】，已发往【杭州分拨中心】", "signer": ""},
    {"time": "2024-05-31 08:00:00", "action": "RETURN", "station": "330000", "station_name": "杭州分拨中心",
     "station_type": "分拨中心", "next": "", "next_name": "", "next_city": "", "description": "快件已拦截，退回寄件人",
     "signer": ""},
    {"time": "2024-06-01 10:30:00", "action": "SIGNED", "station": "310115", "station_name": "上海浦东营业部",
     "station_type": "网点", "next": "", "next_name": "", "next_city": "",
     "description": "退回件已签收，签收人：寄件人", "signer": "示例商家"},
]
SNAPSHOT = TrackingSnapshot(
    carrier_code="yunda", waybill_no=WAYBILL, status=TrackingStatus.returned,
    events=(
        TrackingEvent(utc("2024-06-01 10:30:00"), TrackingStatus.returned, "SIGNED", "退回件已签收，签收人：寄件人",
                      "上海浦东营业部"),
        TrackingEvent(utc("2024-05-31 08:00:00"), TrackingStatus.returning, "RETURN", "快件已拦截，退回寄件人",
                      "杭州分拨中心"),
        TrackingEvent(utc("2024-05-30 12:00:00"), TrackingStatus.in_transit, "DEPARTURE",
                      "快件离开【上海分拨中心】，已发往【杭州分拨中心】", "上海分拨中心"),
        TrackingEvent(utc("2024-05-30 09:00:00"), TrackingStatus.picked_up, "GOT", "【上海市】已揽收",
                      "上海浦东营业部"),
    ),
)


# ---- the signature -------------------------------------------------------------------------------


def test_the_documented_example_body_is_signed_as_md5_of_body_underscore_secret() -> None:
    body = b'{"mailno":"3120052228790"}'
    assert md5_sign(body) == EXAMPLE_SIGN


# ---- query: request, call, success, errors ------------------------------------------------------


@pytest.mark.anyio
async def test_query_sends_the_documented_body_signed_in_the_headers() -> None:
    async with yunda(answer({"result": True, "code": "0000", "message": "成功",
                             "data": {"mailno": WAYBILL, "status": "RETURN", "steps": STEPS}})) as (carrier, script):
        await carrier.query_tracking("yunda", WAYBILL)

    [request] = script.seen
    assert (request.method, str(request.url)) == ("POST", f"{API}/outer/logictis/query")
    assert request.content == b'{"mailno":"3120052228790"}'
    assert request.headers["content-type"] == "application/json;charset=utf-8"
    assert request.headers["app-key"] == APP_KEY
    assert request.headers["sign"] == EXAMPLE_SIGN
    assert request.headers["req-time"] == REQ_TIME


@pytest.mark.anyio
async def test_a_trace_parses_newest_first_with_a_return_signature_as_returned() -> None:
    async with yunda(answer({"result": True, "code": "0000", "message": "成功",
                             "data": {"mailno": WAYBILL, "status": "RETURN", "steps": STEPS}})) as (carrier, _):
        snapshot = await carrier.query_tracking("yunda", WAYBILL)

    assert snapshot == SNAPSHOT


@pytest.mark.anyio
async def test_the_exchange_is_kept_with_app_key_and_sign_masked() -> None:
    async with yunda(answer({"result": False, "code": "2001", "message": "暂无轨迹信息"})) as (carrier, _):
        await carrier.query_tracking("yunda", WAYBILL)

    [exchange] = carrier.exchanges
    assert (exchange.operation, exchange.method, exchange.url, exchange.status_code) == (
        "query_tracking", "POST", f"{API}/outer/logictis/query", 200)
    # The body is shown re-serialised (decoded JSON, redacted by field name).
    assert exchange.request_body == f'app-key: ***\nsign: ***\nreq-time: {REQ_TIME}\n\n{{"mailno": "{WAYBILL}"}}'
    assert APP_SECRET not in exchange.response_body


@pytest.mark.parametrize(("code", "reason"), [
    ("1001", InterceptReason.carrier_error),
    ("1002", InterceptReason.auth_failed),
    ("1003", InterceptReason.auth_failed),
    ("1004", InterceptReason.rate_limited),
    ("1005", InterceptReason.carrier_error),
])
@pytest.mark.anyio
async def test_each_refusing_query_code_is_carrier_rejected_with_its_reason(code: str, reason: str) -> None:
    async with yunda(answer({"result": False, "code": code, "message": "说明"})) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.query_tracking("yunda", WAYBILL)

    assert (caught.value.code, caught.value.message, caught.value.reason) == (code, "说明", reason)


@pytest.mark.anyio
async def test_no_trace_is_an_empty_snapshot_not_yet_picked_up() -> None:
    async with yunda(answer({"result": False, "code": "2001", "message": "暂无轨迹信息"})) as (carrier, _):
        snapshot = await carrier.query_tracking("yunda", WAYBILL)

    assert snapshot == TrackingSnapshot("yunda", WAYBILL, TrackingStatus.created, ())


@pytest.mark.anyio
async def test_system_busy_and_5xx_are_unavailable() -> None:
    async with yunda(answer({"result": False, "code": "9999", "message": "系统繁忙"}),
                     answer(b"<html>bad gateway</html>", status=502),
                     answer(b"<html>not json</html>")) as (carrier, _):
        for _ in range(3):
            with pytest.raises(CarrierUnavailable):
                await carrier.query_tracking("yunda", WAYBILL)


@pytest.mark.anyio
async def test_an_unknown_answer_code_is_a_logged_carrier_error(caplog: pytest.LogCaptureFixture) -> None:
    async with yunda(answer({"result": False, "code": "7777", "message": "新错误"})) as (carrier, _):
        with caplog.at_level(logging.WARNING, logger="lanjie.carriers.yunda.codes"), \
                pytest.raises(CarrierRejected) as caught:
            await carrier.query_tracking("yunda", WAYBILL)

    assert (caught.value.code, caught.value.reason) == ("7777", InterceptReason.carrier_error)
    assert [r.getMessage() for r in caplog.records] == ["yunda query answered an unknown code '7777': 新错误"]


# ---- subscribe: request, call, success, errors --------------------------------------------------


@pytest.mark.anyio
async def test_subscribe_signs_the_utf8_bytes_of_a_body_with_chinese_and_symbols() -> None:
    async with yunda(answer({"result": True, "code": "0000", "message": "订阅成功"})) as (carrier, script):
        await carrier.subscribe(Subscription("yunda", WAYBILL, CALLBACK))

    [request] = script.seen
    expected = ('{"orders":[{"orderid":"3120052228790","mailno":"3120052228790"}],'
                '"callback_url":"https://lanjie.example/cb/yunda/回调 a*b~c"}').encode()
    assert (request.method, str(request.url)) == ("POST", f"{API}/outer/logictis/subscribe")
    assert request.content == expected
    assert (request.headers["app-key"], request.headers["sign"], request.headers["req-time"]) == (
        APP_KEY, md5_sign(expected), REQ_TIME)


@pytest.mark.parametrize("code", ["0000", "2002"])
@pytest.mark.anyio
async def test_subscribing_succeeds_and_a_repeat_is_harmless(code: str) -> None:
    async with yunda(answer({"result": code == "0000", "code": code, "message": "ok"})) as (carrier, _):
        assert await carrier.subscribe(Subscription("yunda", WAYBILL, CALLBACK)) is None


@pytest.mark.parametrize(("code", "reason"), [
    ("1001", InterceptReason.carrier_error),
    ("1002", InterceptReason.auth_failed),
    ("1003", InterceptReason.auth_failed),
    ("1004", InterceptReason.rate_limited),
    ("1005", InterceptReason.carrier_error),
])
@pytest.mark.anyio
async def test_each_refusing_subscribe_code_is_carrier_rejected(code: str, reason: str) -> None:
    async with yunda(answer({"result": False, "code": code, "message": "说明"})) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("yunda", WAYBILL, CALLBACK))

    assert (caught.value.code, caught.value.reason) == (code, reason)


@pytest.mark.anyio
async def test_another_courier_or_missing_credentials_are_refused_before_any_call() -> None:
    carrier = offline()
    with pytest.raises(CarrierRejected) as wrong:
        await carrier.query_tracking("zto", WAYBILL)
    without_secret = offline(CarrierAccount("yunda", {"app_key": APP_KEY}, {"api": API}))
    with pytest.raises(CarrierRejected) as unconfigured:
        await without_secret.subscribe(Subscription("yunda", WAYBILL, CALLBACK))

    assert (wrong.value.code, wrong.value.reason) == ("courier", InterceptReason.not_supported)
    assert (unconfigured.value.code, unconfigured.value.reason) == ("config", InterceptReason.auth_failed)
    assert carrier.exchanges == without_secret.exchanges == []


# ---- code tables --------------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "status"), sorted(yunda_codes.ACTION_STATUS.items()))
def test_every_step_action_maps_to_its_status(action: str, status: TrackingStatus) -> None:
    assert yunda_codes.tracking_status(action) is status


@pytest.mark.parametrize(("action", "status"), [
    ("ACCEPT", TrackingStatus.created), ("GOT", TrackingStatus.picked_up), ("ARRIVAL", TrackingStatus.in_transit),
    ("DEPARTURE", TrackingStatus.in_transit), ("SENT", TrackingStatus.out_for_delivery),
    ("INBOUND", TrackingStatus.out_for_delivery), ("OUTBOUND", TrackingStatus.out_for_delivery),
    ("SIGNED", TrackingStatus.delivered), ("SIGNFAIL", TrackingStatus.delivery_failed),
    ("RETURN", TrackingStatus.returning), ("ISSUE", TrackingStatus.exception),
    ("REJECTION", TrackingStatus.delivery_failed), ("OTHER", TrackingStatus.in_transit),
    ("TRANSFER", TrackingStatus.in_transit),
])
def test_the_documented_actions_are_all_in_the_table(action: str, status: TrackingStatus) -> None:
    assert yunda_codes.ACTION_STATUS[action] is status


def test_a_signature_after_a_return_is_returned_and_nothing_else_changes() -> None:
    assert yunda_codes.tracking_status("SIGNED", after_return=True) is TrackingStatus.returned
    assert yunda_codes.tracking_status("RETURN", after_return=True) is TrackingStatus.returning
    assert yunda_codes.tracking_status("GOT", after_return=True) is TrackingStatus.picked_up


def test_an_unknown_action_is_in_transit_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="lanjie.carriers.yunda.codes"):
        first = yunda_codes.tracking_status("TELEPORTED")
        second = yunda_codes.tracking_status("TELEPORTED")

    assert first is second is TrackingStatus.in_transit
    assert [r.getMessage() for r in caplog.records] == [
        "yunda step action 'TELEPORTED' is unknown; treated as in_transit"]


@pytest.mark.parametrize(("code", "rule"), sorted(yunda_codes.ANSWER_CODES.items()))
def test_every_answer_code_has_its_rule(code: str, rule: yunda_codes.AnswerRule) -> None:
    assert yunda_codes.answer_rule("query", code, "") == rule
    expected = {"0000": "ok", "2002": "ok", "2001": "no_result", "9999": "unavailable"}.get(code, "rejected")
    assert rule.verdict == expected


# ---- pushes -------------------------------------------------------------------------------------

PUSH_BODY = json.dumps({"orderid": WAYBILL, "mailno": WAYBILL, "status": "RETURN", "steps": STEPS},
                       ensure_ascii=False, separators=(",", ":")).encode("utf-8")
JSON = "application/json;charset=utf-8"


def signed_headers(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"app-key": APP_KEY, "sign": md5_sign(body, secret), "req-time": REQ_TIME}


def newest_key(count: int, time: str, action: str, description: str) -> str:
    return hashlib.sha256("\n".join(["yunda", WAYBILL, str(count), time, action, description]).encode()).hexdigest()


def test_a_signed_push_parses_to_the_full_history_with_the_exact_ack() -> None:
    push = offline().parse_push(PUSH_BODY, JSON, signed_headers(PUSH_BODY))

    assert push == Push(message_key=newest_key(4, "2024-06-01 10:30:00", "SIGNED", "退回件已签收，签收人：寄件人"),
                        tracking=SNAPSHOT, ack_body=ACK, ack_media_type="application/json")
    assert PUSH_ACK == ACK


def test_a_sign_in_upper_case_or_a_header_name_in_any_case_still_verifies() -> None:
    headers = {"Sign": md5_sign(PUSH_BODY).upper(), "App-Key": APP_KEY}
    assert offline().parse_push(PUSH_BODY, "application/json", headers).tracking == SNAPSHOT


def test_a_duplicate_push_has_the_same_key_and_a_new_scan_a_new_one() -> None:
    carrier = offline()
    first = carrier.parse_push(PUSH_BODY, JSON, signed_headers(PUSH_BODY))
    again = carrier.parse_push(PUSH_BODY, JSON, signed_headers(PUSH_BODY))
    older_body = json.dumps({"mailno": WAYBILL, "steps": STEPS[:3]}, ensure_ascii=False).encode()
    older = carrier.parse_push(older_body, JSON, signed_headers(older_body))

    assert first.message_key == again.message_key
    assert older.message_key == newest_key(3, "2024-05-31 08:00:00", "RETURN", "快件已拦截，退回寄件人")
    assert older.tracking is not None and older.tracking.status is TrackingStatus.returning


def test_a_scan_in_the_same_second_as_the_one_before_is_a_new_message() -> None:
    # An intercept caught at a scan is recorded in the same second as that scan.
    caught = {**STEPS[2], "time": STEPS[1]["time"]}
    before = json.dumps({"mailno": WAYBILL, "steps": STEPS[:2]}, ensure_ascii=False).encode()
    after = json.dumps({"mailno": WAYBILL, "steps": [*STEPS[:2], caught]}, ensure_ascii=False).encode()
    carrier = offline()
    first = carrier.parse_push(before, JSON, signed_headers(before))
    second = carrier.parse_push(after, JSON, signed_headers(after))

    assert first.message_key != second.message_key
    assert second.message_key == newest_key(3, "2024-05-30 12:00:00", "RETURN", "快件已拦截，退回寄件人")
    assert second.tracking is not None and second.tracking.status is TrackingStatus.returning


@pytest.mark.parametrize("headers", [
    signed_headers(PUSH_BODY, "another-secret"),
    {**signed_headers(PUSH_BODY), "sign": md5_sign(PUSH_BODY + b" ")},
    {"app-key": APP_KEY, "sign": "", "req-time": REQ_TIME},
    {"app-key": APP_KEY, "req-time": REQ_TIME},
    {},
    None,
], ids=["wrong-secret", "other-body", "empty-sign", "no-sign", "no-headers", "headers-none"])
def test_a_forged_or_unsigned_push_is_refused(headers: dict[str, str] | None) -> None:
    with pytest.raises(SignatureInvalid):
        offline().parse_push(PUSH_BODY, JSON, headers)


def test_without_an_app_secret_no_push_verifies() -> None:
    carrier = offline(CarrierAccount("yunda", {"app_key": APP_KEY}, {"api": API}))
    with pytest.raises(SignatureInvalid, match="no app_secret"):
        carrier.parse_push(PUSH_BODY, JSON, signed_headers(PUSH_BODY))


@pytest.mark.parametrize(("body", "content_type"), [
    (b"not json", JSON),
    (b"[1, 2]", JSON),
    (b'{"steps": []}', JSON),
    (b'{"mailno": "1", "steps": "GOT"}', JSON),
    (b'{"mailno": "1", "steps": [{"time": "yesterday", "action": "GOT"}]}', JSON),
    (PUSH_BODY, "application/x-www-form-urlencoded"),
], ids=["not-json", "not-object", "no-mailno", "steps-not-list", "bad-time", "form"])
def test_a_signed_but_malformed_push_is_malformed(body: bytes, content_type: str) -> None:
    with pytest.raises(MalformedPush):
        offline().parse_push(body, content_type, signed_headers(body))


def test_the_reject_ack_is_in_yundas_format() -> None:
    assert Yunda.reject_ack() == (PUSH_REJECT, "application/json")
    assert json.loads(PUSH_REJECT) == {"result": False, "code": "1002", "message": "签名错误"}


# ---- the plugin surface -------------------------------------------------------------------------


def test_the_plugin_describes_a_tracking_only_carrier_that_intercepts_via_kuaidi100() -> None:
    assert (Yunda.name, Yunda.title, Yunda.couriers, Yunda.intercept_types, Yunda.intercept_via) == (
        "yunda", "Yunda 韵达", frozenset({"yunda"}), frozenset(), "kuaidi100")
    assert Yunda.capabilities == frozenset({Capability.subscribe, Capability.query_tracking, Capability.parse_push})
    assert (Yunda.credential_names, Yunda.endpoint_names, Yunda.rate_limit_per_second) == (
        ("app_key", "app_secret"), ("api",), 10.0)


OPERATIONS: list[tuple[str, Callable[[Yunda], Any]]] = [
    ("intercept", lambda c: c.intercept(InterceptRequest("i", "yunda", WAYBILL, InterceptType.return_to_sender,
                                                         CALLBACK))),
    ("query_intercept", lambda c: c.query_intercept("yunda", WAYBILL, "T1")),
    ("cancel_intercept", lambda c: c.cancel_intercept("yunda", WAYBILL, "T1")),
    ("precheck", lambda c: c.precheck(InterceptRequest("i", "yunda", WAYBILL, InterceptType.return_to_sender,
                                                       CALLBACK))),
]


@pytest.mark.parametrize(("name", "call"), OPERATIONS, ids=[name for name, _ in OPERATIONS])
@pytest.mark.anyio
async def test_intercept_operations_are_not_supported_and_name_kuaidi100(
        name: str, call: Callable[[Yunda], Any]) -> None:
    carrier = offline()
    with pytest.raises(NotSupported, match="kuaidi100"):
        await call(carrier)
    assert carrier.exchanges == []
