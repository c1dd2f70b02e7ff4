"""JD (JOS ldop): each request byte for byte, the call, parsing success, every code in every table.

Signatures are checked against digests computed outside Python (``printf … | md5sum``) and again
with hashlib from the recipe written out by hand, never with the adapter's own sign function.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from lanjie.carriers.base import (
    Capability,
    CarrierAccount,
    InterceptAck,
    InterceptOutcome,
    InterceptRequest,
    InterceptState,
    Payer,
    Precheck,
    Subscription,
    TrackingEvent,
    TrackingSnapshot,
)
from lanjie.carriers.errors import CarrierRejected, CarrierTimeout, CarrierUnavailable, NotSupported
from lanjie.carriers.jd import JD, PUSH_REJECT, codes, router_url, wire
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus

APP_KEY = "JDAPPKEY7F3E9A2B"
APP_SECRET = "jdS3cr3tValue2024xyz"
ACCESS_TOKEN = "jdtok-5c6d7e8f9a0b1c2d"
VENDOR_CODE = "010K123456"
API = "https://jos.jd.test"
ROUTER = "https://jos.jd.test/routerjson"
WAYBILL = "JDVA00012345678"
CALLBACK = "https://lanjie.example/cb/jd/tok123"
NOW = datetime(2024, 6, 1, 8, 0, 0, 123000, tzinfo=UTC)  # 2024-06-01 16:00:00 in Beijing
TIMESTAMP = "2024-06-01 16:00:00"
CREDENTIALS = {"app_key": APP_KEY, "app_secret": APP_SECRET, "access_token": ACCESS_TOKEN,
               "vendor_code": VENDOR_CODE}
ACCOUNT = CarrierAccount("jd", CREDENTIALS, {"api": API})
INTERCEPT = "jingdong.ldop.receive.order.intercept"
RESULT_QUERY = "jingdong.ldop.receive.order.intercept.query"
TRACE = "jingdong.ldop.receive.trace.get"

REQUEST = InterceptRequest("ic_1", "jd", WAYBILL, InterceptType.return_to_sender, CALLBACK,
                           order_id="JD-1001", reason="买家 申请仅退款 *加急* ~改约")

# Written out by hand: field order, compact separators and raw UTF-8 are the contract.
INTERCEPT_JSON = ('{"vendorCode":"010K123456","deliveryId":"JDVA00012345678",'
                  '"interceptReason":"买家 申请仅退款 *加急* ~改约","cancelOperatorCodeType":"1",'
                  '"cancelTime":"2024-06-01 16:00:00","cancelOperator":"lanjie"}')
QUERY_JSON = '{"vendorCode":"010K123456","deliveryId":"JDVA00012345678"}'
TRACE_JSON = '{"customerCode":"010K123456","waybillCode":"JDVA00012345678"}'
# printf '%s' "$SECRET""360buy_param_json$JSON""access_token$TOKEN""app_key$KEY""formatjson"
#             "method$METHOD""timestamp$TS""v2.0""$SECRET" | md5sum | tr a-f A-F
KNOWN_SIGNS = {
    INTERCEPT: "51ED52E6CCAED5960734AA216EBA9393",
    RESULT_QUERY: "259164A6D66FC011AFF6671389D5941F",
    TRACE: "EC4E6547BF95EC8573BA436B3F3F6AC6",
}
# Percent-encoded outside Python (perl, every byte but A-Z a-z 0-9 _ . ~ -; space as "+").
INTERCEPT_BODY = (
    b"method=jingdong.ldop.receive.order.intercept&app_key=JDAPPKEY7F3E9A2B"
    b"&access_token=jdtok-5c6d7e8f9a0b1c2d&timestamp=2024-06-01+16%3A00%3A00&v=2.0&format=json"
    b"&360buy_param_json=%7B%22vendorCode%22%3A%22010K123456%22%2C%22deliveryId%22%3A%22JDVA00012345678%22"
    b"%2C%22interceptReason%22%3A%22%E4%B9%B0%E5%AE%B6+%E7%94%B3%E8%AF%B7%E4%BB%85%E9%80%80%E6%AC%BE"
    b"+%2A%E5%8A%A0%E6%80%A5%2A+~%E6%94%B9%E7%BA%A6%22%2C%22cancelOperatorCodeType%22%3A%221%22"
    b"%2C%22cancelTime%22%3A%222024-06-01+16%3A00%3A00%22%2C%22cancelOperator%22%3A%22lanjie%22%7D"
    b"&sign=51ED52E6CCAED5960734AA216EBA9393"
)


def independent_sign(method: str, business_json: str) -> str:
    """The recipe by hand: secret, the seven names in sorted order each followed by its value, secret."""
    text = (APP_SECRET + "360buy_param_json" + business_json + "access_token" + ACCESS_TOKEN
            + "app_key" + APP_KEY + "format" + "json" + "method" + method + "timestamp" + TIMESTAMP
            + "v" + "2.0" + APP_SECRET)
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def expected_form(method: str, business_json: str) -> dict[str, str]:
    return {"method": method, "app_key": APP_KEY, "access_token": ACCESS_TOKEN, "timestamp": TIMESTAMP,
            "v": "2.0", "format": "json", "360buy_param_json": business_json, "sign": KNOWN_SIGNS[method]}


def jos(method: str, inner: dict[str, Any], spelling: str = "response") -> httpx.Response:
    """A JOS answer for ``method`` as the router wraps it."""
    body = {f"{method.replace('.', '_')}_{spelling}": {"code": "0", **inner}}
    return httpx.Response(200, content=json.dumps(body, ensure_ascii=False).encode(),
                          headers={"Content-Type": "application/json;charset=utf-8"})


def jos_error(code: str, zh: str = "错误", en: str = "error") -> httpx.Response:
    body = {"error_response": {"code": code, "zh_desc": zh, "en_desc": en}}
    return httpx.Response(200, content=json.dumps(body, ensure_ascii=False).encode(),
                          headers={"Content-Type": "application/json;charset=utf-8"})


def state(code: object, message: str = "") -> dict[str, Any]:
    return {"resultInfo": {"stateCode": code, "stateMessage": message}}


def result(code: object, message: str = "") -> dict[str, Any]:
    return {"returnType": {"deliveryId": WAYBILL, "stateCode": code, "stateMessage": message}}


def trace(items: list[dict[str, str]], code: object = 100) -> dict[str, Any]:
    return {"querytrace_result": {"code": code, "messsage": "成功", "data": items}}


def item(title: str, at: str, remark: str = "", site: str = "") -> dict[str, str]:
    return {"opeTitle": title, "opeRemark": remark, "opeName": site, "opeTime": at, "waybillCode": WAYBILL}


Reply = httpx.Response | Exception


@dataclass
class Script:
    replies: list[Reply]
    seen: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


@asynccontextmanager
async def jd(*replies: Reply, account: CarrierAccount = ACCOUNT) -> AsyncIterator[tuple[JD, Script]]:
    """An adapter on a scripted JOS router; every scripted reply must be asked for."""
    script = Script(list(replies))
    async with httpx.AsyncClient(transport=httpx.MockTransport(script)) as client:
        yield JD(account, client, clock=lambda: NOW), script
    assert script.replies == [], f"{len(script.replies)} scripted replies were never asked for"


def fields_of(request: httpx.Request) -> dict[str, str]:
    """The form a request carried, decoded as a server decodes it."""
    decoded = parse_qs(request.content.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    return {name: values[0] for name, values in decoded.items()}


# ---- (1) the requests, byte for byte ---------------------------------------------------------------


@pytest.mark.parametrize(("method", "business_json"), [
    (INTERCEPT, INTERCEPT_JSON), (RESULT_QUERY, QUERY_JSON), (TRACE, TRACE_JSON)])
def test_the_known_signs_follow_the_recipe(method: str, business_json: str) -> None:
    assert independent_sign(method, business_json) == KNOWN_SIGNS[method]


def test_the_intercept_business_json_is_exact() -> None:
    assert wire.intercept_json(REQUEST, vendor_code=VENDOR_CODE, cancel_time=TIMESTAMP) == INTERCEPT_JSON


def test_the_intercept_form_is_signed_over_exactly_what_it_sends() -> None:
    form = wire.router_form(INTERCEPT, INTERCEPT_JSON, app_key=APP_KEY, app_secret=APP_SECRET,
                            access_token=ACCESS_TOKEN, timestamp=TIMESTAMP)

    assert form == expected_form(INTERCEPT, INTERCEPT_JSON)
    assert list(form) == ["method", "app_key", "access_token", "timestamp", "v", "format", "360buy_param_json",
                          "sign"]


def test_an_intercept_without_a_reason_sends_a_default_one() -> None:
    request = InterceptRequest("ic_2", "jd", WAYBILL, InterceptType.return_to_sender, CALLBACK)

    assert json.loads(wire.intercept_json(request, vendor_code=VENDOR_CODE, cancel_time=TIMESTAMP)) == {
        "vendorCode": VENDOR_CODE, "deliveryId": WAYBILL, "interceptReason": "客户申请拦截",
        "cancelOperatorCodeType": "1", "cancelTime": TIMESTAMP, "cancelOperator": "lanjie"}


@pytest.mark.parametrize(("at", "text"), [
    (datetime(2024, 6, 1, 8, 0, 0, 999000, tzinfo=UTC), "2024-06-01 16:00:00"),
    (datetime(2024, 12, 31, 16, 0, 0, tzinfo=UTC), "2025-01-01 00:00:00"),  # the next day in Beijing
])
def test_timestamps_are_beijing_time_to_the_second(at: datetime, text: str) -> None:
    assert wire.beijing(at) == text
    assert wire.beijing_time(text) == at.replace(microsecond=0)


@pytest.mark.parametrize(("api", "url"), [
    ("https://api.jd.com", "https://api.jd.com/routerjson"),
    ("https://api.jd.com/", "https://api.jd.com/routerjson"),
    ("https://api.jd.com/routerjson", "https://api.jd.com/routerjson"),
    ("http://127.0.0.1:8000/sandbox/jd", "http://127.0.0.1:8000/sandbox/jd/routerjson"),
])
def test_the_router_url_comes_from_the_api_endpoint(api: str, url: str) -> None:
    assert router_url(api) == url


# ---- (2) the calls ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_intercept_posts_the_exact_bytes_to_the_router() -> None:
    async with jd(jos(INTERCEPT, state(101, "拦截中"))) as (carrier, script):
        await carrier.intercept(REQUEST)

    (sent,) = script.seen
    assert (sent.method, str(sent.url)) == ("POST", ROUTER)
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded;charset=utf-8"
    assert sent.content == INTERCEPT_BODY
    assert fields_of(sent) == expected_form(INTERCEPT, INTERCEPT_JSON)


@pytest.mark.anyio
async def test_query_intercept_posts_the_signed_result_query() -> None:
    async with jd(jos(RESULT_QUERY, result(101, "拦截中"))) as (carrier, script):
        await carrier.query_intercept("jd", WAYBILL, None)

    (sent,) = script.seen
    assert (sent.method, str(sent.url)) == ("POST", ROUTER)
    assert fields_of(sent) == expected_form(RESULT_QUERY, QUERY_JSON)


@pytest.mark.anyio
async def test_query_tracking_posts_the_signed_trace_query() -> None:
    async with jd(jos(TRACE, trace([]))) as (carrier, script):
        await carrier.query_tracking("jd", WAYBILL)

    (sent,) = script.seen
    assert (sent.method, str(sent.url)) == ("POST", ROUTER)
    assert list(fields_of(sent)) == ["method", "app_key", "access_token", "timestamp", "v", "format",
                                     "360buy_param_json", "sign"]
    assert fields_of(sent) == expected_form(TRACE, TRACE_JSON)


@pytest.mark.anyio
async def test_the_default_endpoint_is_jds_production_router() -> None:
    account = CarrierAccount("jd", CREDENTIALS, {})
    async with jd(jos(TRACE, trace([])), account=account) as (carrier, script):
        await carrier.query_tracking("jd", WAYBILL)

    assert str(script.seen[0].url) == "https://api.jd.com/routerjson"


@pytest.mark.anyio
async def test_the_kept_exchange_shows_the_call_without_any_secret() -> None:
    async with jd(jos(INTERCEPT, state(101, "拦截中"))) as (carrier, _):
        await carrier.intercept(REQUEST)

    (exchange,) = carrier.exchanges
    assert (exchange.operation, exchange.method, exchange.url, exchange.status_code) == (
        "intercept", "POST", ROUTER, 200)
    kept = exchange.request_body + exchange.response_body
    for secret in (APP_SECRET, ACCESS_TOKEN, APP_KEY, KNOWN_SIGNS[INTERCEPT]):
        assert secret not in kept
    assert json.loads(exchange.request_body)["360buy_param_json"]["interceptReason"] == "买家 申请仅退款 *加急* ~改约"


@pytest.mark.anyio
async def test_a_missing_credential_refuses_before_any_call() -> None:
    account = CarrierAccount("jd", {**CREDENTIALS, "access_token": ""}, {"api": API})
    async with jd(account=account) as (carrier, script):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(REQUEST)

    assert (caught.value.code, caught.value.reason) == ("config", InterceptReason.auth_failed)
    assert caught.value.message == "jd intercept needs credentials: access_token"
    assert script.seen == []


@pytest.mark.parametrize("intercept_type", [InterceptType.return_to_outlet, InterceptType.redirect])
@pytest.mark.anyio
async def test_an_intercept_type_jd_lacks_is_refused_without_a_call(intercept_type: InterceptType) -> None:
    request = InterceptRequest("ic_3", "jd", WAYBILL, intercept_type, CALLBACK)
    async with jd() as (carrier, script):
        ack = await carrier.intercept(request)

    assert ack == InterceptAck(accepted=False, reason=InterceptReason.not_supported,
                               message=f"JD intercepts only by returning to the sender, not {intercept_type}")
    assert script.seen == []


# ---- (3) parsing success ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_accepted_intercept_without_a_task_id_is_named_by_its_waybill_alone() -> None:
    async with jd(jos(INTERCEPT, state(101, "拦截中"))) as (carrier, _):
        ack = await carrier.intercept(REQUEST)

    assert ack == InterceptAck(accepted=True, task_id=None, reason=None, message="拦截中")


@pytest.mark.parametrize(("info", "task_id"), [
    ({"stateCode": 101, "stateMessage": "拦截中", "taskId": "JDI000000000042"}, "JDI000000000042"),
    ({"stateCode": 107, "stateMessage": "已拦截", "taskId": 42}, "42"),
    ({"stateCode": 101, "stateMessage": "拦截中", "taskId": ""}, None),
    ({"stateCode": 101, "stateMessage": "拦截中", "taskId": True}, None),
    ({"stateCode": 101, "stateMessage": "拦截中", "taskId": {"id": 1}}, None),
    ({"stateCode": 102, "stateMessage": "已妥投", "taskId": "JDI000000000042"}, None),  # a refusal names none
])
@pytest.mark.anyio
async def test_a_task_id_is_taken_from_the_answer_when_jd_gives_one(info: dict[str, Any],
                                                                  task_id: str | None) -> None:
    async with jd(jos(INTERCEPT, {"resultInfo": info})) as (carrier, _):
        ack = await carrier.intercept(REQUEST)

    assert ack.task_id == task_id


@pytest.mark.parametrize(("answered", "held", "task_id"), [
    ("JDI000000000042", None, "JDI000000000042"),  # after a lost answer, JD's word gives it back
    ("JDI000000000042", "JDI000000000001", "JDI000000000042"),
    (None, "JDI000000000001", "JDI000000000001"),
])
@pytest.mark.anyio
async def test_the_result_query_names_the_task_jd_knows(answered: str | None, held: str | None,
                                                        task_id: str | None) -> None:
    answer = result(101, "拦截中")
    if answered is not None:
        answer["returnType"]["taskId"] = answered
    async with jd(jos(RESULT_QUERY, answer)) as (carrier, _):
        state_now = await carrier.query_intercept("jd", WAYBILL, held)

    assert state_now == InterceptState(InterceptOutcome.pending, task_id=task_id, message="拦截中")


@pytest.mark.anyio
async def test_the_responce_spelling_of_public_sdks_is_read_too() -> None:
    async with jd(jos(INTERCEPT, state("101", "拦截中"), spelling="responce")) as (carrier, _):
        ack = await carrier.intercept(REQUEST)

    assert ack == InterceptAck(accepted=True, message="拦截中")


@pytest.mark.anyio
async def test_a_turned_back_parcel_is_a_succeeded_intercept() -> None:
    async with jd(jos(RESULT_QUERY, result(100, "拦截成功"))) as (carrier, _):
        state_now = await carrier.query_intercept("jd", WAYBILL, "T1")

    assert state_now == InterceptState(InterceptOutcome.succeeded, task_id="T1", message="拦截成功")


@pytest.mark.anyio
async def test_a_trace_becomes_a_snapshot_newest_first_in_utc() -> None:
    items = [item("揽收完成", "2024-06-01 09:00:00", "【北京市】已揽收", "北京朝阳营业部"),
             item("分拣中心验货", "2024-06-01 20:30:00", "快件已到达【北京转运中心】", "北京转运中心"),
             item("发货", "2024-06-01 11:00:00", "快件离开【北京朝阳营业部】", "北京朝阳营业部")]
    async with jd(jos(TRACE, trace(items))) as (carrier, _):
        snapshot = await carrier.query_tracking("jd", WAYBILL)

    assert snapshot == TrackingSnapshot("jd", WAYBILL, TrackingStatus.in_transit, events=(
        TrackingEvent(datetime(2024, 6, 1, 12, 30, tzinfo=UTC), TrackingStatus.in_transit, "分拣中心验货",
                      "快件已到达【北京转运中心】", "北京转运中心"),
        TrackingEvent(datetime(2024, 6, 1, 3, 0, tzinfo=UTC), TrackingStatus.in_transit, "发货",
                      "快件离开【北京朝阳营业部】", "北京朝阳营业部"),
        TrackingEvent(datetime(2024, 6, 1, 1, 0, tzinfo=UTC), TrackingStatus.picked_up, "揽收完成",
                      "【北京市】已揽收", "北京朝阳营业部"),
    ))


@pytest.mark.anyio
async def test_a_trace_without_items_is_a_parcel_not_scanned_yet() -> None:
    async with jd(jos(TRACE, trace([]))) as (carrier, _):
        snapshot = await carrier.query_tracking("jd", WAYBILL)

    assert snapshot == TrackingSnapshot("jd", WAYBILL, TrackingStatus.created, ())


@pytest.mark.parametrize("inner", [
    {},  # no querytrace_result
    trace("not a list"),  # type: ignore[arg-type]
    trace([item("发货", "yesterday")]),
    trace([{"opeTitle": ["发货"], "opeTime": "2024-06-01 09:00:00"}]),  # type: ignore[list-item]
])
@pytest.mark.anyio
async def test_a_malformed_trace_is_carrier_unavailable(inner: dict[str, Any]) -> None:
    async with jd(jos(TRACE, inner)) as (carrier, _):
        with pytest.raises(CarrierUnavailable, match="malformed answer"):
            await carrier.query_tracking("jd", WAYBILL)


@pytest.mark.parametrize(("status", "eligible", "reason"), [
    (TrackingStatus.picked_up, True, None),
    (TrackingStatus.in_transit, True, None),
    (TrackingStatus.at_destination, True, None),
    (TrackingStatus.created, False, InterceptReason.not_picked_up),
    (TrackingStatus.out_for_delivery, False, InterceptReason.out_for_delivery),
    (TrackingStatus.delivered, False, InterceptReason.already_delivered),
    (TrackingStatus.returning, False, InterceptReason.already_intercepted),
    (TrackingStatus.returned, False, InterceptReason.already_intercepted),
    (TrackingStatus.lost, False, InterceptReason.not_supported),
    (TrackingStatus.damaged, False, InterceptReason.not_supported),
    (TrackingStatus.expired, False, InterceptReason.not_supported),
    (TrackingStatus.delivery_failed, None, None),
    (TrackingStatus.exception, None, None),
])
def test_precheck_judges_from_the_trace(status: TrackingStatus, eligible: bool | None,
                                        reason: InterceptReason | None) -> None:
    judged = wire.precheck(TrackingSnapshot("jd", WAYBILL, status, ()))

    assert (judged.eligible, judged.reason, judged.fee_minor, judged.payer) == (eligible, reason, None, Payer.sender)
    offered = frozenset() if eligible is False else frozenset({InterceptType.return_to_sender})
    assert judged.types == offered


@pytest.mark.anyio
async def test_precheck_asks_for_the_trace_and_names_what_it_saw() -> None:
    async with jd(jos(TRACE, trace([item("接单", "2024-06-01 09:00:00")]))) as (carrier, script):
        judged = await carrier.precheck(REQUEST)

    assert fields_of(script.seen[0])["method"] == TRACE
    assert judged == Precheck(eligible=False, reason=InterceptReason.not_picked_up, fee_minor=None,
                              payer=Payer.sender, message="judged from JD's trace: not picked up yet: JD would "
                              "cancel the shipping order instead of intercepting")


# ---- (4) every code of every table -----------------------------------------------------------------

INTERCEPT_EXPECTED = {
    100: InterceptAck(False, reason=InterceptReason.not_picked_up,
                      message="JD cancelled the shipping order instead: it was not picked up yet (取消成功)"),
    108: InterceptAck(False, reason=InterceptReason.not_picked_up,
                      message="JD had already cancelled this order: it was never picked up (已取消)"),
    101: InterceptAck(True, message="拦截中"),
    102: InterceptAck(False, reason=InterceptReason.already_delivered, message="已妥投"),
    103: InterceptAck(False, reason=InterceptReason.out_for_delivery, message="配送中"),
    104: InterceptAck(False, reason=InterceptReason.not_supported, message="运单不存在"),
    107: InterceptAck(True, reason=InterceptReason.already_intercepted, message="已拦截", duplicate=True),
    109: InterceptAck(False, reason=InterceptReason.already_intercepted, message="已被拦截"),
}
INTERCEPT_MESSAGES = {100: "取消成功", 108: "已取消", 101: "拦截中", 102: "已妥投", 103: "配送中", 104: "运单不存在",
                      107: "已拦截", 109: "已被拦截"}


def test_the_intercept_table_holds_exactly_the_expected_codes() -> None:
    assert set(codes.INTERCEPT_STATE_CODES) == set(INTERCEPT_EXPECTED)


@pytest.mark.parametrize("code", sorted(INTERCEPT_EXPECTED))
@pytest.mark.anyio
async def test_each_intercept_state_code_gives_its_exact_ack(code: int, caplog: pytest.LogCaptureFixture) -> None:
    async with jd(jos(INTERCEPT, state(code, INTERCEPT_MESSAGES[code]))) as (carrier, _):
        ack = await carrier.intercept(REQUEST)

    assert ack == INTERCEPT_EXPECTED[code]
    assert caplog.records == []


@pytest.mark.parametrize("answer", [state(999, "新状态"), state(None, "新状态"), {}])
@pytest.mark.anyio
async def test_an_unknown_intercept_state_is_refused_as_carrier_error_and_logged(
        answer: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    async with jd(jos(INTERCEPT, answer)) as (carrier, _):
        ack = await carrier.intercept(REQUEST)

    message = answer.get("resultInfo", {}).get("stateMessage", "")
    assert ack == InterceptAck(False, reason=InterceptReason.carrier_error, message=message)
    code = answer.get("resultInfo", {}).get("stateCode")
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("lanjie.carriers.jd.codes", logging.WARNING,
         f"jd jingdong.ldop.receive.order.intercept answered an unknown stateCode {code!r}: {message}")]


RESULT_EXPECTED = {
    100: (InterceptOutcome.succeeded, None),
    108: (InterceptOutcome.failed, InterceptReason.not_picked_up),
    101: (InterceptOutcome.pending, None),
    104: (InterceptOutcome.not_found, None),
    105: (InterceptOutcome.failed, InterceptReason.missed),
    106: (InterceptOutcome.failed, InterceptReason.carrier_error),
}


def test_the_result_table_holds_exactly_the_expected_codes() -> None:
    assert set(codes.RESULT_STATE_CODES) == set(RESULT_EXPECTED)


@pytest.mark.parametrize("code", sorted(RESULT_EXPECTED))
@pytest.mark.anyio
async def test_each_result_state_code_gives_its_exact_state(code: int, caplog: pytest.LogCaptureFixture) -> None:
    async with jd(jos(RESULT_QUERY, result(str(code), "状态"))) as (carrier, _):
        state_now = await carrier.query_intercept("jd", WAYBILL, None)

    outcome, reason = RESULT_EXPECTED[code]
    assert state_now == InterceptState(outcome, task_id=None, reason=reason, message="状态")
    assert caplog.records == []


@pytest.mark.anyio
async def test_an_unknown_result_state_is_indeterminate_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async with jd(jos(RESULT_QUERY, result(777, "处理中"))) as (carrier, _):
        state_now = await carrier.query_intercept("jd", WAYBILL, None)

    assert state_now == InterceptState(InterceptOutcome.indeterminate, message="处理中")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "jd jingdong.ldop.receive.order.intercept.query answered an unknown stateCode 777: 处理中")]


GATEWAY_EXPECTED: dict[str, type[Exception] | InterceptReason] = {
    "9": InterceptReason.carrier_error,
    "10": InterceptReason.carrier_error,
    "14": InterceptReason.auth_failed,
    "15": InterceptReason.auth_failed,
    "19": InterceptReason.auth_failed,
    "20": InterceptReason.auth_failed,
    "22": InterceptReason.carrier_error,
    "61": InterceptReason.rate_limited,
    "66": CarrierTimeout,
    "67": CarrierUnavailable,
}


def test_the_gateway_table_holds_exactly_the_expected_codes() -> None:
    assert set(codes.GATEWAY_ERRORS) == set(GATEWAY_EXPECTED)


@pytest.mark.parametrize("operation", ["intercept", "query_intercept", "query_tracking", "precheck"])
@pytest.mark.parametrize("code", sorted(GATEWAY_EXPECTED, key=int))
@pytest.mark.anyio
async def test_each_gateway_error_is_raised_as_its_exact_error(code: str, operation: str,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    async with jd(jos_error(code, "中文说明", "english")) as (carrier, _):
        call = {"intercept": lambda: carrier.intercept(REQUEST),
                "query_intercept": lambda: carrier.query_intercept("jd", WAYBILL, None),
                "query_tracking": lambda: carrier.query_tracking("jd", WAYBILL),
                "precheck": lambda: carrier.precheck(REQUEST)}[operation]
        with pytest.raises(Exception) as caught:  # noqa: B017 - the exact type is asserted below
            await call()

    expected = GATEWAY_EXPECTED[code]
    if isinstance(expected, InterceptReason):
        assert type(caught.value) is CarrierRejected
        assert (caught.value.code, caught.value.message, caught.value.reason) == (code, "中文说明", expected)
    else:
        assert type(caught.value) is expected
        assert str(caught.value).endswith(f": {code} 中文说明")
    assert caplog.records == []


@pytest.mark.anyio
async def test_an_unknown_gateway_error_is_refused_as_carrier_error_and_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    async with jd(jos_error("4242", "", "something new")) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(REQUEST)

    assert (caught.value.code, caught.value.message, caught.value.reason) == (
        "4242", "something new", InterceptReason.carrier_error)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "jd JOS answered an unknown error code '4242': something new")]


@pytest.mark.anyio
async def test_a_non_zero_code_inside_the_envelope_reads_like_a_gateway_error() -> None:
    body = {"jingdong_ldop_receive_order_intercept_response": {"code": "61", "zh_desc": "频率超限"}}
    async with jd(httpx.Response(200, json=body)) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(REQUEST)

    assert (caught.value.code, caught.value.reason) == ("61", InterceptReason.rate_limited)


@pytest.mark.anyio
async def test_an_unknown_trace_code_is_refused_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async with jd(jos(TRACE, {"querytrace_result": {"code": 300, "messsage": "查询失败"}})) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.query_tracking("jd", WAYBILL)

    assert (caught.value.code, caught.value.message, caught.value.reason) == (
        "300", "查询失败", InterceptReason.carrier_error)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "jd jingdong.ldop.receive.trace.get answered an unknown querytrace code 300: 查询失败")]


S = TrackingStatus
TITLES_EXPECTED = {
    "接单": S.created, "揽收完成": S.picked_up, "发货": S.in_transit, "分拣中心验货": S.in_transit,
    "改址转寄": S.in_transit, "站点验货": S.at_destination, "配送员收货": S.out_for_delivery, "妥投": S.delivered,
    "拒收": S.delivery_failed, "配送异常": S.exception, "拦截成功": S.returning, "逆向发货": S.returning,
    "逆向验货": S.returning, "退货签收": S.returned, "外包装破损": S.damaged, "丢失": S.lost,
}


def test_the_title_table_holds_exactly_the_expected_titles() -> None:
    assert dict(codes.TRACKING_TITLES) == TITLES_EXPECTED


@pytest.mark.parametrize(("title", "status"), sorted(TITLES_EXPECTED.items()))
@pytest.mark.anyio
async def test_each_trace_title_has_its_status(title: str, status: TrackingStatus,
                                               caplog: pytest.LogCaptureFixture) -> None:
    async with jd(jos(TRACE, trace([item(title, "2024-06-01 09:00:00")]))) as (carrier, _):
        snapshot = await carrier.query_tracking("jd", WAYBILL)

    assert (snapshot.status, snapshot.events[0].code) == (status, title)
    assert caplog.records == []


def test_an_unknown_title_is_in_transit_and_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    assert [codes.tracking_status("航空提货"), codes.tracking_status("航空提货")] == [S.in_transit, S.in_transit]

    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("lanjie.carriers.jd.codes", logging.WARNING, "jd trace title '航空提货' is unknown; treated as in_transit")]


# ---- transport failures and what JD does not offer -------------------------------------------------


@pytest.mark.parametrize(("reply", "error"), [
    (httpx.Response(500, text="Internal Server Error"), CarrierUnavailable),
    (httpx.Response(502, text="Bad Gateway"), CarrierUnavailable),
    (httpx.Response(200, text="<html>busy</html>"), CarrierUnavailable),
    (httpx.Response(200, json=["not", "an", "object"]), CarrierUnavailable),
    (httpx.Response(200, json={"other_response": {"code": "0"}}), CarrierUnavailable),
    (httpx.ConnectError("refused"), CarrierUnavailable),
    (httpx.ReadTimeout("no answer"), CarrierTimeout),
])
@pytest.mark.anyio
async def test_transport_failures_are_classified(reply: Reply, error: type[Exception]) -> None:
    async with jd(reply) as (carrier, _):
        with pytest.raises(CarrierUnavailable) as caught:
            await carrier.intercept(REQUEST)

    assert type(caught.value) is error
    assert len(carrier.exchanges) == 1


@pytest.mark.anyio
async def test_what_jd_does_not_offer_raises_not_supported() -> None:
    async with jd() as (carrier, script):
        for call in (lambda: carrier.subscribe(Subscription("jd", WAYBILL, CALLBACK)),
                     lambda: carrier.cancel_intercept("jd", WAYBILL, None),
                     lambda: carrier.file_claim(), lambda: carrier.claim_status()):
            with pytest.raises(NotSupported):
                await call()

    assert script.seen == []


@pytest.mark.parametrize("body", [b"", b"param=%7B%7D&sign=ABC", b'{"waybillCode":"JDVA00012345678"}'])
@pytest.mark.anyio
async def test_a_push_is_never_accepted_because_jd_sends_none(body: bytes) -> None:
    async with jd() as (carrier, _):
        with pytest.raises(NotSupported, match="jd sends no pushes"):
            carrier.parse_push(body, "application/x-www-form-urlencoded", {})

    assert JD.reject_ack() == (PUSH_REJECT, "application/json")
    assert json.loads(PUSH_REJECT) == {"error_response": {"code": "22", "zh_desc": "不支持推送",
                                                          "en_desc": "jd pushes are not supported"}}


def test_the_plugin_describes_itself() -> None:
    assert (JD.name, JD.title, JD.couriers, JD.intercept_via) == (
        "jd", "JD Logistics 京东物流 (JOS ldop)", frozenset({"jd"}), None)
    assert JD.capabilities == frozenset({Capability.precheck, Capability.intercept, Capability.query_intercept,
                                         Capability.query_tracking})
    assert JD.intercept_types == frozenset({InterceptType.return_to_sender})
    assert (JD.credential_names, JD.endpoint_names, JD.rate_limit_per_second) == (
        ("app_key", "app_secret", "access_token", "vendor_code"), ("api",), 10.0)
