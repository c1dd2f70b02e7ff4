"""SF Express (丰桥): each operation's signed form, the call, its answers and every code, plus route pushes.

Known-answer digests below were computed outside Python, with ``java.net.URLEncoder.encode(s, "UTF-8")``,
``MessageDigest("MD5")`` and ``Base64.getEncoder()`` (the recipe of carrier-protocols §4.1); each test
also recomputes them here with hashlib and base64 over the Java-encoded text written out by hand.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from lanjie.carriers.base import (
    Address,
    CancelAck,
    CarrierAccount,
    InterceptAck,
    InterceptOutcome,
    InterceptRequest,
    InterceptState,
    Payer,
    Precheck,
    Push,
    Subscription,
    TrackingEvent,
    TrackingSnapshot,
)
from lanjie.carriers.errors import (
    CarrierRejected,
    CarrierTimeout,
    CarrierUnavailable,
    MalformedPush,
    NotSupported,
    SignatureInvalid,
)
from lanjie.carriers.sf import PUSH_ACK, PUSH_REJECT, SF, codes, java_url_encode, msg_digest, wire
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus

from .kuaidi100_support import ScriptedCarrier, form_of

PARTNER = "LJTEST0001"
CHECK_WORD = "cw8dK2mQp4Zr7VtX1nLs9bHj3fYa6Ee0"
API = "https://sf.gateway.test"
URL = f"{API}/std/service"
WAYBILL = "SF1234567890123"
REQUEST_ID = "7b1f2c3e-0000-4000-8000-000000000001"
NOW = datetime(2024, 6, 1, 8, 0, 0, 123000, tzinfo=UTC)
T = "1717228800123"
CALLBACK = "https://lanjie.example/cb/sf/tok123"
ACCOUNT = CarrierAccount("sf", {"partner_id": PARTNER, "check_word": CHECK_WORD}, {"api": API})
FORM = "application/x-www-form-urlencoded;charset=UTF-8"
ADDRESS = Address("张三", "13800138000", "浙江省杭州市西湖区文三路 1 号 *A座~3F")
ADDRESS_JSON = ('{"contact":"张三","phone":"13800138000","address":"浙江省杭州市西湖区文三路 1 号 *A座~3F",'
                '"country":"CN"}')

RETURN = InterceptRequest("ic_1", "sf", WAYBILL, InterceptType.return_to_sender, CALLBACK, order_id="DY-1001",
                          reason="仅退款", address=ADDRESS)
RETURN_DATA = ('{"waybillNo":"SF1234567890123","serviceCode":"2","role":"1","payMode":"1","newDestAddress":'
               + ADDRESS_JSON + "}")
# The Java-encoded digest input, written out: '*' stays, '~' is %7E, a space is '+', UTF-8 is %XX.
ADDRESS_ENCODED = ("%7B%22contact%22%3A%22%E5%BC%A0%E4%B8%89%22%2C%22phone%22%3A%2213800138000%22%2C%22address"
                   "%22%3A%22%E6%B5%99%E6%B1%9F%E7%9C%81%E6%9D%AD%E5%B7%9E%E5%B8%82%E8%A5%BF%E6%B9%96%E5%8C%BA"
                   "%E6%96%87%E4%B8%89%E8%B7%AF+1+%E5%8F%B7+*A%E5%BA%A7%7E3F%22%2C%22country%22%3A%22CN%22%7D")
RETURN_ENCODED = ("%7B%22waybillNo%22%3A%22SF1234567890123%22%2C%22serviceCode%22%3A%222%22%2C%22role%22%3A%221"
                  "%22%2C%22payMode%22%3A%221%22%2C%22newDestAddress%22%3A" + ADDRESS_ENCODED + "%7D")
RETURN_DIGEST = "N2k6gfTQGTNGLcq9TdF/Hw=="

REDIRECT = InterceptRequest("ic_2", "sf", WAYBILL, InterceptType.redirect, CALLBACK, address=ADDRESS,
                            payer=Payer.monthly_account)
REDIRECT_DATA = ('{"waybillNo":"SF1234567890123","serviceCode":"1","role":"1","payMode":"4",'
                 '"monthlyCardNo":"7551234567","newDestAddress":' + ADDRESS_JSON + "}")
REDIRECT_ENCODED = ("%7B%22waybillNo%22%3A%22SF1234567890123%22%2C%22serviceCode%22%3A%221%22%2C%22role%22%3A"
                    "%221%22%2C%22payMode%22%3A%224%22%2C%22monthlyCardNo%22%3A%227551234567%22%2C"
                    "%22newDestAddress%22%3A" + ADDRESS_ENCODED + "%7D")
REDIRECT_DIGEST = "iYMfXW86ye+HKZ7Q+6/8OQ=="

BARE_RETURN_DATA = '{"waybillNo":"SF1234567890123","serviceCode":"2","role":"1","payMode":"1"}'
BARE_RETURN_DIGEST = "dseNa2KeEt9Zc6d3+nMAww=="
CANCEL_DATA = '{"waybillNo":"SF1234567890123","cancel":true,"cusId":"SFC000000000042"}'
CANCEL_ENCODED = ("%7B%22waybillNo%22%3A%22SF1234567890123%22%2C%22cancel%22%3Atrue%2C%22cusId%22%3A%22"
                  "SFC000000000042%22%7D")
CANCEL_DIGEST = "WQZqk8Ss4hxWrK9t1fJ5Xw=="
SEARCH_DATA = ('{"language":"0","trackingType":"1","trackingNumber":["SF1234567890123"],"methodType":"1",'
               '"checkPhoneNo":"8000"}')
SEARCH_ENCODED = ("%7B%22language%22%3A%220%22%2C%22trackingType%22%3A%221%22%2C%22trackingNumber%22%3A%5B%22"
                  "SF1234567890123%22%5D%2C%22methodType%22%3A%221%22%2C%22checkPhoneNo%22%3A%228000%22%7D")
SEARCH_DIGEST = "LEzsSPyyy5VCzYMfGCninA=="
REGISTER_URL = "https://lanjie.example/cb/sf/t~k*n 1"
REGISTER_DATA = ('{"trackingType":"1","trackingNumber":["SF1234567890123"],"checkPhoneNo":"8000",'
                 '"callbackUrl":"https://lanjie.example/cb/sf/t~k*n 1"}')
REGISTER_ENCODED = ("%7B%22trackingType%22%3A%221%22%2C%22trackingNumber%22%3A%5B%22SF1234567890123%22%5D%2C"
                    "%22checkPhoneNo%22%3A%228000%22%2C%22callbackUrl%22%3A%22https%3A%2F%2Flanjie.example%2F"
                    "cb%2Fsf%2Ft%7Ek*n+1%22%7D")
REGISTER_DIGEST = "i6io0c5DeA3b8Z/4Vsd+OQ=="


def independent_digest(encoded: str) -> str:
    """The recipe's last two steps, over Java-encoded text written out by hand."""
    return base64.b64encode(hashlib.md5((encoded + T + CHECK_WORD).encode("ascii")).digest()).decode("ascii")


