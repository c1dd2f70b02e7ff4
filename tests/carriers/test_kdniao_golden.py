"""Kdniao byte by byte: the signed forms, the calls, parsing answers and pushes, every code table entry.

Expected DataSigns are computed here from the recipe (§3.1, §17) with hashlib and base64, never with
the adapter's own function; one is a known answer computed outside Python, and the percent-encoded
bodies are written out by hand.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

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
from lanjie.carriers.kdniao import PUSH_REJECT, Kdniao
from lanjie.carriers.kdniao import codes as kdniao_codes
from lanjie.carriers.kdniao import data_sign as adapter_data_sign
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus

EBID = "1234567"
APP_KEY = "56da2cf8-c8a2-44b2-b6fa-476cd7d1ba17"
API = "https://kdniao.test"
CALLBACK = "https://lanjie.example/cb/kdniao/回调 a*b~c+d"
WAYBILL = "7300000000001"
NOW = datetime(2024, 6, 1, 8, 0, 0, tzinfo=UTC)  # 2024-06-01 16:00:00 in Beijing
BEIJING = timezone(timedelta(hours=8))
ACCOUNT = CarrierAccount("kdniao", {"ebusiness_id": EBID, "app_key": APP_KEY}, {"api": API})
FORM_UTF8 = "application/x-www-form-urlencoded;charset=utf-8"
QUERY_DATA = '{"OrderCode":"","ShipperCode":"ZTO","LogisticCode":"7300000000001"}'
# Known answer, computed outside Python:
# printf '%s' "$QUERY_DATA$APP_KEY" | md5sum | cut -c1-32 | tr -d '\n' | base64
QUERY_SIGN = "ODZmZmQxNzIzZDg2MWE3NjI4YzY3NDc0ODk1YjM2NjA="
ACK = b'{"EBusinessID":"1234567","UpdateTime":"2024-06-01 16:00:00","Success":true,"Reason":""}'


def data_sign(request_data: str | bytes, app_key: str = APP_KEY) -> str:
    raw = request_data.encode("utf-8") if isinstance(request_data, str) else request_data
    return base64.b64encode(hashlib.md5(raw + app_key.encode()).hexdigest().encode()).decode()


def utc(text: str) -> datetime:
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
    return httpx.Response(status, content=content, headers={"Content-Type": "application/json;charset=utf-8"})


@asynccontextmanager
async def kdniao(*replies: httpx.Response,
                 account: CarrierAccount = ACCOUNT) -> AsyncIterator[tuple[Kdniao, Script]]:
    script = Script(list(replies))
    async with httpx.AsyncClient(transport=httpx.MockTransport(script)) as client:
        yield Kdniao(account, client, clock=lambda: NOW), script
    assert script.replies == [], "scripted replies were never asked for"


def _no_call(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no call expected, got {request.url}")


def offline(account: CarrierAccount = ACCOUNT) -> Kdniao:
    return Kdniao(account, httpx.AsyncClient(transport=httpx.MockTransport(_no_call)), clock=lambda: NOW)


TRACES = [
    {"AcceptTime": "2024-05-30 09:00:00", "AcceptStation": "【上海市】已揽收", "Remark": "", "Location": "上海市",
     "Action": "1"},
    {"AcceptTime": "2024-05-31 08:00:00", "AcceptStation": "快件已拦截，退回寄件人", "Remark": "",
     "Location": "杭州市", "Action": "413"},
    {"AcceptTime": "2024-06-01 10:30:00", "AcceptStation": "退件已签收", "Remark": "", "Location": "上海市",
     "Action": "406"},
]
TRACE_ANSWER = {"EBusinessID": EBID, "OrderCode": "", "ShipperCode": "ZTO", "LogisticCode": WAYBILL,
                "Success": True, "ResultCode": "100", "Reason": "", "State": "4", "StateEx": "406",
                "Location": "上海市", "Traces": TRACES}
SNAPSHOT = TrackingSnapshot(
    carrier_code="zto", waybill_no=WAYBILL, status=TrackingStatus.returned,
    events=(
        TrackingEvent(utc("2024-06-01 10:30:00"), TrackingStatus.returned, "406", "退件已签收", "上海市"),
        TrackingEvent(utc("2024-05-31 08:00:00"), TrackingStatus.returning, "413", "快件已拦截，退回寄件人", "杭州市"),
        TrackingEvent(utc("2024-05-30 09:00:00"), TrackingStatus.picked_up, "1", "【上海市】已揽收", "上海市"),
    ),
)


# ---- DataSign -----------------------------------------------------------------------------------


def test_datasign_is_base64_of_the_lower_case_hex_string_not_of_the_raw_digest() -> None:
    digest = hashlib.md5((QUERY_DATA + APP_KEY).encode())
    assert data_sign(QUERY_DATA) == QUERY_SIGN
    assert base64.b64decode(QUERY_SIGN) == digest.hexdigest().encode()  # 32 ASCII characters
    assert base64.b64encode(digest.digest()).decode() != QUERY_SIGN


@given(st.text())
def test_a_datasign_is_44_characters_with_one_pad_and_never_a_plus_or_slash(request_data: str) -> None:
    # Base64 of hex digits only reaches the letters and digits, so the form encoding can change
    # nothing but the trailing "=" (to %3D); a "+" or "/" in a received DataSign is a forgery.
    assert re.fullmatch(r"[A-Za-z0-9]{43}=", adapter_data_sign(request_data, APP_KEY))
    assert adapter_data_sign(request_data, APP_KEY) == data_sign(request_data)


# ---- query: request, call, success, errors ------------------------------------------------------


@pytest.mark.anyio
async def test_query_posts_the_signed_form_once_encoded() -> None:
    async with kdniao(answer(TRACE_ANSWER)) as (carrier, script):
        await carrier.query_tracking("zto", WAYBILL)

    [request] = script.seen
    assert (request.method, str(request.url)) == ("POST", f"{API}/Ebusiness/EbusinessOrderHandle.aspx")
    assert request.headers["content-type"] == FORM_UTF8
    assert request.content == (
        b"RequestData=%7B%22OrderCode%22%3A%22%22%2C%22ShipperCode%22%3A%22ZTO%22%2C%22LogisticCode%22%3A"
        b"%227300000000001%22%7D&EBusinessID=1234567&RequestType=1002"
        b"&DataSign=ODZmZmQxNzIzZDg2MWE3NjI4YzY3NDc0ODk1YjM2NjA%3D&DataType=2")


@pytest.mark.anyio
async def test_an_sf_query_carries_the_phone_tail_as_customer_name() -> None:
    async with kdniao(answer(TRACE_ANSWER)) as (carrier, script):
        await carrier.query_tracking("shunfeng", "SF1234567890123", phone_tail="138-0013-8000")

    request_data = '{"OrderCode":"","ShipperCode":"SF","LogisticCode":"SF1234567890123","CustomerName":"8000"}'
    sign = data_sign(request_data)
    assert script.seen[0].content.decode() == (
        f"RequestData={quote(request_data, safe='')}&EBusinessID={EBID}&RequestType=1002"
        f"&DataSign={quote(sign, safe='')}&DataType=2")


@pytest.mark.anyio
async def test_a_trace_parses_newest_first() -> None:
    async with kdniao(answer(TRACE_ANSWER)) as (carrier, _):
        assert await carrier.query_tracking("zto", WAYBILL) == SNAPSHOT


@pytest.mark.anyio
async def test_traces_without_action_borrow_the_parcel_state_for_the_newest_only(
        caplog: pytest.LogCaptureFixture) -> None:
    plain = [{k: v for k, v in trace.items() if k != "Action"} for trace in TRACES]
    body = {**TRACE_ANSWER, "State": "3", "StateEx": "", "Traces": plain}
    async with kdniao(answer(body)) as (carrier, _):
        with caplog.at_level(logging.WARNING):
            snapshot = await carrier.query_tracking("zto", WAYBILL)

    assert [(e.code, e.status) for e in snapshot.events] == [
        ("3", TrackingStatus.delivered), ("", TrackingStatus.in_transit), ("", TrackingStatus.in_transit)]
    assert caplog.records == []


@pytest.mark.parametrize(("code", "reason"), [
    ("101", InterceptReason.carrier_error),
    ("102", InterceptReason.auth_failed),
    ("103", InterceptReason.carrier_error),
    ("104", InterceptReason.auth_failed),
    ("401", InterceptReason.rate_limited),
    ("402", InterceptReason.not_supported),
    ("405", InterceptReason.carrier_error),
])
@pytest.mark.anyio
async def test_each_refusing_result_code_is_carrier_rejected_with_its_reason(code: str, reason: str) -> None:
    async with kdniao(answer({"EBusinessID": EBID, "Success": False, "ResultCode": code, "Reason": "说明"}),
                      answer({"EBusinessID": EBID, "Success": False, "ResultCode": code, "Reason": "说明"})) as (
            carrier, _):
        with pytest.raises(CarrierRejected) as query:
            await carrier.query_tracking("zto", WAYBILL)
        with pytest.raises(CarrierRejected) as subscribe:
            await carrier.subscribe(Subscription("zto", WAYBILL, CALLBACK))

    for caught in (query, subscribe):
        assert (caught.value.code, caught.value.message, caught.value.reason) == (code, "说明", reason)


@pytest.mark.parametrize("body", [
    {"EBusinessID": EBID, "ShipperCode": "ZTO", "LogisticCode": WAYBILL, "Success": False, "ResultCode": "404",
     "Reason": "暂无轨迹信息", "State": "0", "Traces": []},
    {"EBusinessID": EBID, "ShipperCode": "ZTO", "LogisticCode": WAYBILL, "Success": False,
     "Reason": "暂无轨迹信息", "State": "0", "Traces": []},
], ids=["404", "no-result-code"])
@pytest.mark.anyio
async def test_no_trace_is_an_empty_snapshot_not_yet_picked_up(body: dict[str, Any]) -> None:
    async with kdniao(answer(body)) as (carrier, _):
        assert await carrier.query_tracking("zto", WAYBILL) == TrackingSnapshot(
            "zto", WAYBILL, TrackingStatus.created, ())


@pytest.mark.anyio
async def test_an_answer_without_result_code_but_success_is_a_trace() -> None:
    body = {k: v for k, v in TRACE_ANSWER.items() if k != "ResultCode"}
    async with kdniao(answer(body)) as (carrier, _):
        assert await carrier.query_tracking("zto", WAYBILL) == SNAPSHOT


@pytest.mark.anyio
async def test_other_errors_5xx_and_non_json_are_unavailable() -> None:
    async with kdniao(answer({"EBusinessID": EBID, "Success": False, "ResultCode": "105", "Reason": "系统繁忙"}),
                      answer(b"Service Unavailable", status=503), answer(b"<html></html>")) as (carrier, _):
        for _ in range(3):
            with pytest.raises(CarrierUnavailable):
                await carrier.query_tracking("zto", WAYBILL)


@pytest.mark.parametrize("body", [
    {"EBusinessID": EBID, "Success": False, "ResultCode": "999", "Reason": "新错误"},
    {"EBusinessID": EBID, "Success": False, "Reason": "新错误"},
], ids=["unknown-code", "no-code-not-a-trace"])
@pytest.mark.anyio
async def test_an_unknown_result_is_a_logged_carrier_error(body: dict[str, Any],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    async with kdniao(answer(body)) as (carrier, _):
        with caplog.at_level(logging.WARNING, logger="lanjie.carriers.kdniao.codes"), \
                pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("zto", WAYBILL, CALLBACK))

    code = body.get("ResultCode", "")
    assert (caught.value.code, caught.value.reason) == (code, InterceptReason.carrier_error)
    assert [r.getMessage() for r in caplog.records] == [
        f"kdniao subscribe answered an unknown ResultCode {code!r}: 新错误"]


# ---- subscribe: request, call, success ----------------------------------------------------------


@pytest.mark.anyio
async def test_subscribe_percent_encodes_chinese_symbols_and_the_sign_exactly_once() -> None:
    async with kdniao(answer({"EBusinessID": EBID, "UpdateTime": "2024-06-01 16:00:00", "Success": True,
                              "ResultCode": "100", "Reason": ""})) as (carrier, script):
        await carrier.subscribe(Subscription("zto", WAYBILL, CALLBACK))

    request_data = ('{"ShipperCode":"ZTO","LogisticCode":"7300000000001",'
                    '"Callback":"https://lanjie.example/cb/kdniao/回调 a*b~c+d"}')
    sign = data_sign(request_data)
    assert sign.endswith("=") and sign.count("=") == 1  # 32 hex characters → 44 Base64, one pad
    [request] = script.seen
    assert (request.method, str(request.url)) == ("POST", f"{API}/api/dist")
    assert request.headers["content-type"] == FORM_UTF8
    assert request.content.decode("ascii") == (
        "RequestData=%7B%22ShipperCode%22%3A%22ZTO%22%2C%22LogisticCode%22%3A%227300000000001%22%2C"
        "%22Callback%22%3A%22https%3A%2F%2Flanjie.example%2Fcb%2Fkdniao%2F%E5%9B%9E%E8%B0%83+a%2Ab~c%2Bd%22%7D"
        f"&EBusinessID=1234567&RequestType=1008&DataSign={sign[:-1]}%3D&DataType=2")
    assert "%25" not in request.content.decode("ascii")  # nothing was encoded twice


@pytest.mark.parametrize("code", ["100", "403"])
@pytest.mark.anyio
async def test_subscribing_succeeds_and_a_repeat_is_harmless(code: str) -> None:
    async with kdniao(answer({"EBusinessID": EBID, "Success": True, "ResultCode": code, "Reason": ""})) as (
            carrier, _):
        assert await carrier.subscribe(Subscription("zto", WAYBILL, CALLBACK)) is None


@pytest.mark.parametrize(("courier", "shipper"), sorted(kdniao_codes.SHIPPER_CODES.items()))
@pytest.mark.anyio
async def test_every_courier_maps_to_its_shipper_code(courier: str, shipper: str) -> None:
    async with kdniao(answer({"Success": True, "ResultCode": "100"})) as (carrier, script):
        await carrier.subscribe(Subscription(courier, WAYBILL, CALLBACK, phone_tail="8000"))

    form = parse_qs(script.seen[0].content.decode("ascii"), strict_parsing=True)
    sent = json.loads(form["RequestData"][0])
    assert sent["ShipperCode"] == shipper
    assert ("CustomerName" in sent) is (shipper == "SF")


@pytest.mark.parametrize("courier", ["zhongtong", "fedex", ""])
@pytest.mark.anyio
async def test_a_courier_without_shipper_code_is_not_supported_before_any_call(courier: str) -> None:
    carrier = offline()
    with pytest.raises(CarrierRejected) as subscribe:
        await carrier.subscribe(Subscription(courier, WAYBILL, CALLBACK))
    with pytest.raises(CarrierRejected) as query:
        await carrier.query_tracking(courier, WAYBILL)

    for caught in (subscribe, query):
        assert (caught.value.code, caught.value.reason) == ("courier", InterceptReason.not_supported)
    assert carrier.exchanges == []


@pytest.mark.anyio
async def test_missing_credentials_are_refused_before_any_call() -> None:
    carrier = offline(CarrierAccount("kdniao", {"ebusiness_id": EBID}, {"api": API}))
    with pytest.raises(CarrierRejected) as caught:
        await carrier.query_tracking("zto", WAYBILL)

    assert (caught.value.code, caught.value.reason) == ("config", InterceptReason.auth_failed)


@pytest.mark.anyio
async def test_the_exchange_is_kept_with_the_datasign_masked() -> None:
    async with kdniao(answer(TRACE_ANSWER)) as (carrier, _):
        await carrier.query_tracking("zto", WAYBILL)

    [exchange] = carrier.exchanges
    shown = json.loads(exchange.request_body)
    # Every credential value is scrubbed, the EBusinessID too.
    assert shown == {"RequestData": json.loads(QUERY_DATA), "EBusinessID": "***", "RequestType": "1002",
                     "DataSign": "***", "DataType": "2"}
    assert APP_KEY not in exchange.request_body + exchange.response_body


# ---- code tables --------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "status"), sorted(kdniao_codes.TRACKING_CODES.items()))
def test_every_tracking_code_maps_to_its_status(code: str, status: TrackingStatus) -> None:
    assert kdniao_codes.tracking_status(code) is status


@pytest.mark.parametrize(("code", "status"), [
    ("413", TrackingStatus.returning), ("406", TrackingStatus.returned), ("414", TrackingStatus.damaged),
    ("407", TrackingStatus.returning), ("404", TrackingStatus.delivery_failed), ("402", TrackingStatus.exception),
    ("403", TrackingStatus.exception), ("417", TrackingStatus.exception), ("0", TrackingStatus.created),
    ("1", TrackingStatus.picked_up), ("2", TrackingStatus.in_transit), ("3", TrackingStatus.delivered),
    ("4", TrackingStatus.exception), ("202", TrackingStatus.out_for_delivery),
])
def test_the_codes_the_brief_names_map_as_it_says(code: str, status: TrackingStatus) -> None:
    assert kdniao_codes.TRACKING_CODES[code] is status


def test_an_unknown_tracking_code_is_in_transit_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="lanjie.carriers.kdniao.codes"):
        first = kdniao_codes.tracking_status("999")
        second = kdniao_codes.tracking_status("999")

    assert first is second is TrackingStatus.in_transit
    assert [r.getMessage() for r in caplog.records] == ["kdniao tracking code '999' is unknown; treated as in_transit"]


@pytest.mark.parametrize(("code", "rule"), sorted(kdniao_codes.RESULT_CODES.items()))
def test_every_result_code_has_its_rule(code: str, rule: kdniao_codes.AnswerRule) -> None:
    assert kdniao_codes.answer_rule("query", code, "") == rule
    expected = {"100": "ok", "403": "ok", "404": "no_result", "105": "unavailable"}.get(code, "rejected")
    assert rule.verdict == expected


# ---- pushes -------------------------------------------------------------------------------------

TRACING = {"EBusinessID": EBID, "OrderCode": "", "ShipperCode": "ZTO", "LogisticCode": WAYBILL, "Success": True,
           "Reason": "", "State": "4", "StateEx": "406", "Location": "上海市", "Traces": TRACES,
           "CallBack": CALLBACK, "EstimatedDeliveryTime": ""}


def push_data(*parcels: dict[str, Any], ebid: str = EBID) -> str:
    return json.dumps({"EBusinessID": ebid, "PushTime": "2024-06-01 16:00:00", "Count": str(len(parcels)),
                       "Data": list(parcels)}, ensure_ascii=False, separators=(",", ":"))


def push_body(request_data: str, sign: str | None = None, request_type: str = "101") -> bytes:
    fields = [("RequestData", request_data)]
    if sign is not None:
        fields.append(("DataSign", sign))
    fields.append(("RequestType", request_type))
    return urlencode(fields).encode("ascii")


FORM = "application/x-www-form-urlencoded"
KEY_OF_NEWEST = hashlib.sha256(f"kdniao\n{WAYBILL}\n3\n2024-06-01 10:30:00\n退件已签收".encode()).hexdigest()


def test_a_signed_push_parses_with_the_exact_ack() -> None:
    data = push_data(TRACING)
    push = offline().parse_push(push_body(data, data_sign(data)), FORM)

    assert push == Push(message_key=KEY_OF_NEWEST, tracking=SNAPSHOT, ack_body=ACK, ack_media_type="application/json")
    assert json.loads(ACK) == {"EBusinessID": EBID, "UpdateTime": "2024-06-01 16:00:00", "Success": True,
                               "Reason": ""}


def test_a_duplicate_push_has_the_same_key_even_pushed_at_another_time() -> None:
    carrier = offline()
    data = push_data(TRACING)
    later = data.replace("2024-06-01 16:00:00", "2024-06-01 16:35:00")
    first = carrier.parse_push(push_body(data, data_sign(data)), FORM)
    again = carrier.parse_push(push_body(later, data_sign(later)), FORM)
    fewer = push_data({**TRACING, "Traces": TRACES[:2]})
    older = carrier.parse_push(push_body(fewer, data_sign(fewer)), FORM)

    assert first.message_key == again.message_key == KEY_OF_NEWEST
    assert older.message_key != KEY_OF_NEWEST


def test_a_trace_in_the_same_second_as_the_one_before_is_a_new_message() -> None:
    # An intercept caught at a scan is recorded in the same second as that scan.
    caught = {**TRACES[1], "AcceptTime": TRACES[0]["AcceptTime"]}
    before, after = push_data({**TRACING, "Traces": TRACES[:1]}), push_data({**TRACING, "Traces": [TRACES[0], caught]})
    carrier = offline()
    first = carrier.parse_push(push_body(before, data_sign(before)), FORM)
    second = carrier.parse_push(push_body(after, data_sign(after)), FORM)

    assert first.message_key != second.message_key
    assert second.message_key == hashlib.sha256(
        f"kdniao\n{WAYBILL}\n2\n2024-05-30 09:00:00\n快件已拦截，退回寄件人".encode()).hexdigest()
    assert second.tracking is not None and second.tracking.status is TrackingStatus.returning


def test_a_push_of_several_parcels_carries_each_of_them_under_one_identity() -> None:
    second = {**TRACING, "LogisticCode": "7300000000002"}
    data = push_data(TRACING, second)
    push = offline().parse_push(push_body(data, data_sign(data)), FORM)
    again = offline().parse_push(push_body(data, data_sign(data)), FORM)

    assert push.tracking == SNAPSHOT
    assert [t.waybill_no for t in push.trackings] == ["7300000000002"]
    assert push.trackings[0].events == SNAPSHOT.events and push.trackings[0].status is SNAPSHOT.status
    single = offline().parse_push(push_body(push_data(TRACING), data_sign(push_data(TRACING))), FORM)
    assert push.message_key == again.message_key != single.message_key
    assert single.trackings == ()


@pytest.mark.parametrize("body", [
    push_body(push_data(TRACING), data_sign(push_data(TRACING), "another-app-key")),
    push_body(push_data(TRACING), data_sign(push_data(TRACING)).lower()),
    push_body(push_data(TRACING), hashlib.md5((push_data(TRACING) + APP_KEY).encode()).hexdigest()),
    push_body(push_data(TRACING)).replace(b"RequestType", b"DataSign=" + quote(
        quote(data_sign(push_data(TRACING)), safe=""), safe="").encode() + b"&RequestType"),
    push_body(push_data(TRACING), ""),
    push_body(push_data(TRACING)),
], ids=["wrong-key", "case-changed", "hex-not-base64", "encoded-twice", "empty-sign", "unsigned"])
def test_a_forged_or_unsigned_push_is_refused(body: bytes) -> None:
    with pytest.raises(SignatureInvalid):
        offline().parse_push(body, FORM)


def test_without_an_app_key_no_push_verifies() -> None:
    data = push_data(TRACING)
    carrier = offline(CarrierAccount("kdniao", {"ebusiness_id": EBID}, {"api": API}))
    with pytest.raises(SignatureInvalid, match="no app_key"):
        carrier.parse_push(push_body(data, data_sign(data)), FORM)


def _signed(data: str, request_type: str = "101") -> bytes:
    return push_body(data, data_sign(data), request_type)


@pytest.mark.parametrize(("body", "content_type"), [
    (_signed(push_data(TRACING), "1008"), FORM),
    (_signed(push_data(TRACING, ebid="7654321")), FORM),
    (_signed(push_data()), FORM),
    (_signed("not json"), FORM),
    (_signed(push_data({**TRACING, "LogisticCode": ""})), FORM),
    (_signed(push_data({**TRACING, "Traces": [{"AcceptTime": "soon"}]})), FORM),
    (_signed(push_data(TRACING)), "application/json"),
    (_signed(push_data(TRACING)) + b"&RequestData=x", FORM),
], ids=["not-101", "other-account", "no-parcel", "not-json", "no-waybill", "bad-time", "json", "two-data"])
def test_a_malformed_push_is_malformed(body: bytes, content_type: str) -> None:
    with pytest.raises(MalformedPush):
        offline().parse_push(body, content_type)


def test_the_reject_ack_is_in_kdniaos_format() -> None:
    assert Kdniao.reject_ack() == (PUSH_REJECT, "application/json")
    assert json.loads(PUSH_REJECT)["Success"] is False


# ---- the plugin surface -------------------------------------------------------------------------


def test_the_plugin_describes_a_tracking_aggregator_that_intercepts_via_kuaidi100() -> None:
    assert (Kdniao.name, Kdniao.title, Kdniao.couriers, Kdniao.intercept_types, Kdniao.intercept_via) == (
        "kdniao", "Kdniao 快递鸟 (tracking aggregator)", None, frozenset(), "kuaidi100")
    assert Kdniao.capabilities == frozenset({Capability.subscribe, Capability.query_tracking,
                                             Capability.parse_push})
    assert (Kdniao.credential_names, Kdniao.endpoint_names, Kdniao.rate_limit_per_second) == (
        ("ebusiness_id", "app_key"), ("api",), 10.0)


OPERATIONS: list[tuple[str, Callable[[Kdniao], Any]]] = [
    ("intercept", lambda c: c.intercept(InterceptRequest("i", "zto", WAYBILL, InterceptType.return_to_sender,
                                                         CALLBACK))),
    ("query_intercept", lambda c: c.query_intercept("zto", WAYBILL, "T1")),
    ("cancel_intercept", lambda c: c.cancel_intercept("zto", WAYBILL, "T1")),
    ("precheck", lambda c: c.precheck(InterceptRequest("i", "zto", WAYBILL, InterceptType.return_to_sender,
                                                       CALLBACK))),
]


@pytest.mark.parametrize(("name", "call"), OPERATIONS, ids=[name for name, _ in OPERATIONS])
@pytest.mark.anyio
async def test_intercept_operations_are_not_supported_and_name_kuaidi100(
        name: str, call: Callable[[Kdniao], Any]) -> None:
    carrier = offline()
    with pytest.raises(NotSupported, match="kuaidi100"):
        await call(carrier)
    assert carrier.exchanges == []
