"""STO adapter golden tests: each gateway form byte for byte, the call, success, every code, and the push.

Digests are computed here from the recipe (Base64 of the raw MD5 of content + secretKey) with hashlib,
never with the adapter's own function; the known-answer vector was computed outside Python
(``printf '%s' "$content$secret" | openssl md5 -binary | base64``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote_plus, urlencode

import httpx
import pytest

from lanjie.carriers.base import Capability, CarrierAccount, Push, Subscription, TrackingEvent, TrackingSnapshot
from lanjie.carriers.errors import CarrierRejected, CarrierUnavailable, MalformedPush, NotSupported, SignatureInvalid
from lanjie.carriers.sto import PUSH_ACK, PUSH_REJECT, STO, codes
from lanjie.domain.states import InterceptReason, TrackingStatus

FROM_APPKEY, FROM_CODE, SECRET_KEY = "CAKHSKJAPPKEY", "CAKHSKJ", "STO_TEST_SECRET_KEY"
API = "https://sto.gateway.test"
GATEWAY = f"{API}/gateway/link.do"
WAYBILL = "773045678901234"
ACCOUNT = CarrierAccount("sto", {"from_appkey": FROM_APPKEY, "from_code": FROM_CODE, "secret_key": SECRET_KEY},
                         {"api": API})
CALLBACK = "https://lanjie.example/cb/sto/tok?备注=退货 *~"
FORM = "application/x-www-form-urlencoded"
FORM_UTF8 = "application/x-www-form-urlencoded;charset=utf-8"

QUERY_CONTENT = '{"waybillNoList":["773045678901234"]}'
QUERY_DIGEST = "fA7t5/GMaOlfjegooOP5Ew=="  # known answer, computed with openssl
SUBSCRIBE_CONTENT = '{"waybillNo":"773045678901234","callbackUrl":"https://lanjie.example/cb/sto/tok?备注=退货 *~"}'


def digest(text: bytes, secret: str = SECRET_KEY) -> str:
    return base64.b64encode(hashlib.md5(text + secret.encode("utf-8")).digest()).decode("ascii")


def gateway_form(api_name: str, content: str, to: str) -> bytes:
    """The form in the documented field order, percent-encoded with spaces as '+', built here by hand."""
    pairs = [("api_name", api_name), ("content", content), ("data_digest", digest(content.encode())),
             ("from_appkey", FROM_APPKEY), ("from_code", FROM_CODE), ("to_appkey", to), ("to_code", to)]
    return "&".join(f"{name}={quote_plus(value, safe='')}" for name, value in pairs).encode("ascii")


def answer(body: object, status_code: int = 200) -> httpx.Response:
    return httpx.Response(status_code, content=json.dumps(body, ensure_ascii=False).encode(),
                          headers={"Content-Type": "application/json;charset=UTF-8"})


def ok(data: object = None) -> httpx.Response:
    return answer({"success": True, "errorCode": "", "errorMsg": "", "data": data})


def refused(code: str, message: str = "错误") -> httpx.Response:
    return answer({"success": False, "errorCode": code, "errorMsg": message, "data": None})


@asynccontextmanager
async def sto(*replies: httpx.Response | Exception,
              account: CarrierAccount = ACCOUNT) -> AsyncIterator[tuple[STO, list[httpx.Request]]]:
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
        yield STO(account, client), seen
    assert script == [], f"{len(script)} scripted answers were never asked for"


def item(scan_type: str, at: str, memo: str = "", **extra: str) -> dict[str, str]:
    return {"waybillNo": WAYBILL, "scanType": scan_type, "opTime": at, "memo": memo, **extra}


# ---- the plugin ------------------------------------------------------------------------------------

def test_the_plugin_tracks_natively_and_intercepts_through_kuaidi100() -> None:
    assert (STO.name, STO.title, STO.couriers, STO.intercept_via, STO.intercept_types) == (
        "sto", "STO 申通", frozenset({"sto"}), "kuaidi100", frozenset())
    assert STO.capabilities == {Capability.subscribe, Capability.query_tracking, Capability.parse_push}
    assert (STO.credential_names, STO.endpoint_names, STO.rate_limit_per_second) == (
        ("from_appkey", "from_code", "secret_key"), ("api",), 10.0)


@pytest.mark.anyio
@pytest.mark.parametrize("operation", ["intercept", "query_intercept", "cancel_intercept", "precheck"])
async def test_intercept_operations_are_not_supported_and_name_the_aggregator(operation: str) -> None:
    async with sto() as (carrier, seen):
        with pytest.raises(NotSupported, match="kuaidi100"):
            await getattr(carrier, operation)()

    assert seen == []


@pytest.mark.anyio
async def test_the_sandbox_choice_production_gateway_is_the_default() -> None:
    async with sto(refused("B01"), account=CarrierAccount("sto", ACCOUNT.credentials, {})) as (carrier, seen):
        await carrier.query_tracking("sto", WAYBILL)

    assert str(seen[0].url) == "https://cloudinter-linkgatewayonline.sto.cn/gateway/link.do"


# ---- subscribe -----------------------------------------------------------------------------------

def test_the_digest_recipe_matches_the_known_answer() -> None:
    assert digest(QUERY_CONTENT.encode()) == QUERY_DIGEST


@pytest.mark.anyio
async def test_subscribe_posts_the_signed_form_byte_for_byte() -> None:
    async with sto(ok()) as (carrier, seen):
        result = await carrier.subscribe(Subscription("sto", WAYBILL, CALLBACK))

    [request] = seen
    assert result is None
    assert (request.method, str(request.url), request.headers["Content-Type"]) == ("POST", GATEWAY, FORM_UTF8)
    assert request.content == gateway_form("STO_TRACE_PLATFORM_SUBSCRIBE", SUBSCRIBE_CONTENT, "sto_trace_platform")
    assert b"%E5%A4%87%E6%B3%A8%3D%E9%80%80%E8%B4%A7+%2A~" in request.content  # 备注=退货 *~
    form = parse_qs(request.content.decode("ascii"))
    assert (form["content"], form["data_digest"]) == ([SUBSCRIBE_CONTENT], [digest(SUBSCRIBE_CONTENT.encode())])
    [exchange] = carrier.exchanges
    assert (exchange.operation, exchange.status_code) == ("subscribe", 200)
    assert SECRET_KEY not in exchange.request_body and form["data_digest"][0] not in exchange.request_body


#: Every answer code (all sandbox choices) and what each operation makes of it.
ERRORS: dict[str, tuple[type[Exception], InterceptReason | None]] = {
    "S01": (CarrierRejected, InterceptReason.auth_failed),
    "S02": (CarrierRejected, InterceptReason.carrier_error),
    "S03": (CarrierRejected, InterceptReason.auth_failed),
    "S04": (CarrierRejected, InterceptReason.carrier_error),
    "S05": (CarrierRejected, InterceptReason.rate_limited),
    "S06": (CarrierUnavailable, None),
}


@pytest.mark.anyio
@pytest.mark.parametrize("operation", ["subscribe", "query_tracking"])
@pytest.mark.parametrize("code", sorted(ERRORS))
async def test_each_error_code_raises_what_it_means(operation: str, code: str) -> None:
    error, reason = ERRORS[code]
    async with sto(refused(code, "说明")) as (carrier, _):
        with pytest.raises(error) as caught:
            if operation == "subscribe":
                await carrier.subscribe(Subscription("sto", WAYBILL, CALLBACK))
            else:
                await carrier.query_tracking("sto", WAYBILL)

    assert type(caught.value) is error
    if isinstance(caught.value, CarrierRejected):
        assert (caught.value.code, caught.value.message, caught.value.reason) == (code, "说明", reason)


@pytest.mark.anyio
async def test_success_may_be_the_string_true() -> None:
    async with sto(answer({"success": "true", "errorCode": None, "errorMsg": None, "data": None})) as (carrier, _):
        assert await carrier.subscribe(Subscription("sto", WAYBILL, CALLBACK)) is None


@pytest.mark.anyio
async def test_no_such_waybill_refuses_a_subscription() -> None:
    async with sto(refused("B01", "运单号不存在")) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("sto", WAYBILL, CALLBACK))

    assert (caught.value.code, caught.value.reason) == ("B01", InterceptReason.carrier_error)


@pytest.mark.anyio
async def test_an_unknown_error_code_is_refused_as_carrier_error_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async with sto(refused("Z99", "新错误")) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("sto", WAYBILL, CALLBACK))

    assert (caught.value.code, caught.value.reason) == ("Z99", InterceptReason.carrier_error)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "sto STO_TRACE_PLATFORM_SUBSCRIBE answered an unknown errorCode 'Z99': 新错误")]


@pytest.mark.anyio
async def test_missing_credentials_are_refused_before_any_call() -> None:
    account = CarrierAccount("sto", {"from_appkey": FROM_APPKEY, "secret_key": SECRET_KEY}, {"api": API})
    async with sto(account=account) as (carrier, seen):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.query_tracking("sto", WAYBILL)

    assert (caught.value.code, caught.value.reason, seen) == ("config", InterceptReason.auth_failed, [])


@pytest.mark.anyio
@pytest.mark.parametrize("reply", [httpx.Response(503, text="busy"), httpx.Response(200, text="<html/>")])
async def test_a_5xx_or_a_non_json_answer_is_unavailable(reply: httpx.Response) -> None:
    async with sto(reply) as (carrier, _):
        with pytest.raises(CarrierUnavailable):
            await carrier.subscribe(Subscription("sto", WAYBILL, CALLBACK))


# ---- query ---------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_query_posts_the_signed_form_and_parses_the_trace_newest_first() -> None:
    data = {WAYBILL: [
        item("收件", "2025-03-01 09:00:00", "【杭州市】杭州西湖营业部 已收件", opOrgName="杭州西湖营业部"),
        item("发件", "2025-03-01 10:00:00", "【杭州市】快件离开杭州西湖营业部", opOrgCityName="杭州市"),
        item("派件", "2025-03-02 08:30:00", "【上海市】派件员 王师傅 正在派件", opOrgName="上海闵行营业部"),
    ]}
    async with sto(ok(data)) as (carrier, seen):
        snapshot = await carrier.query_tracking("sto", WAYBILL)

    [request] = seen
    assert request.content == gateway_form("STO_TRACE_QUERY_COMMON", QUERY_CONTENT, "sto_trace_query")
    assert b"data_digest=fA7t5%2FGMaOlfjegooOP5Ew%3D%3D&" in request.content
    assert snapshot == TrackingSnapshot("sto", WAYBILL, TrackingStatus.out_for_delivery, (
        TrackingEvent(datetime(2025, 3, 2, 0, 30, tzinfo=UTC), TrackingStatus.out_for_delivery, "派件",
                      "【上海市】派件员 王师傅 正在派件", "上海闵行营业部"),
        TrackingEvent(datetime(2025, 3, 1, 2, 0, tzinfo=UTC), TrackingStatus.in_transit, "发件",
                      "【杭州市】快件离开杭州西湖营业部", "杭州市"),
        TrackingEvent(datetime(2025, 3, 1, 1, 0, tzinfo=UTC), TrackingStatus.picked_up, "收件",
                      "【杭州市】杭州西湖营业部 已收件", "杭州西湖营业部"),
    ))


@pytest.mark.anyio
@pytest.mark.parametrize("reply", [refused("B01", "运单号不存在"), ok({WAYBILL: []}), ok({}), ok(None)])
async def test_no_trace_is_a_parcel_not_yet_picked_up(reply: httpx.Response) -> None:
    async with sto(reply) as (carrier, _):
        snapshot = await carrier.query_tracking("sto", WAYBILL)

    assert snapshot == TrackingSnapshot("sto", WAYBILL, TrackingStatus.created, ())


@pytest.mark.anyio
@pytest.mark.parametrize("data", [[], {WAYBILL: "收件"}, {WAYBILL: {}}, {WAYBILL: [{"opTime": "2025-03-01 09:00:00"}]},
                                  {WAYBILL: [{"scanType": "收件", "opTime": "now"}]}])
async def test_a_malformed_query_answer_is_unavailable(data: object) -> None:
    async with sto(ok(data)) as (carrier, _):
        with pytest.raises(CarrierUnavailable, match="malformed answer"):
            await carrier.query_tracking("sto", WAYBILL)


# ---- code tables ---------------------------------------------------------------------------------

def test_every_answer_code_is_pinned() -> None:
    assert set(codes.ANSWER_CODES) == set(ERRORS) | {"B01"}


@pytest.mark.parametrize("code", sorted(codes.ANSWER_CODES))
def test_each_answer_code_has_its_verdict(code: str) -> None:
    rule = codes.answer_rule("api", code, "")
    if code == "B01":
        assert rule == codes.AnswerRule(codes.Verdict.no_result)
    elif ERRORS[code][0] is CarrierUnavailable:
        assert rule == codes.AnswerRule(codes.Verdict.unavailable)
    else:
        assert rule == codes.AnswerRule(codes.Verdict.rejected, ERRORS[code][1])


SCAN_TYPES = {
    "收件": TrackingStatus.picked_up, "发件": TrackingStatus.in_transit, "到件": TrackingStatus.in_transit,
    "派件": TrackingStatus.out_for_delivery, "签收": TrackingStatus.delivered, "退回": TrackingStatus.returning,
    "退回签收": TrackingStatus.returned, "转寄": TrackingStatus.in_transit, "问题件": TrackingStatus.exception,
}


@pytest.mark.parametrize("scan_type", sorted(codes.SCAN_TYPES))
def test_each_scan_type_maps_to_its_status(scan_type: str, caplog: pytest.LogCaptureFixture) -> None:
    assert codes.tracking_status(scan_type) is SCAN_TYPES[scan_type]
    assert caplog.records == []


def test_an_unknown_scan_type_is_in_transit_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="lanjie.carriers.sto.codes"):
        assert codes.tracking_status("飞走了") is TrackingStatus.in_transit

    assert [r.getMessage() for r in caplog.records] == ["sto scan type '飞走了' is unknown; treated as in_transit"]


# ---- trace push ----------------------------------------------------------------------------------

PUSH_CONTENT = ('{"waybillNo":"773045678901234","scanType":"签收","opTime":"2025-03-02 11:30:00",'
                '"memo":"您的快件已签收，签收人：本人 *~","opOrgName":"上海闵行营业部","opOrgCityName":"上海市"}')


def push_body(content: str | bytes, data_digest: str | None, api_name: str = "STO_TRACE_PUSH") -> bytes:
    raw = content.encode("utf-8") if isinstance(content, str) else content
    fields: list[tuple[str, str | bytes]] = [("api_name", api_name), ("content", raw)]
    if data_digest is not None:
        fields.append(("data_digest", data_digest))
    return urlencode(fields).encode("ascii")


def carrier(secret: str = SECRET_KEY) -> STO:
    def no_call(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"parse_push must not call out, it called {request.url}")

    account = CarrierAccount("sto", {**ACCOUNT.credentials, "secret_key": secret}, {"api": API})
    return STO(account, httpx.AsyncClient(transport=httpx.MockTransport(no_call)))


def test_a_signed_push_parses_to_one_new_event() -> None:
    push = carrier().parse_push(push_body(PUSH_CONTENT, digest(PUSH_CONTENT.encode())), FORM)

    assert push == Push(
        message_key="773045678901234|签收|2025-03-02 11:30:00",
        tracking=TrackingSnapshot("sto", WAYBILL, TrackingStatus.delivered, (
            TrackingEvent(datetime(2025, 3, 2, 3, 30, tzinfo=UTC), TrackingStatus.delivered, "签收",
                          "您的快件已签收，签收人：本人 *~", "上海闵行营业部"),), incremental=True),
        ack_body=b'{"success":true}',
        ack_media_type="application/json",
    )
    assert push.ack_body == PUSH_ACK


def test_a_push_is_verified_over_the_raw_field_not_a_reserialisation() -> None:
    spaced = json.dumps(json.loads(PUSH_CONTENT), ensure_ascii=False)

    with pytest.raises(SignatureInvalid, match="does not match"):
        carrier().parse_push(push_body(spaced, digest(PUSH_CONTENT.encode())), FORM)


@pytest.mark.parametrize("forged", [digest(PUSH_CONTENT.encode(), "another"), "", "x" * 24])
def test_a_forged_or_unsigned_push_is_refused(forged: str) -> None:
    with pytest.raises(SignatureInvalid):
        carrier().parse_push(push_body(PUSH_CONTENT, forged), FORM)


def test_a_push_without_a_digest_field_is_refused() -> None:
    with pytest.raises(SignatureInvalid, match="no data_digest"):
        carrier().parse_push(push_body(PUSH_CONTENT, None), FORM)


def test_without_a_secret_nothing_verifies() -> None:
    with pytest.raises(SignatureInvalid, match="no secret_key configured"):
        carrier(secret="").parse_push(push_body(PUSH_CONTENT, digest(PUSH_CONTENT.encode(), "")), FORM)


def test_a_duplicate_push_has_the_same_message_key() -> None:
    body = push_body(PUSH_CONTENT, digest(PUSH_CONTENT.encode()))
    other = PUSH_CONTENT.replace("签收", "派件", 1).replace("11:30", "08:30")

    assert carrier().parse_push(body, FORM).message_key == carrier().parse_push(body, FORM).message_key
    assert carrier().parse_push(push_body(other, digest(other.encode())), FORM).message_key == (
        "773045678901234|派件|2025-03-02 08:30:00")


@pytest.mark.parametrize(("content", "problem"), [
    (b"{", "not UTF-8 JSON"),
    (b'"x"', "not a JSON object"),
    ('{"scanType":"签收","opTime":"2025-03-02 11:30:00"}'.encode(), "no waybillNo"),
    (b'{"waybillNo":"7","opTime":"2025-03-02 11:30:00"}', "no scanType"),
])
def test_a_signed_but_malformed_push_is_refused_as_malformed(content: bytes, problem: str) -> None:
    with pytest.raises(MalformedPush, match=problem):
        carrier().parse_push(push_body(content, digest(content)), FORM)


def test_a_push_of_another_api_is_malformed() -> None:
    with pytest.raises(MalformedPush, match="api_name"):
        carrier().parse_push(push_body(PUSH_CONTENT, digest(PUSH_CONTENT.encode()), "STO_ORDER_PUSH"), FORM)


def test_the_reject_ack_is_gateway_shaped() -> None:
    assert STO.reject_ack() == (PUSH_REJECT, "application/json")
    assert json.loads(PUSH_REJECT) == {"success": False, "errorCode": "S01", "errorMsg": "data_digest error"}