def expected_body(service_code: str, msg_data: str, digest: str) -> bytes:
    return urlencode([("partnerID", PARTNER), ("requestID", REQUEST_ID), ("serviceCode", service_code),
                      ("timestamp", T), ("msgDigest", digest), ("msgData", msg_data)]).encode("ascii")


def sf_answer(result: dict[str, Any] | None = None, *, code: str = "A1000", message: str = "") -> httpx.Response:
    """An answer as SF sends it: ``apiResultData`` is a JSON string."""
    body = {"apiResultCode": code, "apiErrorMsg": message, "apiResponseID": "0001",
            "apiResultData": json.dumps(result, ensure_ascii=False) if result is not None else None}
    return httpx.Response(200, content=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                          headers={"Content-Type": "application/json;charset=UTF-8"})


def ok(msg_data: Any = None) -> httpx.Response:
    return sf_answer({"success": True, "errorCode": "S0000", "errorMsg": None, "msgData": msg_data})


def failed(code: str, message: str = "失败") -> httpx.Response:
    return sf_answer({"success": False, "errorCode": code, "errorMsg": message, "msgData": None})


Reply = httpx.Response | Exception


@asynccontextmanager
async def sf(*replies: Reply, account: CarrierAccount = ACCOUNT) -> AsyncIterator[tuple[SF, ScriptedCarrier]]:
    """An adapter at a fixed instant and requestID, wired to a scripted carrier; every reply must be used."""
    script = ScriptedCarrier(list(replies))
    async with httpx.AsyncClient(transport=httpx.MockTransport(script)) as client:
        yield SF(account, client, clock=lambda: NOW, request_ids=lambda: REQUEST_ID), script
    assert script.replies == [], f"{len(script.replies)} scripted replies were never asked for"


# ---- the recipe -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "java"), [
    ("a*b~c d中", "a*b%7Ec+d%E4%B8%AD"),
    ("A-Z_a.z 0~9*!'()+%&=/", "A-Z_a.z+0%7E9*%21%27%28%29%2B%25%26%3D%2F"),
    ("", ""),
])
def test_url_encoding_is_javas_url_encoder_not_pythons_quote_plus(text: str, java: str) -> None:
    assert java_url_encode(text.encode("utf-8")) == java.encode("ascii")


@pytest.mark.parametrize(("text", "known"), [
    ("a*b~c d中", "Um6yBhQykxg+Xx7fk5xuKw=="),
    ("A-Z_a.z 0~9*!'()+%&=/", "MBDD/WcmYuKD8r6ZFuGnvw=="),
])
def test_digest_known_answers_from_java(text: str, known: str) -> None:
    # msg_digest(msgData, timestamp, checkWord) signs their concatenation: split the text anywhere.
    assert msg_digest(text, "", "") == known
    assert msg_digest(text[:3], text[3:5], text[5:]) == known


# ---- EXP_RECE_WANTED_INTERCEPT ------------------------------------------------------------------------


@pytest.mark.parametrize(("request_", "msg_data", "encoded", "digest", "monthly_card"), [
    (RETURN, RETURN_DATA, RETURN_ENCODED, RETURN_DIGEST, ""),
    (REDIRECT, REDIRECT_DATA, REDIRECT_ENCODED, REDIRECT_DIGEST, "7551234567"),
])
def test_intercept_form_is_signed_over_the_exact_msg_data_it_sends(
        request_: InterceptRequest, msg_data: str, encoded: str, digest: str, monthly_card: str) -> None:
    data = wire.intercept_msg_data(request_, monthly_card_no=monthly_card)
    form = wire.service_form("EXP_RECE_WANTED_INTERCEPT", data, partner_id=PARTNER, check_word=CHECK_WORD,
                             request_id=REQUEST_ID, timestamp=T)

    assert independent_digest(encoded) == digest
    assert form == {"partnerID": PARTNER, "requestID": REQUEST_ID, "serviceCode": "EXP_RECE_WANTED_INTERCEPT",
                    "timestamp": T, "msgDigest": digest, "msgData": msg_data}
    assert list(form) == ["partnerID", "requestID", "serviceCode", "timestamp", "msgDigest", "msgData"]


def test_a_return_without_any_address_leaves_new_dest_address_to_sf() -> None:
    request = InterceptRequest("ic_3", "sf", WAYBILL, InterceptType.return_to_sender, CALLBACK)

    assert wire.intercept_msg_data(request) == BARE_RETURN_DATA
    assert wire.msg_digest(BARE_RETURN_DATA, T, CHECK_WORD) == BARE_RETURN_DIGEST


