"""J&T adapter golden tests: each form and header byte for byte, the call, success, every code, and the push.

Digests are computed here from the recipe (Base64 of the raw MD5 of bizContent + privateKey) with
hashlib, never with the adapter's own function; the known-answer vector was computed outside Python
(``printf '%s' "$bizContent$key" | openssl md5 -binary | base64``).
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
from lanjie.carriers.jtexpress import JT, PUSH_ACK, PUSH_REJECT, codes
from lanjie.domain.states import InterceptReason, TrackingStatus

API_ACCOUNT, PRIVATE_KEY = "178337126125932605", "JT_TEST_PRIVATE_KEY"
API = "https://jt.openapi.test/webopenplatformapi"
WAYBILL = "JT5012345678901"
ACCOUNT = CarrierAccount("jtexpress", {"api_account": API_ACCOUNT, "private_key": PRIVATE_KEY}, {"api": API})
NOW = datetime(2024, 6, 1, 8, 0, 0, 123000, tzinfo=UTC)
TIMESTAMP = "1717228800123"
CALLBACK = "https://lanjie.example/cb/jt/tok?备注=退货 *~"
FORM = "application/x-www-form-urlencoded"
FORM_UTF8 = "application/x-www-form-urlencoded;charset=utf-8"

QUERY_BIZ = '{"billCodes":"JT5012345678901"}'
QUERY_DIGEST = "hvrsMkW74NAtp6kNPP4GsQ=="  # known answer, computed with openssl
SUBSCRIBE_BIZ = ('{"id":"178337126125932605","list":[{"traceNode":"1&2&3&4&5&6&7&8&9&10&11&12&13&14",'
                 '"waybillCode":"JT5012345678901","backUrl":"https://lanjie.example/cb/jt/tok?备注=退货 *~"}]}')


def digest(text: bytes, secret: str = PRIVATE_KEY) -> str:
    return base64.b64encode(hashlib.md5(text + secret.encode("utf-8")).digest()).decode("ascii")


def answer(body: object, status_code: int = 200) -> httpx.Response:
    return httpx.Response(status_code, content=json.dumps(body, ensure_ascii=False).encode(),
                          headers={"Content-Type": "application/json;charset=UTF-8"})


def ok(data: object = None) -> httpx.Response:
    return answer({"code": "1", "msg": "success", "data": data})


def refused(code: str, message: str = "错误") -> httpx.Response:
    return answer({"code": code, "msg": message, "data": None})


@asynccontextmanager
async def jt(*replies: httpx.Response | Exception,
             account: CarrierAccount = ACCOUNT) -> AsyncIterator[tuple[JT, list[httpx.Request]]]:
    """An adapter with a fixed clock, wired to scripted answers; every answer must be used."""
    seen: list[httpx.Request] = []
    script = list(replies)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        reply = script.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        yield JT(account, client, clock=lambda: NOW), seen
    assert script == [], f"{len(script)} scripted answers were never asked for"


def detail(scan_type: str, at: str, desc: str = "", **extra: str) -> dict[str, str]:
    return {"scanTime": at, "scanType": scan_type, "desc": desc, **extra}


# ---- the plugin ------------------------------------------------------------------------------------

def test_the_plugin_tracks_natively_and_intercepts_through_kuaidi100() -> None:
    assert (JT.name, JT.title, JT.couriers, JT.intercept_via, JT.intercept_types) == (
        "jtexpress", "J&T 极兔", frozenset({"jtexpress", "jt"}), "kuaidi100", frozenset())
    assert JT.capabilities == {Capability.subscribe, Capability.query_tracking, Capability.parse_push}
    assert (JT.credential_names, JT.endpoint_names, JT.rate_limit_per_second) == (
        ("api_account", "private_key"), ("api",), 10.0)


@pytest.mark.anyio
@pytest.mark.parametrize("operation", ["intercept", "query_intercept", "cancel_intercept", "precheck"])
async def test_intercept_operations_are_not_supported_and_name_the_aggregator(operation: str) -> None:
    async with jt() as (carrier, seen):
        with pytest.raises(NotSupported, match="kuaidi100"):
            await getattr(carrier, operation)()

    assert seen == []


@pytest.mark.anyio
async def test_the_production_base_is_the_default_endpoint() -> None:
    async with jt(ok([]), account=CarrierAccount("jtexpress", ACCOUNT.credentials, {})) as (carrier, seen):
        await carrier.query_tracking("jtexpress", WAYBILL)

    assert str(seen[0].url) == "https://openapi.jtexpress.com.cn/webopenplatformapi/api/logistics/trace"


# ---- subscribe -----------------------------------------------------------------------------------

def test_the_digest_recipe_matches_the_known_answer() -> None:
    assert digest(QUERY_BIZ.encode()) == QUERY_DIGEST


@pytest.mark.anyio
async def test_subscribe_posts_the_signed_form_and_headers_byte_for_byte() -> None:
    async with jt(ok({"list": []})) as (carrier, seen):
        result = await carrier.subscribe(Subscription("jt", WAYBILL, CALLBACK))

    [request] = seen
    assert result is None
    assert (request.method, str(request.url), request.headers["Content-Type"]) == (
        "POST", f"{API}/api/trace/subscribe", FORM_UTF8)
    assert request.content == f"bizContent={quote_plus(SUBSCRIBE_BIZ, safe='')}".encode("ascii")
    assert b"1%262%263%26" in request.content and b"%E9%80%80%E8%B4%A7+%2A~" in request.content  # & and 退货 *~
    assert parse_qs(request.content.decode("ascii")) == {"bizContent": [SUBSCRIBE_BIZ]}
    assert (request.headers["apiAccount"], request.headers["digest"], request.headers["timestamp"]) == (
        API_ACCOUNT, digest(SUBSCRIBE_BIZ.encode()), TIMESTAMP)
    [exchange] = carrier.exchanges
    assert (exchange.operation, exchange.status_code) == ("subscribe", 200)
    assert PRIVATE_KEY not in exchange.request_body and digest(SUBSCRIBE_BIZ.encode()) not in exchange.request_body


#: Every answer code (sandbox choices) and what the adapter makes of it.
ERRORS: dict[str, tuple[type[Exception], InterceptReason | None]] = {
    "0": (CarrierRejected, InterceptReason.carrier_error),
    "145003010": (CarrierRejected, InterceptReason.auth_failed),
    "145003012": (CarrierRejected, InterceptReason.auth_failed),
    "145003030": (CarrierRejected, InterceptReason.auth_failed),
    "145003050": (CarrierRejected, InterceptReason.carrier_error),
    "145003051": (CarrierRejected, InterceptReason.carrier_error),
    "145003052": (CarrierRejected, InterceptReason.carrier_error),
    "145003053": (CarrierRejected, InterceptReason.carrier_error),
    "145003060": (CarrierRejected, InterceptReason.rate_limited),
    "145005000": (CarrierUnavailable, None),
}


@pytest.mark.anyio
@pytest.mark.parametrize("operation", ["subscribe", "query_tracking"])
@pytest.mark.parametrize("code", sorted(ERRORS))
async def test_each_error_code_raises_what_it_means(operation: str, code: str) -> None:
    error, reason = ERRORS[code]
    async with jt(refused(code, "说明")) as (carrier, _):
        with pytest.raises(error) as caught:
            if operation == "subscribe":
                await carrier.subscribe(Subscription("jtexpress", WAYBILL, CALLBACK))
            else:
                await carrier.query_tracking("jtexpress", WAYBILL)

    assert type(caught.value) is error
    if isinstance(caught.value, CarrierRejected):
        assert (caught.value.code, caught.value.message, caught.value.reason) == (code, "说明", reason)


@pytest.mark.anyio
async def test_a_numeric_code_reads_like_its_string() -> None:
    async with jt(answer({"code": 1, "msg": "success", "data": None}),
                  answer({"code": 145003030, "msg": "bad"})) as (carrier, _):
        await carrier.subscribe(Subscription("jtexpress", WAYBILL, CALLBACK))
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("jtexpress", WAYBILL, CALLBACK))

    assert (caught.value.code, caught.value.reason) == ("145003030", InterceptReason.auth_failed)


@pytest.mark.anyio
async def test_an_unknown_code_is_refused_as_carrier_error_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async with jt(refused("999", "新错误")) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("jtexpress", WAYBILL, CALLBACK))

    assert (caught.value.code, caught.value.reason) == ("999", InterceptReason.carrier_error)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "jtexpress /api/trace/subscribe answered an unknown code '999': 新错误")]


@pytest.mark.anyio
async def test_missing_credentials_are_refused_before_any_call() -> None:
    async with jt(account=CarrierAccount("jtexpress", {"api_account": API_ACCOUNT}, {"api": API})) as (carrier, seen):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.query_tracking("jtexpress", WAYBILL)

    assert (caught.value.code, caught.value.reason, seen) == ("config", InterceptReason.auth_failed, [])


@pytest.mark.anyio
@pytest.mark.parametrize("reply", [httpx.Response(500, text="oops"), httpx.Response(200, text="[]")])
async def test_a_5xx_or_a_non_object_answer_is_unavailable(reply: httpx.Response) -> None:
    async with jt(reply) as (carrier, _):
        with pytest.raises(CarrierUnavailable):
            await carrier.subscribe(Subscription("jtexpress", WAYBILL, CALLBACK))


# ---- query ---------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_query_posts_the_signed_form_and_parses_the_details_newest_first() -> None:
    data = [{"billCode": WAYBILL, "details": [
        detail("快件揽收", "2025-03-01 09:00:00", "【杭州市】杭州西湖网点 已揽收", scanNetworkName="杭州西湖网点"),
        detail("到件扫描", "2025-03-01 19:00:00", "【上海市】快件已到达 上海转运中心", scanNetworkCity="上海市"),
        detail("入库扫描", "2025-03-02 06:00:00", "【上海市】快件已到达 上海闵行网点", scanNetworkName="上海闵行网点"),
    ]}, {"billCode": "JT0000000000000", "details": [detail("快件签收", "2025-03-01 08:00:00")]}]
    async with jt(ok(data)) as (carrier, seen):
        snapshot = await carrier.query_tracking("jt", WAYBILL)

    [request] = seen
    assert (str(request.url), request.content) == (
        f"{API}/api/logistics/trace", b"bizContent=%7B%22billCodes%22%3A%22JT5012345678901%22%7D")
    assert (request.headers["apiAccount"], request.headers["digest"], request.headers["timestamp"]) == (
        API_ACCOUNT, QUERY_DIGEST, TIMESTAMP)
    assert snapshot == TrackingSnapshot("jt", WAYBILL, TrackingStatus.at_destination, (
        TrackingEvent(datetime(2025, 3, 1, 22, 0, tzinfo=UTC), TrackingStatus.at_destination, "6",
                      "【上海市】快件已到达 上海闵行网点", "上海闵行网点"),
        TrackingEvent(datetime(2025, 3, 1, 11, 0, tzinfo=UTC), TrackingStatus.in_transit, "4",
                      "【上海市】快件已到达 上海转运中心", "上海市"),
        TrackingEvent(datetime(2025, 3, 1, 1, 0, tzinfo=UTC), TrackingStatus.picked_up, "1",
                      "【杭州市】杭州西湖网点 已揽收", "杭州西湖网点"),
    ))


@pytest.mark.anyio
@pytest.mark.parametrize("data", [[{"billCode": WAYBILL, "details": []}], [], None])
async def test_no_details_is_a_parcel_not_yet_picked_up(data: object) -> None:
    async with jt(ok(data)) as (carrier, _):
        snapshot = await carrier.query_tracking("jtexpress", WAYBILL)

    assert snapshot == TrackingSnapshot("jtexpress", WAYBILL, TrackingStatus.created, ())


@pytest.mark.anyio
async def test_a_detail_with_an_unknown_scan_type_is_in_transit_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    data = [{"billCode": WAYBILL, "details": [detail("航空中转", "2025-03-01 09:00:00")]}]
    async with jt(ok(data)) as (carrier, _):
        snapshot = await carrier.query_tracking("jtexpress", WAYBILL)

    assert [(e.code, e.status) for e in snapshot.events] == [("航空中转", TrackingStatus.in_transit)]
    assert [r.getMessage() for r in caplog.records] == [
        "jtexpress trace node '航空中转' is unknown; treated as in_transit"]


@pytest.mark.anyio
@pytest.mark.parametrize("data", [{"billCode": WAYBILL}, ["x"], [{"billCode": WAYBILL, "details": {}}],
                                  [{"billCode": WAYBILL, "details": [{"scanTime": "2025-03-01 09:00:00"}]}],
                                  [{"billCode": WAYBILL, "details": [{"scanType": "快件揽收", "scanTime": "9点"}]}]])
async def test_a_malformed_query_answer_is_unavailable(data: object) -> None:
    async with jt(ok(data)) as (carrier, _):
        with pytest.raises(CarrierUnavailable, match="malformed answer"):
            await carrier.query_tracking("jtexpress", WAYBILL)


# ---- code tables ---------------------------------------------------------------------------------

def test_every_answer_code_is_pinned() -> None:
    assert set(codes.ANSWER_CODES) == set(ERRORS) | {"1"}


@pytest.mark.parametrize("code", sorted(codes.ANSWER_CODES))
def test_each_answer_code_has_its_verdict(code: str) -> None:
    rule = codes.answer_rule("api", code, "")
    if code == "1":
        assert rule == codes.AnswerRule(codes.Verdict.ok)
    elif ERRORS[code][0] is CarrierUnavailable:
        assert rule == codes.AnswerRule(codes.Verdict.unavailable)
    else:
        assert rule == codes.AnswerRule(codes.Verdict.rejected, ERRORS[code][1])


NODES = {
    "1": TrackingStatus.picked_up, "2": TrackingStatus.in_transit, "3": TrackingStatus.in_transit,
    "4": TrackingStatus.in_transit, "5": TrackingStatus.out_for_delivery, "6": TrackingStatus.at_destination,
    "7": TrackingStatus.out_for_delivery, "8": TrackingStatus.out_for_delivery, "9": TrackingStatus.out_for_delivery,
    "10": TrackingStatus.delivered, "11": TrackingStatus.exception, "12": TrackingStatus.in_transit,
    "13": TrackingStatus.in_transit, "14": TrackingStatus.returning,
}


@pytest.mark.parametrize("node", sorted(codes.TRACE_NODES, key=int))
def test_each_trace_node_maps_to_its_status(node: str, caplog: pytest.LogCaptureFixture) -> None:
    assert codes.tracking_status(node) is NODES[node]
    assert caplog.records == []


def test_every_node_has_its_documented_name() -> None:
    assert codes.SCAN_TYPE_NODES == {
        "快件揽收": "1", "入仓扫描": "2", "发件扫描": "3", "到件扫描": "4", "出仓扫描": "5", "入库扫描": "6",
        "代理点收入扫描": "7", "快件取出扫描": "8", "出库扫描": "9", "快件签收": "10", "问题件扫描": "11",
        "安检扫描": "12", "其他扫描": "13", "退件扫描": "14"}
    assert set(codes.SCAN_TYPE_NODES.values()) == set(codes.TRACE_NODES)


def test_an_unknown_node_is_in_transit_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="lanjie.carriers.jtexpress.codes"):
        assert codes.tracking_status("15") is TrackingStatus.in_transit

    assert [r.getMessage() for r in caplog.records] == ["jtexpress trace node '15' is unknown; treated as in_transit"]


# ---- trace push ----------------------------------------------------------------------------------

PUSH_BIZ = ('{"billCode":"JT5012345678901","traceNode":"14","scanTime":"2025-03-02 11:30:00",'
            '"scanType":"退件扫描","desc":"快件已拦截，将由【上海闵行网点】退回寄件人 *~",'
            '"scanNetworkName":"上海闵行网点","scanNetworkCity":"上海市"}')


def push_body(biz: str | bytes) -> bytes:
    return urlencode([("bizContent", biz.encode("utf-8") if isinstance(biz, str) else biz)]).encode("ascii")


def push_headers(biz: str | bytes, secret: str = PRIVATE_KEY) -> dict[str, str]:
    raw = biz.encode("utf-8") if isinstance(biz, str) else biz
    return {"apiaccount": API_ACCOUNT, "digest": digest(raw, secret), "timestamp": "1740886200000"}


def carrier(secret: str = PRIVATE_KEY) -> JT:
    def no_call(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"parse_push must not call out, it called {request.url}")

    account = CarrierAccount("jtexpress", {"api_account": API_ACCOUNT, "private_key": secret}, {"api": API})
    return JT(account, httpx.AsyncClient(transport=httpx.MockTransport(no_call)))


def test_a_signed_push_parses_to_one_new_event() -> None:
    push = carrier().parse_push(push_body(PUSH_BIZ), FORM, push_headers(PUSH_BIZ))

    assert push == Push(
        message_key="JT5012345678901|14|2025-03-02 11:30:00",
        tracking=TrackingSnapshot("jtexpress", WAYBILL, TrackingStatus.returning, (
            TrackingEvent(datetime(2025, 3, 2, 3, 30, tzinfo=UTC), TrackingStatus.returning, "14",
                          "快件已拦截，将由【上海闵行网点】退回寄件人 *~", "上海闵行网点"),), incremental=True),
        ack_body=b'{"code":"1","msg":"success"}',
        ack_media_type="application/json",
    )
    assert push.ack_body == PUSH_ACK


def test_header_names_are_matched_whatever_their_case() -> None:
    headers = {"Digest": digest(PUSH_BIZ.encode()), "apiAccount": API_ACCOUNT}

    assert carrier().parse_push(push_body(PUSH_BIZ), FORM, headers).tracking is not None


def test_a_push_is_verified_over_the_raw_field_not_a_reserialisation() -> None:
    spaced = json.dumps(json.loads(PUSH_BIZ), ensure_ascii=False)

    with pytest.raises(SignatureInvalid, match="does not match"):
        carrier().parse_push(push_body(spaced), FORM, push_headers(PUSH_BIZ))


@pytest.mark.parametrize("forged", [digest(PUSH_BIZ.encode(), "another"), digest(PUSH_BIZ.encode())[:-2]])
def test_a_forged_push_is_refused(forged: str) -> None:
    with pytest.raises(SignatureInvalid, match="does not match"):
        carrier().parse_push(push_body(PUSH_BIZ), FORM, {"digest": forged})


@pytest.mark.parametrize("headers", [None, {}, {"digest": ""}, {"apiaccount": API_ACCOUNT}])
def test_an_unsigned_push_is_refused(headers: dict[str, str] | None) -> None:
    with pytest.raises(SignatureInvalid, match="no digest header"):
        carrier().parse_push(push_body(PUSH_BIZ), FORM, headers)


def test_without_a_secret_nothing_verifies() -> None:
    with pytest.raises(SignatureInvalid, match="no private_key configured"):
        carrier(secret="").parse_push(push_body(PUSH_BIZ), FORM, push_headers(PUSH_BIZ, ""))


def test_a_duplicate_push_has_the_same_message_key() -> None:
    first = carrier().parse_push(push_body(PUSH_BIZ), FORM, push_headers(PUSH_BIZ))
    again = carrier().parse_push(push_body(PUSH_BIZ), FORM, push_headers(PUSH_BIZ))
    signed = PUSH_BIZ.replace('"traceNode":"14"', '"traceNode":"10"')

    assert first.message_key == again.message_key
    assert carrier().parse_push(push_body(signed), FORM, push_headers(signed)).message_key == (
        "JT5012345678901|10|2025-03-02 11:30:00")


@pytest.mark.parametrize(("biz", "problem"), [
    (b"{", "not UTF-8 JSON"),
    (b"[]", "not a JSON object"),
    (b'{"traceNode":"1","scanTime":"2025-03-02 11:30:00"}', "no billCode"),
    (b'{"billCode":"J","scanTime":"2025-03-02 11:30:00"}', "neither traceNode nor scanType"),
])
def test_a_signed_but_malformed_push_is_refused_as_malformed(biz: bytes, problem: str) -> None:
    with pytest.raises(MalformedPush, match=problem):
        carrier().parse_push(push_body(biz), FORM, push_headers(biz))


def test_a_push_without_biz_content_is_malformed() -> None:
    with pytest.raises(MalformedPush, match="no bizContent"):
        carrier().parse_push(b"data=x", FORM, push_headers(PUSH_BIZ))


def test_the_reject_ack_is_jt_shaped() -> None:
    assert JT.reject_ack() == (PUSH_REJECT, "application/json")
    assert json.loads(PUSH_REJECT) == {"code": "145003030", "msg": "headers signature verification failed"}