def test_a_return_goes_to_the_return_address_when_the_request_carries_one() -> None:
    @dataclass(frozen=True)
    class WithReturnAddress(InterceptRequest):  # the field lanjie's InterceptRequest is asked to grow
        return_address: Address | None = None

    request = WithReturnAddress("ic_4", "sf", WAYBILL, InterceptType.return_to_sender, CALLBACK, address=ADDRESS,
                                return_address=Address("仓库", "13900001111", "上海市浦东新区退货仓"))

    assert json.loads(wire.intercept_msg_data(request))["newDestAddress"] == {
        "contact": "仓库", "phone": "13900001111", "address": "上海市浦东新区退货仓", "country": "CN"}


@pytest.mark.parametrize(("payer", "pay_mode", "card_sent"), [
    (Payer.sender, "1", False), (Payer.recipient, "2", False), (Payer.third_party, "3", True),
    (Payer.monthly_account, "4", True),
])
def test_pay_mode_follows_the_payer_and_a_monthly_card_goes_with_3_and_4(
        payer: Payer, pay_mode: str, card_sent: bool) -> None:
    request = InterceptRequest("ic_5", "sf", WAYBILL, InterceptType.return_to_sender, CALLBACK, payer=payer)

    data = json.loads(wire.intercept_msg_data(request, monthly_card_no="7551234567"))

    assert (data["payMode"], data["role"], "monthlyCardNo" in data) == (pay_mode, "1", card_sent)
    assert codes.PAY_MODES[payer] == pay_mode


@pytest.mark.anyio
async def test_intercept_posts_one_signed_form_to_the_gateway() -> None:
    async with sf(ok({"cusId": "SFC000000000042", "amount": 12.35})) as (carrier, script):
        await carrier.intercept(RETURN)

    [request] = script.seen
    assert (request.method, str(request.url)) == ("POST", URL)
    assert request.headers["Content-Type"] == FORM
    assert request.content == expected_body("EXP_RECE_WANTED_INTERCEPT", RETURN_DATA, RETURN_DIGEST)
    assert form_of(request)["msgData"] == [RETURN_DATA]
    [exchange] = carrier.exchanges
    assert (exchange.operation, exchange.method, exchange.url, exchange.status_code, exchange.error) == (
        "intercept", "POST", URL, 200, "")
    assert CHECK_WORD not in exchange.request_body and RETURN_DIGEST not in exchange.request_body
    assert json.loads(exchange.request_body)["msgData"]["newDestAddress"]["phone"] == "***8000"


@pytest.mark.anyio
async def test_an_accepted_intercept_is_its_cus_id_and_the_fee_in_fen() -> None:
    answer = {"cusId": "SFC000000000042", "amount": 12.35,
              "freightAdditionInfoResp": {"interceptionDeptCode": "571A", "transferFlg": "0"}}
    async with sf(ok(answer)) as (carrier, _):
        ack = await carrier.intercept(RETURN)

    assert ack == InterceptAck(accepted=True, task_id="SFC000000000042", message="fee 12.35 CNY", fee_minor=1235)
    parsed = wire.parse_intercept(wire.Result(True, "S0000", "", json.loads('{"cusId":"X","amount":12.35}',
                                                                             parse_float=Decimal)))
    assert parsed.fee_fen == 1235


@pytest.mark.anyio
async def test_an_accepted_intercept_without_msg_data_has_no_task_id() -> None:
    async with sf(ok(None)) as (carrier, _):
        ack = await carrier.intercept(RETURN)

    assert ack == InterceptAck(accepted=True, task_id=None, message="")


@pytest.mark.anyio
@pytest.mark.parametrize(("code", "expected"), [
    ("8016", InterceptAck(accepted=True, task_id="SFC000000000042", reason=InterceptReason.already_intercepted,
                          message="重复; fee 12.35 CNY", duplicate=True, fee_minor=1235)),
    ("8101", InterceptAck(accepted=False, reason=InterceptReason.already_delivered, message="重复")),
    ("8102", InterceptAck(accepted=False, reason=InterceptReason.out_for_delivery, message="重复")),
    ("8103", InterceptAck(accepted=False, reason=InterceptReason.not_picked_up, message="重复")),
    ("8104", InterceptAck(accepted=False, reason=InterceptReason.already_intercepted, message="重复")),
    ("8105", InterceptAck(accepted=False, reason=InterceptReason.not_supported, message="重复")),
])
async def test_each_intercept_error_code_becomes_its_ack(code: str, expected: InterceptAck) -> None:
    body = {"success": False, "errorCode": code, "errorMsg": "重复",
            "msgData": {"cusId": "SFC000000000042", "amount": 12.35}}
    async with sf(sf_answer(body)) as (carrier, _):
        assert await carrier.intercept(RETURN) == expected


@pytest.mark.anyio
@pytest.mark.parametrize(("code", "reason"), [
    ("8001", InterceptReason.carrier_error), ("8002", InterceptReason.bad_address)])
async def test_a_refused_parameter_is_carrier_rejected(code: str, reason: InterceptReason) -> None:
    async with sf(failed(code, "参数错误")) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(RETURN)

    assert (caught.value.code, caught.value.message, caught.value.reason) == (code, "参数错误", reason)


@pytest.mark.anyio
@pytest.mark.parametrize(("code", "reason"), [
    ("A1001", InterceptReason.carrier_error), ("A1004", InterceptReason.auth_failed),
    ("A1005", InterceptReason.rate_limited), ("A1006", InterceptReason.auth_failed),
])
async def test_each_envelope_error_code_is_carrier_rejected_with_its_reason(code: str,
                                                                            reason: InterceptReason) -> None:
    async with sf(sf_answer(None, code=code, message="错误")) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(RETURN)

    assert (caught.value.code, caught.value.message, caught.value.reason) == (code, "错误", reason)


@pytest.mark.anyio
async def test_a_system_error_envelope_is_carrier_unavailable() -> None:
    async with sf(sf_answer(None, code="A1099", message="系统异常")) as (carrier, _):
        with pytest.raises(CarrierUnavailable, match="A1099"):
            await carrier.intercept(RETURN)


@pytest.mark.anyio
async def test_an_unknown_error_code_is_refused_as_carrier_error_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async with sf(failed("7777", "奇怪")) as (carrier, _):
        ack = await carrier.intercept(RETURN)

    assert ack == InterceptAck(accepted=False, reason=InterceptReason.carrier_error, message="奇怪")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "sf EXP_RECE_WANTED_INTERCEPT answered an unknown errorCode '7777': 奇怪")]


@pytest.mark.anyio
async def test_an_unknown_envelope_code_is_rejected_as_carrier_error_and_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    async with sf(sf_answer(None, code="A1999", message="?")) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(RETURN)

    assert (caught.value.code, caught.value.reason) == ("A1999", InterceptReason.carrier_error)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "sf answered an unknown apiResultCode 'A1999': ?")]


@pytest.mark.anyio
@pytest.mark.parametrize("reply", [
    httpx.Response(200, content=b"<html>gateway</html>"),
    httpx.Response(200, json={"apiResultCode": "A1000", "apiResultData": "not json"}),
    httpx.Response(200, json={"apiResultCode": "A1000", "apiResultData": "[1]"}),
    httpx.Response(502, content=b"Bad Gateway"),
    httpx.ConnectError("refused"),
])
async def test_an_answer_that_is_not_sfs_is_carrier_unavailable(reply: Reply) -> None:
    async with sf(reply) as (carrier, _):
        with pytest.raises(CarrierUnavailable) as caught:
            await carrier.intercept(RETURN)

    assert not isinstance(caught.value, CarrierTimeout)


@pytest.mark.anyio
async def test_no_answer_in_time_is_a_timeout() -> None:
    async with sf(httpx.ReadTimeout("slow")) as (carrier, _):
        with pytest.raises(CarrierTimeout):
            await carrier.intercept(RETURN)

    assert carrier.exchanges[0].error == "ReadTimeout: slow"


@pytest.mark.anyio
@pytest.mark.parametrize("address", [None, Address("李四", "", "上海市"), Address("", "13800138000", "上海市")])
async def test_a_redirect_without_a_full_address_is_refused_before_any_call(address: Address | None) -> None:
    request = InterceptRequest("ic_2", "sf", WAYBILL, InterceptType.redirect, CALLBACK, address=address)
    async with sf() as (carrier, script):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(request)

    assert (caught.value.code, caught.value.reason) == ("8002", InterceptReason.bad_address)
    assert (script.seen, carrier.exchanges) == ([], [])


@pytest.mark.anyio
async def test_sf_has_no_return_to_the_origin_outlet() -> None:
    request = InterceptRequest("ic_6", "sf", WAYBILL, InterceptType.return_to_outlet, CALLBACK)
    async with sf() as (carrier, script):
        ack = await carrier.intercept(request)

    assert ack == InterceptAck(accepted=False, reason=InterceptReason.not_supported,
                               message="SF offers no return_to_outlet intercept")
    assert script.seen == []
    assert SF.intercept_types == frozenset({InterceptType.return_to_sender, InterceptType.redirect})


@pytest.mark.anyio
async def test_missing_credentials_refuse_every_call_up_front() -> None:
    account = CarrierAccount("sf", {"partner_id": PARTNER}, {"api": API})
    async with sf(account=account) as (carrier, script):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(RETURN)
        with pytest.raises(CarrierRejected):
            await carrier.query_tracking("sf", WAYBILL)

    assert (caught.value.code, caught.value.reason) == ("config", InterceptReason.auth_failed)
    assert script.seen == []


@pytest.mark.parametrize(("amount", "fen"), [
    (Decimal("12.35"), 1235), ("12.35", 1235), (12.35, 1235), (12, 1200), ("0.1", 10), (Decimal("0.005"), 1),
    (None, None), (True, None), ("abc", None), ("NaN", None), ([1], None),
])
def test_an_amount_in_yuan_becomes_integer_fen_without_floats(amount: object, fen: int | None) -> None:
    assert wire.yuan_to_fen(amount) == fen


# ---- cancel -------------------------------------------------------------------------------------------


def test_cancel_form_names_the_command_by_its_cus_id() -> None:
    data = wire.cancel_msg_data(WAYBILL, "SFC000000000042")

    assert data == CANCEL_DATA
    assert independent_digest(CANCEL_ENCODED) == CANCEL_DIGEST
    assert wire.msg_digest(data, T, CHECK_WORD) == CANCEL_DIGEST


@pytest.mark.anyio
async def test_cancel_posts_the_signed_form_and_a_success_is_accepted() -> None:
    async with sf(ok(None)) as (carrier, script):
        answer = await carrier.cancel_intercept("sf", WAYBILL, "SFC000000000042")

    assert answer == CancelAck(accepted=True, message="")
    [request] = script.seen
    assert (request.method, str(request.url), request.headers["Content-Type"]) == ("POST", URL, FORM)
    assert request.content == expected_body("EXP_RECE_WANTED_INTERCEPT", CANCEL_DATA, CANCEL_DIGEST)


@pytest.mark.anyio
@pytest.mark.parametrize("code", sorted(code for code, accepted in codes.CANCEL_CODES.items() if not accepted))
async def test_a_cancel_sf_cannot_do_is_not_accepted(code: str) -> None:
    async with sf(failed(code, "不可撤销")) as (carrier, _):
        assert await carrier.cancel_intercept("sf", WAYBILL, "SFC1") == CancelAck(accepted=False,
                                                                                   message="不可撤销")


@pytest.mark.anyio
@pytest.mark.parametrize(("code", "reason"), [("8001", InterceptReason.carrier_error),
                                               ("7777", InterceptReason.carrier_error)])
async def test_a_cancel_answered_with_another_code_is_rejected(code: str, reason: InterceptReason) -> None:
    async with sf(failed(code)) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.cancel_intercept("sf", WAYBILL, "SFC1")

    assert (caught.value.code, caught.value.reason) == (code, reason)


@pytest.mark.anyio
async def test_a_cancel_without_a_cus_id_makes_no_call() -> None:
    async with sf() as (carrier, script):
        answer = await carrier.cancel_intercept("sf", WAYBILL, None)

    assert answer == CancelAck(False, "SF cancels an intercept by its cusId, and none is known")
    assert script.seen == []


# ---- EXP_RECE_SEARCH_ROUTES: query_tracking, query_intercept, precheck --------------------------------


def _route(at: str, code: str, remark: str = "", address: str = "杭州市") -> dict[str, str]:
    return {"acceptTime": at, "acceptAddress": address, "remark": remark, "opCode": code}


def routes(*items: dict[str, str], waybill: str = WAYBILL) -> dict[str, Any]:
    return {"routeResps": [{"mailNo": waybill, "routes": list(items)}]}


IN_TRANSIT = (_route("2024-06-01 09:00:00", "50", "顺丰速运 已收取快件"),
              _route("2024-06-01 12:00:00", "30", "快件离开【杭州转运中心】", "杭州市"),
              _route("2024-06-01 22:00:00", "31", "快件到达【上海转运中心】", "上海市"))


def test_search_routes_form_sends_the_phone_tail_when_known() -> None:
    assert wire.search_routes_msg_data(WAYBILL, "138-0013-8000") == SEARCH_DATA
    assert independent_digest(SEARCH_ENCODED) == SEARCH_DIGEST
    assert wire.msg_digest(SEARCH_DATA, T, CHECK_WORD) == SEARCH_DIGEST
    assert json.loads(wire.search_routes_msg_data(WAYBILL, "")) == {
        "language": "0", "trackingType": "1", "trackingNumber": [WAYBILL], "methodType": "1"}


@pytest.mark.anyio
async def test_query_tracking_posts_the_signed_form_and_reads_the_routes_newest_first() -> None:
    async with sf(ok(routes(*IN_TRANSIT))) as (carrier, script):
        snapshot = await carrier.query_tracking("sf", WAYBILL, "8000")

    [request] = script.seen
    assert (request.method, str(request.url), request.headers["Content-Type"]) == ("POST", URL, FORM)
    assert request.content == expected_body("EXP_RECE_SEARCH_ROUTES", SEARCH_DATA, SEARCH_DIGEST)
    assert snapshot == TrackingSnapshot(
        carrier_code="sf", waybill_no=WAYBILL, status=TrackingStatus.in_transit, events=(
            TrackingEvent(datetime(2024, 6, 1, 14, tzinfo=UTC), TrackingStatus.in_transit, "31",
                          "快件到达【上海转运中心】", "上海市"),
            TrackingEvent(datetime(2024, 6, 1, 4, tzinfo=UTC), TrackingStatus.in_transit, "30",
                          "快件离开【杭州转运中心】", "杭州市"),
            TrackingEvent(datetime(2024, 6, 1, 1, tzinfo=UTC), TrackingStatus.picked_up, "50",
                          "顺丰速运 已收取快件", "杭州市"),
        ))


@pytest.mark.anyio
@pytest.mark.parametrize("msg_data", [None, {"routeResps": []}, routes(), routes(*IN_TRANSIT, waybill="SF999")])
async def test_a_waybill_without_routes_is_an_empty_trace_not_yet_picked_up(msg_data: Any) -> None:
    async with sf(ok(msg_data)) as (carrier, _):
        snapshot = await carrier.query_tracking("shunfeng", WAYBILL)

    assert (snapshot.carrier_code, snapshot.status, snapshot.events) == ("shunfeng", TrackingStatus.created, ())


@pytest.mark.anyio
async def test_two_routes_of_the_same_second_keep_sfs_order() -> None:
    same = "2024-06-01 10:00:00"
    async with sf(ok(routes(_route(same, "31"), _route(same, "631")))) as (carrier, _):
        snapshot = await carrier.query_tracking("sf", WAYBILL)

    assert [e.code for e in snapshot.events] == ["631", "31"]
    assert snapshot.status is TrackingStatus.returning


@pytest.mark.anyio
@pytest.mark.parametrize(("reply", "error"), [
    (failed("8001", "参数错误"), CarrierRejected),
    (ok({"routeResps": "x"}), CarrierUnavailable),
    (ok(routes(_route("yesterday", "50"))), CarrierUnavailable),
    (ok(routes({"opCode": "50"})), CarrierUnavailable),
])
async def test_a_route_query_error_or_a_malformed_answer_raises(reply: httpx.Response, error: type[Exception]) -> None:
    async with sf(reply) as (carrier, _):
        with pytest.raises(error):
            await carrier.query_tracking("sf", WAYBILL)


RETURNED = (*IN_TRANSIT, _route("2024-06-02 08:00:00", "631", "快件已拦截，退回寄件人"))
DELIVERED = (*IN_TRANSIT, _route("2024-06-02 08:00:00", "44"), _route("2024-06-02 11:00:00", "80"))
REDIRECTED_THEN_DELIVERED = (*IN_TRANSIT, _route("2024-06-02 08:00:00", "9001"), _route("2024-06-02 20:00:00", "80"))
CLOSED = (*DELIVERED, _route("2024-06-02 12:00:00", "8000"))
DAMAGED = (*IN_TRANSIT, _route("2024-06-02 08:00:00", "9002"))


@pytest.mark.anyio
@pytest.mark.parametrize(("trace", "task_id", "expected"), [
    (IN_TRANSIT, "SFC1", InterceptState(InterceptOutcome.indeterminate, "SFC1")),
    (RETURNED, "SFC1", InterceptState(InterceptOutcome.succeeded, "SFC1")),
    (REDIRECTED_THEN_DELIVERED, "SFC1", InterceptState(InterceptOutcome.succeeded, "SFC1")),
    (DELIVERED, "SFC1", InterceptState(InterceptOutcome.failed, "SFC1", InterceptReason.missed)),
    (CLOSED, "SFC1", InterceptState(InterceptOutcome.failed, "SFC1", InterceptReason.missed)),
    (DELIVERED, None, InterceptState(InterceptOutcome.failed, None, InterceptReason.already_delivered)),
    (DAMAGED, "SFC1", InterceptState(InterceptOutcome.failed, "SFC1", InterceptReason.carrier_error,
                                     "parcel damaged")),
])
async def test_query_intercept_judges_from_the_routes(trace: tuple[dict[str, str], ...], task_id: str | None,
                                                      expected: InterceptState) -> None:
    async with sf(ok(routes(*trace))) as (carrier, script):
        assert await carrier.query_intercept("sf", WAYBILL, task_id, "8000") == expected

    assert form_of(script.seen[0])["serviceCode"] == ["EXP_RECE_SEARCH_ROUTES"]


BOTH = frozenset({InterceptType.return_to_sender, InterceptType.redirect})
FEE_WHEN = "quoted per request, in the intercept answer (amount)"


@pytest.mark.anyio
@pytest.mark.parametrize(("trace", "expected"), [
    (IN_TRANSIT, Precheck(True, payer=Payer.sender, fee_when=FEE_WHEN, message="parcel in_transit", types=BOTH)),
    ((IN_TRANSIT[0],), Precheck(True, payer=Payer.sender, fee_when=FEE_WHEN, message="parcel picked_up",
                                types=BOTH)),
    ((*IN_TRANSIT, _route("2024-06-02 04:00:00", "130")),
     Precheck(True, payer=Payer.sender, fee_when=FEE_WHEN, message="parcel at_destination", types=BOTH)),
    ((), Precheck(False, InterceptReason.not_picked_up, payer=Payer.sender, message="parcel created")),
    (DELIVERED[:-1], Precheck(False, InterceptReason.out_for_delivery, payer=Payer.sender,
                              message="parcel out_for_delivery")),
    (DELIVERED, Precheck(False, InterceptReason.already_delivered, payer=Payer.sender, message="parcel delivered")),
    (RETURNED, Precheck(False, InterceptReason.already_intercepted, payer=Payer.sender,
                        message="the parcel already turned back")),
    (DAMAGED, Precheck(False, InterceptReason.not_supported, payer=Payer.sender, message="parcel damaged")),
])
async def test_precheck_judges_eligibility_from_the_routes_and_quotes_no_fee(
        trace: tuple[dict[str, str], ...], expected: Precheck) -> None:
    async with sf(ok(routes(*trace))) as (carrier, script):
        assert await carrier.precheck(RETURN) == expected

    assert form_of(script.seen[0])["serviceCode"] == ["EXP_RECE_SEARCH_ROUTES"]


# ---- EXP_RECE_REGISTER_ROUTE --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_subscribe_registers_the_waybill_and_the_push_url() -> None:
    async with sf(ok(None)) as (carrier, script):
        await carrier.subscribe(Subscription("sf", WAYBILL, REGISTER_URL, phone_tail="8000"))

    assert independent_digest(REGISTER_ENCODED) == REGISTER_DIGEST
    [request] = script.seen
    assert (request.method, str(request.url), request.headers["Content-Type"]) == ("POST", URL, FORM)
    assert request.content == expected_body("EXP_RECE_REGISTER_ROUTE", REGISTER_DATA, REGISTER_DIGEST)
    assert [e.status_code for e in carrier.exchanges] == [200]


@pytest.mark.anyio
@pytest.mark.parametrize(("reply", "code", "reason"), [
    (failed("8001", "参数错误"), "8001", InterceptReason.carrier_error),
    (sf_answer(None, code="A1006"), "A1006", InterceptReason.auth_failed),
])
async def test_a_refused_registration_is_carrier_rejected(reply: httpx.Response, code: str,
                                                         reason: InterceptReason) -> None:
    async with sf(reply) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(Subscription("sf", WAYBILL, CALLBACK))

    assert (caught.value.code, caught.value.reason) == (code, reason)


@pytest.mark.anyio
async def test_an_unknown_route_error_code_is_rejected_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async with sf(failed("6666", "?")) as (carrier, _):
        with pytest.raises(CarrierRejected):
            await carrier.subscribe(Subscription("sf", WAYBILL, CALLBACK))

    assert [r.getMessage() for r in caplog.records] == [
        "sf EXP_RECE_REGISTER_ROUTE answered an unknown errorCode '6666': ?"]


@pytest.mark.anyio
async def test_claims_are_not_supported() -> None:
    async with sf() as (carrier, _):
        with pytest.raises(NotSupported):
            await carrier.file_claim()
        with pytest.raises(NotSupported):
            await carrier.claim_status()


# ---- route pushes -------------------------------------------------------------------------------------

PUSH_T = "1717228800456"
PUSH_DATA = ('{"Body":{"WaybillRoute":[{"id":"SF12345678901230001","mailno":"SF1234567890123","orderid":"DY-1001",'
             '"acceptTime":"2024-06-01 16:00:00","acceptAddress":"杭州市","remark":"【杭州市】顺丰速运 已收取快件 *~",'
             '"opCode":"50","reasonCode":""}]}}')
PUSH_ENCODED = ("%7B%22Body%22%3A%7B%22WaybillRoute%22%3A%5B%7B%22id%22%3A%22SF12345678901230001%22%2C%22mailno"
                "%22%3A%22SF1234567890123%22%2C%22orderid%22%3A%22DY-1001%22%2C%22acceptTime%22%3A%222024-06-01+16"
                "%3A00%3A00%22%2C%22acceptAddress%22%3A%22%E6%9D%AD%E5%B7%9E%E5%B8%82%22%2C%22remark%22%3A%22%E3"
                "%80%90%E6%9D%AD%E5%B7%9E%E5%B8%82%E3%80%91%E9%A1%BA%E4%B8%B0%E9%80%9F%E8%BF%90+%E5%B7%B2%E6%94"
                "%B6%E5%8F%96%E5%BF%AB%E4%BB%B6+*%7E%22%2C%22opCode%22%3A%2250%22%2C%22reasonCode%22%3A%22%22%7D"
                "%5D%7D%7D")
PUSH_DIGEST = "PZmiT8fQ9hT3R46JGVkoow=="
ACK = b'{"return_code":"0000","return_msg":"\xe6\x88\x90\xe5\x8a\x9f"}'  # return_msg "成功"
PUSH_FORM = "application/x-www-form-urlencoded"


def _no_call(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"parse_push must not call out, it called {request.url}")


@functools.cache
def carrier(check_word: str = CHECK_WORD) -> SF:
    """An adapter whose client fails the test if it is ever used (parse_push makes no call)."""
    account = CarrierAccount("sf", {"partner_id": PARTNER, "check_word": check_word}, {"api": API})
    return SF(account, httpx.AsyncClient(transport=httpx.MockTransport(_no_call)))


def push_body(msg_data: str, timestamp: str = PUSH_T, digest: str | None = None) -> bytes:
    if digest is None:
        encoded = java_url_encode((msg_data + timestamp + CHECK_WORD).encode("utf-8"))
        digest = base64.b64encode(hashlib.md5(encoded).digest()).decode()
    return urlencode([("msgData", msg_data), ("timestamp", timestamp), ("msgDigest", digest)]).encode("ascii")


def test_a_route_push_verifies_and_parses_to_an_incremental_snapshot() -> None:
    encoded_input = PUSH_ENCODED + PUSH_T + CHECK_WORD
    assert base64.b64encode(hashlib.md5(encoded_input.encode()).digest()).decode() == PUSH_DIGEST

    push = carrier().parse_push(push_body(PUSH_DATA, digest=PUSH_DIGEST), PUSH_FORM)

    assert push == Push(
        message_key=hashlib.sha256(b"SF12345678901230001").hexdigest(),
        tracking=TrackingSnapshot("sf", WAYBILL, TrackingStatus.picked_up, (
            TrackingEvent(datetime(2024, 6, 1, 8, tzinfo=UTC), TrackingStatus.picked_up, "50",
                          "【杭州市】顺丰速运 已收取快件 *~", "杭州市"),), incremental=True),
        ack_body=ACK, ack_media_type="application/json")
    assert PUSH_ACK == ACK


def test_a_push_resent_byte_for_byte_has_the_same_message_key() -> None:
    first = carrier().parse_push(push_body(PUSH_DATA, digest=PUSH_DIGEST), PUSH_FORM)
    again = carrier().parse_push(push_body(PUSH_DATA, digest=PUSH_DIGEST), PUSH_FORM + "; charset=UTF-8")
    # Re-signed later (another timestamp): still the same routes, so still the same message.
    resigned = carrier().parse_push(push_body(PUSH_DATA, timestamp="1717228899999"), PUSH_FORM)

    assert first.message_key == again.message_key == resigned.message_key


def test_routes_without_ids_are_keyed_by_the_raw_msg_data() -> None:
    msg_data = PUSH_DATA.replace('"id":"SF12345678901230001",', "")

    push = carrier().parse_push(push_body(msg_data), PUSH_FORM)

    assert push.message_key == hashlib.sha256(msg_data.encode()).hexdigest()


@pytest.mark.parametrize("body", [
    push_body(PUSH_DATA, digest="PZmiT8fQ9hT3R46JGVkoox=="),  # forged
    push_body(PUSH_DATA.replace('"50"', '"80"'), digest=PUSH_DIGEST),  # tampered after signing
    push_body(PUSH_DATA, timestamp="1717228800457", digest=PUSH_DIGEST),  # another timestamp
])
def test_a_push_whose_digest_does_not_match_is_refused(body: bytes) -> None:
    with pytest.raises(SignatureInvalid, match="does not match"):
        carrier().parse_push(body, PUSH_FORM)


@pytest.mark.parametrize("body", [
    urlencode([("msgData", PUSH_DATA), ("timestamp", PUSH_T)]).encode(),
    urlencode([("msgData", PUSH_DATA), ("timestamp", PUSH_T), ("msgDigest", "")]).encode(),
])
def test_an_unsigned_push_is_refused(body: bytes) -> None:
    with pytest.raises(SignatureInvalid, match="no msgDigest"):
        carrier().parse_push(body, PUSH_FORM)


def test_without_a_check_word_nothing_verifies() -> None:
    with pytest.raises(SignatureInvalid, match="no check_word"):
        carrier("").parse_push(push_body(PUSH_DATA, digest=PUSH_DIGEST), PUSH_FORM)


def test_the_reject_answer_is_in_sfs_format() -> None:
    assert SF.reject_ack() == (PUSH_REJECT, "application/json")
    assert json.loads(PUSH_REJECT)["return_code"] != "0000"


@pytest.mark.parametrize(("body", "content_type"), [
    (push_body(PUSH_DATA), "application/json"),
    (b"msgData", PUSH_FORM),
    (push_body(PUSH_DATA) + b"&msgDigest=x", PUSH_FORM),
    (urlencode([("timestamp", PUSH_T), ("msgDigest", "x")]).encode(), PUSH_FORM),
    (push_body("not json"), PUSH_FORM),
    (push_body('{"Body":{"WaybillRoute":[]}}'), PUSH_FORM),
    (push_body('{"Body":{"WaybillRoute":[{"id":"1","opCode":"50","acceptTime":"2024-06-01 16:00:00"}]}}'),
     PUSH_FORM),
    (push_body(PUSH_DATA.replace("2024-06-01 16:00:00", "later")), PUSH_FORM),
])
def test_a_push_that_is_not_an_sf_route_push_is_malformed(body: bytes, content_type: str) -> None:
    with pytest.raises(MalformedPush):
        carrier().parse_push(body, content_type)


def test_a_push_of_several_waybills_takes_the_first_and_logs_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    items = [
        {"id": "A1", "mailno": WAYBILL, "acceptTime": "2024-06-01 16:00:00", "opCode": "50", "remark": "收"},
        {"id": "B1", "mailno": "SF999", "acceptTime": "2024-06-01 16:30:00", "opCode": "50", "remark": "收"},
        {"id": "A2", "mailno": WAYBILL, "acceptTime": "2024-06-01 18:00:00", "opCode": "30", "remark": "离开"},
    ]
    msg_data = json.dumps({"Body": {"WaybillRoute": items}}, ensure_ascii=False)

    push = carrier().parse_push(push_body(msg_data), PUSH_FORM)

    assert push.tracking is not None
    assert (push.tracking.waybill_no, [e.code for e in push.tracking.events]) == (WAYBILL, ["30", "50"])
    assert push.message_key == hashlib.sha256(b"A1\nB1\nA2").hexdigest()
    assert [r.getMessage() for r in caplog.records] == [
        "sf route push holds 2 waybills; only SF1234567890123 is taken, dropped: SF999"]


# ---- the code tables ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "status"), sorted(codes.TRACKING_CODES.items()))
def test_every_op_code_maps_to_its_status(code: str, status: TrackingStatus, caplog: pytest.LogCaptureFixture) -> None:
    assert codes.tracking_status(code) is status
    assert caplog.records == []


def test_an_unknown_op_code_is_in_transit_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    assert codes.tracking_status("4242") is TrackingStatus.in_transit
    assert codes.tracking_status("4242") is TrackingStatus.in_transit

    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "sf route opCode '4242' is unknown; treated as in_transit")]


@pytest.mark.parametrize(("code", "rule"), sorted(codes.API_RESULT_CODES.items()))
def test_every_envelope_code_has_its_rule(code: str, rule: codes.AnswerRule) -> None:
    body = {"apiResultCode": code, "apiErrorMsg": "m", "apiResultData": '{"success":true,"errorCode":"S0000"}'}
    if rule.verdict is codes.Verdict.ok:
        assert wire.result(body, "op") == wire.Result(True, "S0000", "", None)
    elif rule.verdict is codes.Verdict.unavailable:
        with pytest.raises(CarrierUnavailable):
            wire.result(body, "op")
    else:
        with pytest.raises(CarrierRejected) as caught:
            wire.result(body, "op")
        assert (caught.value.code, caught.value.reason) == (code, rule.reason)


@pytest.mark.parametrize(("code", "rule"), sorted(codes.INTERCEPT_CODES.items()))
def test_every_intercept_code_has_its_rule(code: str, rule: codes.AckRule) -> None:
    answer = wire.Result(code == "S0000", code, "m", {"cusId": "C1"})
    if rule.rejects:
        with pytest.raises(CarrierRejected) as caught:
            wire.parse_intercept(answer)
        assert caught.value.reason == rule.reason
    else:
        ack = wire.parse_intercept(answer).ack
        assert (ack.accepted, ack.reason, ack.duplicate) == (rule.accepted, rule.reason, rule.duplicate)
        assert ack.task_id == ("C1" if rule.accepted else None)


@pytest.mark.parametrize(("code", "accepted"), sorted(codes.CANCEL_CODES.items()))
def test_every_cancel_code_has_its_answer(code: str, accepted: bool) -> None:
    assert wire.parse_cancel(wire.Result(accepted, code, "m", None)) == CancelAck(accepted, "m")


@pytest.mark.parametrize(("code", "rule"), sorted(codes.ROUTE_CODES.items()))
def test_every_route_code_has_its_rule(code: str, rule: codes.AnswerRule) -> None:
    answer = wire.Result(code == "S0000", code, "m", None)
    if rule.verdict is codes.Verdict.ok:
        assert wire.check_route_result(answer, "EXP_RECE_SEARCH_ROUTES") is None
    else:
        with pytest.raises(CarrierRejected) as caught:
            wire.check_route_result(answer, "EXP_RECE_SEARCH_ROUTES")
        assert caught.value.reason == rule.reason


@pytest.mark.parametrize(("intercept_type", "service_code"), sorted(codes.INTERCEPT_TYPES.items()))
def test_every_intercept_type_names_its_service_code(intercept_type: InterceptType, service_code: str) -> None:
    request = InterceptRequest("ic", "sf", WAYBILL, intercept_type, CALLBACK, address=ADDRESS)
    data = json.loads(wire.intercept_msg_data(request))
    assert data["serviceCode"] == service_code


def test_the_plugin_describes_itself() -> None:
    assert (SF.name, SF.title, SF.couriers, SF.intercept_via, SF.credential_names, SF.endpoint_names,
            SF.rate_limit_per_second) == ("sf", "SF Express 顺丰 (丰桥)", frozenset({"sf", "shunfeng"}), None,
                                          ("partner_id", "check_word"), ("api",), 10.0)
