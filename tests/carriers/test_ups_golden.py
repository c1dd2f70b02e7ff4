"""UPS Delivery Intercept v2: per operation the request (byte-exact), the call, a success and every error.

Expected bytes are written out by hand from the protocol (compact JSON, raw UTF-8, key order as UPS
documents it) and the Basic credential is computed here with base64, never by the adapter's helpers.
Answers are UPS's own examples from ``DeliveryIntercept.yaml`` v2 where it has them.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from lanjie.carriers.base import (
    Address,
    CancelAck,
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
from lanjie.carriers.ups import UPS, TokenCache, codes, track, wire
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus

CLIENT_ID = "LanjieApp01"
SECRET = "s3cr*t ~value"
ACCOUNT_NUMBER = "A1B2C3"
API = "https://ups.test"
TN = "1Z999AA10123456784"
TOKEN, TOKEN_2 = "tok-Abc123-first", "tok-Xyz789-second"
NOW = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
# Known answer, computed outside Python: printf '%s' 'LanjieApp01:s3cr*t ~value' | base64
BASIC = "Basic TGFuamllQXBwMDE6czNjcip0IH52YWx1ZQ=="
CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": SECRET, "account_number": ACCOUNT_NUMBER,
               "requester_name": "蓝界 客服*~", "requester_phone": "+86 138-0013-8000"}
CONTACT = '"requesterContactInfo":{"name":"蓝界 客服*~","telephone":"+8613800138000"}'
BASE = f"{API}/api/deliveryintercept/v2"
FEE_WHEN = "only if the intercept completes"
S, R = TrackingStatus, InterceptReason


def token_answer(token: str = TOKEN, expires_in: str = "14399") -> httpx.Response:
    return reply(200, {"token_type": "Bearer", "issued_at": "1717228800000", "client_id": CLIENT_ID,
                       "access_token": token, "scope": "", "expires_in": expires_in, "refresh_count": "0",
                       "status": "approved"})


def reply(status: int, body: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return httpx.Response(status, content=content, headers={"Content-Type": "application/json"})


def error(status: int, code: str, message: str = "Failure due to input validation error",
          transaction_id: str = "ASR1212") -> httpx.Response:
    return reply(status, {"response": {"transactionId": transaction_id, "statusCode": str(status),
                                       "errors": [{"code": code, "message": message}]}})


SUCCESS = {"transactionId": "ASR1212", "statusCode": "000", "statusMsg": "Success", "success": True,
           "errors": None, "subStatusCode": ""}
SYSTEM_ERROR = {"transactionId": "ASR1212", "statusCode": "500", "statusMsg": "System Error", "success": False,
                "errors": [{"errorCode": "500", "errorMessage": "System Error"}], "subStatusCode": ""}


def eligibility(create: str = "ELIGIBLE", change: str = "NOT_ELIGIBLE") -> httpx.Response:
    value = {"createEligibility": create, "modifyEligibility": change, "cancelEligibility": change}
    return reply(200, {"response": {
        "transactionId": "b2e514fc8a2", "statusCode": "000", "statusMsg": "SUCCESS", "success": True,
        "errors": None, "warnings": None,
        "commonEligibilityMap": [{"interceptFeature": f, "eligibilityValue": value}
                                 for f in ("FD", "WC", "SDWC", "RD", "RTS")]}})


# UPS's "SINGLE INTERCEPT" example.
CHARGES = {"response": {
    "transactionId": "ASR1212", "statusCode": "000", "statusMsg": "Success", "success": True, "addrToken": "2",
    "errors": None, "warnings": None,
    "chargeInfo": [{"trackingNumber": TN, "accessorialCharge": "10.00", "interceptCharge": "5.00",
                    "transportationCharge": "25.00", "totalCharge": "40.00", "chargeCurrency": "USD",
                    "estDeliveryDate": "20250220", "serviceCode": "012", "serviceDesc": "UPS 3 Day Select",
                    "shipperPaidInterceptCharges": False, "taxDisclaimerIndicator": "NTA"}]}}


@dataclass
class Scripted:
    """A MockTransport handler answering from a script; it keeps every request it saw."""

    replies: list[httpx.Response | Exception]
    seen: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        answer = self.replies.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def trans_ids() -> Callable[[], str]:
    numbers = itertools.count(1)
    return lambda: f"tx{next(numbers):04d}"


@asynccontextmanager
async def ups(*replies: httpx.Response | Exception, credentials: dict[str, str] = CREDENTIALS,
              clock: Callable[[], datetime] = lambda: NOW,
              cache: TokenCache | None = None) -> AsyncIterator[tuple[UPS, Scripted]]:
    """An adapter on a scripted UPS with its own token cache; every scripted reply must be used."""
    script = Scripted(list(replies))
    async with httpx.AsyncClient(transport=httpx.MockTransport(script)) as client:
        yield UPS(CarrierAccount("ups", credentials, {"api": API}), client, clock=clock, trans_id=trans_ids(),
                  token_cache=cache or TokenCache()), script
    assert script.replies == [], f"{len(script.replies)} scripted replies were never asked for"


_STANDARD = {"host", "content-length", "accept-encoding", "connection", "user-agent"}


def headers_of(request: httpx.Request) -> dict[str, str]:
    """The headers the adapter chose (httpx's own left out)."""
    return {name: value for name, value in request.headers.items() if name not in _STANDARD}


def api_headers(trans_id: str, token: str = TOKEN) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "transid": trans_id, "transactionsrc": "lanjie",
            "inquirytype": "U", "content-type": "application/json", "accept": "application/json"}


def return_request(waybill_no: str = TN, reason: str = "buyer refund request") -> InterceptRequest:
    return InterceptRequest("ic_1", "ups", waybill_no, InterceptType.return_to_sender, "", reason=reason)


US_ADDRESS = Address("张三 *~", "+1 (410) 555-0100", "12911 Fork Rd, Apt *~ 5, Baldwin, MD 21013")
NEW_ADDRESS = ('{"addressNickName":"lanjie redirect","addressInfo":{"addressLine1":"12911 Fork Rd",'
               '"addressLine2":"Apt *~ 5","city":"Baldwin","state":"MD","postalCode":"21013","countryCode":"US"},'
               '"nameOrCompanyName":"张三 *~","contactName":"张三 *~","phoneNumber":"+14105550100"}')


# ---- OAuth token -------------------------------------------------------------------------------------

def test_the_basic_credential_is_base64_of_the_raw_id_and_secret() -> None:
    assert "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode() == BASIC
    assert wire.basic_auth(CLIENT_ID, SECRET) == BASIC


@pytest.mark.anyio
async def test_the_token_request_is_a_client_credentials_form_with_basic_auth_and_the_shipper_number() -> None:
    async with ups(token_answer(), reply(200, SUCCESS)) as (carrier, script):
        await carrier.intercept(return_request())

    token = script.seen[0]
    assert (token.method, str(token.url)) == ("POST", f"{API}/security/v1/oauth/token")
    assert headers_of(token) == {"authorization": BASIC, "x-merchant-id": ACCOUNT_NUMBER, "accept": "*/*",
                                 "content-type": "application/x-www-form-urlencoded"}
    assert token.content == b"grant_type=client_credentials"


@pytest.mark.anyio
async def test_without_an_account_number_no_merchant_header_is_sent() -> None:
    credentials = {"client_id": CLIENT_ID, "client_secret": SECRET}
    async with ups(token_answer(), reply(200, SUCCESS), credentials=credentials) as (carrier, script):
        await carrier.intercept(return_request())

    assert "x-merchant-id" not in script.seen[0].headers


@pytest.mark.anyio
async def test_one_token_serves_many_calls_across_adapter_instances() -> None:
    cache = TokenCache()
    async with ups(token_answer(), reply(200, SUCCESS), cache=cache) as (first, script):
        await first.intercept(return_request())
    async with ups(reply(200, SUCCESS), reply(200, SUCCESS), cache=cache) as (second, again):
        await second.intercept(return_request())
        await second.intercept(return_request())

    assert [r.url.path for r in script.seen + again.seen].count("/security/v1/oauth/token") == 1
    assert {r.headers["authorization"] for r in again.seen} == {f"Bearer {TOKEN}"}


@pytest.mark.anyio
async def test_a_token_is_fetched_again_once_less_than_the_safety_margin_is_left() -> None:
    now = [NOW]
    async with ups(token_answer(expires_in="3600"), reply(200, SUCCESS), reply(200, SUCCESS),
                   token_answer(TOKEN_2), reply(200, SUCCESS), clock=lambda: now[0]) as (carrier, script):
        for at in (NOW, NOW + timedelta(seconds=3539), NOW + timedelta(seconds=3540)):  # 3600 s less 60 s
            now[0] = at
            await carrier.intercept(return_request())

    assert [r.url.path.rsplit("/", 1)[-1] for r in script.seen] == ["token", TN, TN, "token", TN]
    assert script.seen[-1].headers["authorization"] == f"Bearer {TOKEN_2}"


@pytest.mark.anyio
async def test_concurrent_calls_fetch_one_token() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return token_answer() if request.url.path.endswith("/token") else reply(200, SUCCESS)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        carrier = UPS(CarrierAccount("ups", CREDENTIALS, {"api": API}), client, token_cache=TokenCache())
        acks = await asyncio.gather(*(carrier.intercept(return_request()) for _ in range(5)))

    assert [ack.accepted for ack in acks] == [True] * 5
    assert seen.count("/security/v1/oauth/token") == 1


@pytest.mark.anyio
async def test_a_refused_token_is_fetched_anew_and_the_call_retried_once() -> None:
    invalid = error(401, "250002", "Invalid Authentication Information.")
    async with ups(token_answer(), invalid, token_answer(TOKEN_2), reply(200, SUCCESS)) as (carrier, script):
        ack = await carrier.intercept(return_request())

    assert ack == InterceptAck(accepted=True, task_id="ASR1212", message="Success")
    assert [r.headers.get("authorization") for r in script.seen] == [
        BASIC, f"Bearer {TOKEN}", BASIC, f"Bearer {TOKEN_2}"]
    assert script.seen[1].content == script.seen[3].content


@pytest.mark.anyio
async def test_a_token_refused_twice_is_auth_failed() -> None:
    invalid = error(401, "250002", "Invalid Authentication Information.")
    async with ups(token_answer(), invalid, token_answer(TOKEN_2), invalid) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(return_request())

    assert (caught.value.code, caught.value.reason) == ("250002", R.auth_failed)


@pytest.mark.anyio
async def test_an_address_token_error_605_is_not_a_token_problem_and_is_not_retried() -> None:
    message = "Package address token does not match any tokens in the user's profile."
    async with ups(token_answer(), error(401, "605", message)) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(return_request())

    assert (caught.value.code, caught.value.message, caught.value.reason) == ("605", message, R.auth_failed)


@pytest.mark.parametrize(("answer", "raised", "reason"), [
    (reply(401, {"response": {"errors": [{"code": "10401", "message": "ClientId is Invalid"}]}}),
     CarrierRejected, R.auth_failed),
    (reply(403, {"response": {"errors": [{"code": "10403", "message": "Blocked Merchant"}]}}),
     CarrierRejected, R.auth_failed),
    (reply(429, {"response": {"errors": [{"code": "10429", "message": "Quota Limit Exceeded"}]}}),
     CarrierRejected, R.rate_limited),
    (httpx.Response(503, content=b"Service Unavailable"), CarrierUnavailable, None),
    (reply(200, {"token_type": "Bearer", "status": "approved"}), CarrierUnavailable, None),
])
@pytest.mark.anyio
async def test_a_refused_token_request_stops_the_call(answer: httpx.Response, raised: type[Exception],
                                                      reason: InterceptReason | None) -> None:
    async with ups(answer) as (carrier, _):
        with pytest.raises(raised) as caught:
            await carrier.intercept(return_request())

    assert type(caught.value) is raised
    assert getattr(caught.value, "reason", None) == reason


@pytest.mark.anyio
async def test_missing_credentials_are_refused_before_any_call() -> None:
    async with ups(credentials={"client_id": CLIENT_ID}) as (carrier, script):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(return_request())

    assert (caught.value.code, caught.value.reason, script.seen) == ("config", R.auth_failed, [])


@pytest.mark.anyio
async def test_neither_the_token_nor_the_secret_appears_in_any_exchange() -> None:
    async with ups(token_answer(), reply(200, SUCCESS), error(401, "250002", f"token {TOKEN} refused"),
                   token_answer(TOKEN_2), eligibility("NOT_ELIGIBLE", "ELIGIBLE")) as (carrier, _):
        await carrier.intercept(return_request())
        await carrier.query_intercept("ups", TN, "ASR1212")

    assert len(carrier.exchanges) == 5
    for exchange in carrier.exchanges:
        shown = " ".join([exchange.url, exchange.request_body, exchange.response_body, exchange.error])
        for secret in (TOKEN, TOKEN_2, SECRET, BASIC.split()[1]):
            assert secret not in shown
    assert carrier.exchanges[0].response_body.count('"access_token": "***"') == 1
    assert carrier.exchanges[1].request_body.startswith("Authorization: ***\ntransId: tx0001\n")


# ---- tracking numbers --------------------------------------------------------------------------------

@pytest.mark.parametrize("number", ["", "1Z12345", "2Z999AA10123456784", "1Z999AA1012345678!",
                                    "1Z999AA101234567845", "1Z 999AA1012345678"])
@pytest.mark.parametrize("operation", ["precheck", "intercept", "query_intercept", "cancel_intercept",
                                       "query_tracking", "will_call"])
@pytest.mark.anyio
async def test_a_bad_tracking_number_is_refused_before_any_call(number: str, operation: str) -> None:
    calls: dict[str, Callable[[UPS], Any]] = {
        "precheck": lambda c: c.precheck(return_request(number)),
        "intercept": lambda c: c.intercept(return_request(number)),
        "query_intercept": lambda c: c.query_intercept("ups", number, None),
        "cancel_intercept": lambda c: c.cancel_intercept("ups", number, None),
        "query_tracking": lambda c: c.query_tracking("ups", number),
        "will_call": lambda c: c.will_call(number),
    }
    async with ups() as (carrier, script):
        with pytest.raises(CarrierRejected) as caught:
            await calls[operation](carrier)

    assert (caught.value.code, caught.value.reason, script.seen) == ("710", R.not_supported, [])


@pytest.mark.anyio
async def test_a_lower_case_tracking_number_is_sent_upper_case() -> None:
    async with ups(token_answer(), reply(200, SUCCESS)) as (carrier, script):
        await carrier.intercept(return_request(TN.lower()))

    assert str(script.seen[1].url) == f"{BASE}/return/{TN}"


# ---- return to sender (/return, RS) ------------------------------------------------------------------

RETURN_BODY = ('{"requestType":"RS","specialInstructions":null,' + CONTACT + ',"reasonForReturn":"AM"}').encode()


def test_the_return_body_is_built_byte_for_byte() -> None:
    contact = wire.Contact("蓝界 客服*~", "+8613800138000")

    assert wire.return_body(contact, "buyer refund request") == RETURN_BODY


@pytest.mark.anyio
async def test_return_to_sender_posts_the_body_with_the_delivery_intercept_headers() -> None:
    async with ups(token_answer(), reply(200, SUCCESS)) as (carrier, script):
        await carrier.intercept(return_request())

    call = script.seen[1]
    assert (call.method, str(call.url)) == ("POST", f"{BASE}/return/{TN}")
    assert headers_of(call) == api_headers("tx0001")
    assert call.content == RETURN_BODY


@pytest.mark.parametrize("code", sorted(codes.RETURN_REASONS))
def test_a_reason_that_is_a_ups_code_is_sent_as_is(code: str) -> None:
    body = json.loads(wire.return_body(wire.Contact("a", "+1"), code.lower()))

    assert body["reasonForReturn"] == code


@pytest.mark.anyio
async def test_a_success_answer_is_accepted_with_the_transaction_id_as_task_id() -> None:
    async with ups(token_answer(), reply(200, SUCCESS)) as (carrier, _):
        ack = await carrier.intercept(return_request())

    assert ack == InterceptAck(accepted=True, task_id="ASR1212", message="Success")


def _refused(reason: InterceptReason, message: str) -> InterceptAck:
    return InterceptAck(accepted=False, reason=reason, message=message)


@pytest.mark.parametrize(("answer", "expected"), [
    (error(400, "720", "Tracking number not found"), _refused(R.not_supported, "Tracking number not found")),
    (error(400, "721", "not picked up"), _refused(R.not_picked_up, "not picked up")),
    (error(400, "722", "delivered"), _refused(R.already_delivered, "delivered")),
    (error(400, "723", "pending", transaction_id="U000000000042"),
     InterceptAck(True, "U000000000042", R.already_intercepted, "pending", duplicate=True)),
    (error(400, "724", "intercepted"), _refused(R.already_intercepted, "intercepted")),
    (error(400, "725", "not available"), _refused(R.not_supported, "not available")),
])
@pytest.mark.anyio
async def test_each_parcel_refusal_is_an_unaccepted_ack(answer: httpx.Response, expected: InterceptAck,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    async with ups(token_answer(), answer) as (carrier, _):
        ack = await carrier.intercept(return_request())

    assert ack == expected
    assert caplog.records == []


@pytest.mark.parametrize(("answer", "code", "reason"), [
    (error(400, "710"), "710", R.carrier_error),
    (error(400, "710", "newDeliveryAddress.addressInfo.postalCode: must match"), "710", R.bad_address),
    (error(403, "10403", "Blocked Merchant"), "10403", R.auth_failed),
    (error(429, "10429", "Too Many Requests"), "10429", R.rate_limited),
    (reply(429, b""), "429", R.rate_limited),
])
@pytest.mark.anyio
async def test_a_refused_request_raises_carrier_rejected(answer: httpx.Response, code: str,
                                                         reason: InterceptReason) -> None:
    async with ups(token_answer(), answer) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(return_request())

    assert (caught.value.code, caught.value.reason) == (code, reason)


@pytest.mark.parametrize("answer", [reply(200, SYSTEM_ERROR), httpx.Response(500, content=b"oops"),
                                    httpx.Response(502, content=b"<html>bad gateway</html>")])
@pytest.mark.anyio
async def test_a_system_error_is_carrier_unavailable(answer: httpx.Response) -> None:
    async with ups(token_answer(), answer) as (carrier, _):
        with pytest.raises(CarrierUnavailable) as caught:
            await carrier.intercept(return_request())

    assert type(caught.value) is CarrierUnavailable


@pytest.mark.anyio
async def test_an_unknown_code_is_refused_as_carrier_error_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async with ups(token_answer(), error(400, "799", "something new")) as (carrier, _):
        ack = await carrier.intercept(return_request())

    assert ack == _refused(R.carrier_error, "something new")
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("lanjie.carriers.ups.codes", logging.WARNING, "ups intercept answered HTTP 400 with an unknown code '799': "
                                                       "something new")]


@pytest.mark.parametrize(("failure", "raised"), [
    (httpx.ConnectError("refused"), CarrierUnavailable),
    (httpx.ReadTimeout("slow"), CarrierTimeout),
])
@pytest.mark.anyio
async def test_transport_failures_are_classified(failure: Exception, raised: type[Exception]) -> None:
    async with ups(token_answer(), failure) as (carrier, _):
        with pytest.raises(raised) as caught:
            await carrier.intercept(return_request())

    assert type(caught.value) is raised


@pytest.mark.anyio
async def test_return_to_outlet_is_not_a_ups_option_and_makes_no_call() -> None:
    request = InterceptRequest("ic_1", "ups", TN, InterceptType.return_to_outlet, "")
    async with ups() as (carrier, script):
        ack = await carrier.intercept(request)

    assert ack == _refused(R.not_supported, "UPS offers no return_to_outlet")
    assert script.seen == []


# ---- redirect (/redirect/address, AA) -----------------------------------------------------------------

REDIRECT_BODY = ('{"requestType":"AA","specialInstructions":null,' + CONTACT + ',"newDeliveryAddress":'
                 + NEW_ADDRESS + '}').encode()


@pytest.mark.anyio
async def test_redirect_posts_the_new_us_address_byte_for_byte() -> None:
    request = InterceptRequest("ic_2", "ups", TN, InterceptType.redirect, "", address=US_ADDRESS)
    async with ups(token_answer(), reply(200, SUCCESS)) as (carrier, script):
        ack = await carrier.intercept(request)

    call = script.seen[1]
    assert (call.method, str(call.url), headers_of(call)) == ("POST", f"{BASE}/redirect/address/{TN}",
                                                              api_headers("tx0001"))
    assert call.content == REDIRECT_BODY
    assert ack == InterceptAck(accepted=True, task_id="ASR1212", message="Success")


@pytest.mark.parametrize(("text", "info"), [
    ("1 Main St, San Juan, PR 00901", {"addressLine1": "1 Main St", "city": "San Juan", "state": "PR",
                                        "postalCode": "00901", "countryCode": "PR"}),
    ("1 Main St , Baltimore , MD 21230-3410 , USA", {"addressLine1": "1 Main St", "city": "Baltimore",
                                                      "state": "MD", "postalCode": "21230-3410",
                                                      "countryCode": "US"}),
])
def test_us_and_puerto_rico_addresses_are_read_from_one_line(text: str, info: dict[str, str]) -> None:
    entry = wire.address_info(Address("Li", "", text))

    assert entry == {"addressNickName": "lanjie redirect", "addressInfo": info, "nameOrCompanyName": "Li",
                     "contactName": "Li"}


@pytest.mark.parametrize("address", [
    None, Address("李四", "13800138000", ""), Address("李四", "13800138000", "浙江省杭州市西湖区文三路 1 号"),
    Address("Li", "", "1 Main St, Baltimore, Maryland 21230"), Address("Li", "", "1 Main St, Baltimore, MD"),
    Address("Li", "", "x" * 51 + ", Baltimore, MD 21230"),
])
@pytest.mark.anyio
async def test_a_redirect_without_a_us_address_is_bad_address_before_any_call(address: Address | None) -> None:
    request = InterceptRequest("ic_2", "ups", TN, InterceptType.redirect, "", address=address)
    async with ups() as (carrier, script):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(request)

    assert (caught.value.code, caught.value.reason, script.seen) == ("710", R.bad_address, [])


# ---- will call (/willcall, WC) -------------------------------------------------------------------------

@pytest.mark.anyio
async def test_will_call_posts_a_wc_request_with_the_special_instructions() -> None:
    async with ups(token_answer(), reply(200, SUCCESS)) as (carrier, script):
        ack = await carrier.will_call(TN, special_instructions="请留 * 在前台 ~ 谢谢")

    call = script.seen[1]
    assert (call.method, str(call.url), headers_of(call)) == ("POST", f"{BASE}/willcall/{TN}",
                                                              api_headers("tx0001"))
    assert call.content == ('{"requestType":"WC","specialInstructions":"请留 * 在前台 ~ 谢谢",' + CONTACT
                            + '}').encode()
    assert ack == InterceptAck(accepted=True, task_id="ASR1212", message="Success")


@pytest.mark.anyio
async def test_will_call_refusals_read_like_any_intercept() -> None:
    async with ups(token_answer(), error(400, "722", "delivered")) as (carrier, _):
        ack = await carrier.will_call(TN)

    assert ack == _refused(R.already_delivered, "delivered")


# ---- cancel (/cancel) -------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_cancel_posts_the_requester_and_answers_cancel_ack() -> None:
    async with ups(token_answer(), reply(200, SUCCESS)) as (carrier, script):
        ack = await carrier.cancel_intercept("ups", TN, "ASR1212")

    call = script.seen[1]
    assert (call.method, str(call.url), headers_of(call)) == ("POST", f"{BASE}/cancel/{TN}", api_headers("tx0001"))
    assert call.content == ('{"specialInstructions":null,' + CONTACT + '}').encode()
    assert ack == CancelAck(accepted=True, message="Success")


@pytest.mark.parametrize("code", sorted(codes.CANCEL_REFUSALS))
@pytest.mark.anyio
async def test_a_cancel_ups_refuses_is_an_unaccepted_cancel_ack(code: str) -> None:
    async with ups(token_answer(), error(400, code, "no")) as (carrier, _):
        ack = await carrier.cancel_intercept("ups", TN, None)

    assert ack == CancelAck(accepted=False, message="no")


@pytest.mark.parametrize(("answer", "raised", "reason"), [
    (error(400, "710"), CarrierRejected, R.carrier_error),
    (error(429, "10429"), CarrierRejected, R.rate_limited),
    (reply(200, SYSTEM_ERROR), CarrierUnavailable, None),
])
@pytest.mark.anyio
async def test_a_refused_cancel_request_raises(answer: httpx.Response, raised: type[Exception],
                                              reason: InterceptReason | None) -> None:
    async with ups(token_answer(), answer) as (carrier, _):
        with pytest.raises(raised) as caught:
            await carrier.cancel_intercept("ups", TN, None)

    assert getattr(caught.value, "reason", None) == reason


@pytest.mark.anyio
async def test_an_unknown_cancel_code_is_an_unaccepted_cancel_ack_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async with ups(token_answer(), error(400, "798", "hm")) as (carrier, _):
        ack = await carrier.cancel_intercept("ups", TN, None)

    assert ack == CancelAck(accepted=False, message="hm")
    assert [r.getMessage() for r in caplog.records] == [
        "ups cancel_intercept answered HTTP 400 with an unknown code '798': hm"]


# ---- precheck (/eligibility + /charges) -------------------------------------------------------------------

@pytest.mark.anyio
async def test_precheck_asks_eligibility_then_the_charge_of_the_option() -> None:
    async with ups(token_answer(), eligibility(), reply(200, CHARGES)) as (carrier, script):
        check = await carrier.precheck(return_request())

    eligible, charges = script.seen[1], script.seen[2]
    assert (eligible.method, str(eligible.url), headers_of(eligible), eligible.content) == (
        "GET", f"{BASE}/eligibility/intercept/{TN}", api_headers("tx0001"), b"")
    assert (charges.method, str(charges.url), headers_of(charges)) == ("POST", f"{BASE}/charges/{TN}",
                                                                       api_headers("tx0002"))
    assert charges.content == b'{"ratingRequest":[{"trackInfo":{"interceptOption":"RS"}}]}'
    assert check == Precheck(eligible=True, fee_minor=4000, currency="USD", payer=Payer.sender, fee_when=FEE_WHEN,
                             types=frozenset({InterceptType.return_to_sender, InterceptType.redirect}))


@pytest.mark.anyio
async def test_a_redirect_precheck_quotes_aa_with_the_redirect_address() -> None:
    request = InterceptRequest("ic_2", "ups", TN, InterceptType.redirect, "", address=US_ADDRESS)
    async with ups(token_answer(), eligibility(), reply(200, CHARGES)) as (carrier, script):
        await carrier.precheck(request)

    assert script.seen[2].content == ('{"ratingRequest":[{"redirectAddress":' + NEW_ADDRESS
                                      + ',"trackInfo":{"interceptOption":"AA"}}]}').encode()


@pytest.mark.anyio
async def test_a_redirect_precheck_to_an_address_ups_cannot_take_is_bad_address_without_a_quote() -> None:
    address = Address("李四", "13800138000", "浙江省杭州市西湖区文三路 1 号")
    request = InterceptRequest("ic_2", "ups", TN, InterceptType.redirect, "", address=address)
    async with ups(token_answer(), eligibility()) as (carrier, _):
        check = await carrier.precheck(request)

    assert (check.eligible, check.reason, check.fee_minor) == (False, R.bad_address, None)
    assert check.message == "a UPS redirect needs a US address written 'street, city, ST 12345'"


@pytest.mark.parametrize(("create", "change", "eligible", "reason", "message"), [
    ("NOT_ELIGIBLE", "NOT_ELIGIBLE", False, R.not_supported, "NOT_ELIGIBLE"),
    ("NOT_ELIGIBLE", "ELIGIBLE", False, R.already_intercepted, "NOT_ELIGIBLE"),
    ("UNKNOWN", "UNKNOWN", None, None, "UPS does not know this package's eligibility yet"),
])
@pytest.mark.anyio
async def test_an_ineligible_parcel_is_answered_without_a_charges_call(
        create: str, change: str, eligible: bool | None, reason: InterceptReason | None, message: str) -> None:
    async with ups(token_answer(), eligibility(create, change)) as (carrier, _):
        check = await carrier.precheck(return_request())

    assert check == Precheck(eligible=eligible, reason=reason, currency="USD", payer=Payer.sender,
                             fee_when=FEE_WHEN, message=message, types=frozenset())


@pytest.mark.anyio
async def test_a_precheck_for_return_to_outlet_is_not_supported() -> None:
    request = InterceptRequest("ic_1", "ups", TN, InterceptType.return_to_outlet, "")
    async with ups(token_answer(), eligibility()) as (carrier, _):
        check = await carrier.precheck(request)

    assert (check.eligible, check.reason, check.fee_minor) == (False, R.not_supported, None)
    assert check.types == frozenset({InterceptType.return_to_sender, InterceptType.redirect})


@pytest.mark.parametrize(("answer", "raised"), [(error(400, "710"), CarrierRejected),
                                                (reply(200, {"response": SYSTEM_ERROR}), CarrierUnavailable),
                                                (reply(200, {"response": {**SUCCESS, "statusCode": "000"}}),
                                                 CarrierUnavailable)])
@pytest.mark.anyio
async def test_an_eligibility_error_or_malformed_answer_raises(answer: httpx.Response, raised: type[Exception]) -> None:
    async with ups(token_answer(), answer) as (carrier, _):
        with pytest.raises(raised):
            await carrier.precheck(return_request())


def test_an_all_options_quote_prices_each_option_in_its_detail() -> None:
    info = {"trackingNumber": TN, "totalCharge": "0.00", "chargeCurrency": "USD", "interceptChargeDetail": [
        {"totalCharge": "21.00", "interceptOption": "AA", "currencyCode": "USD", "successful": True},
        {"totalCharge": "16.40", "interceptOption": "RS", "currencyCode": "USD", "successful": True}]}
    answer = wire.answer(200, {"response": {**SUCCESS, "chargeInfo": [info]}})

    assert wire.charge(answer, TN, "RS") == (1640, "USD")


@pytest.mark.parametrize(("amount", "cents"), [("21.00", 2100), ("0.00", 0), ("16.40", 1640), ("5", 500),
                                               ("40.005", 4001), (" 1.10 ", 110)])
def test_amounts_become_exact_minor_units(amount: str, cents: int) -> None:
    assert wire.minor_units(amount) == cents


@pytest.mark.parametrize("amount", ["", "abc", "-1.00", "NaN", "Infinity"])
def test_a_bad_amount_is_a_payload_error(amount: str) -> None:
    with pytest.raises(wire.PayloadError):
        wire.minor_units(amount)


# ---- Track API and query_intercept ---------------------------------------------------------------------------

def _activity(at_local: str, type_: str, code: str, description: str, city: str = "BALDWIN") -> dict[str, Any]:
    date, time = at_local.split()
    return {"date": date, "time": time, "gmtOffset": "-04:00",
            "location": {"address": {"city": city, "stateProvince": "MD", "countryCode": "US"}},
            "status": {"type": type_, "code": code, "description": description, "statusCode": "005"}}


def track_answer(*activities: dict[str, Any]) -> httpx.Response:
    package = {"trackingNumber": TN, "activity": list(activities)}
    return reply(200, {"trackResponse": {"shipment": [{"inquiryNumber": TN, "package": [package]}]}})


IN_TRANSIT = _activity("20240601 071356", "I", "DP", "Departed from Facility")
PICKED_UP = _activity("20240531 180000", "P", "PU", "Pickup Scan")


@pytest.mark.anyio
async def test_tracking_gets_the_details_with_track_headers_and_reads_activities_newest_first() -> None:
    async with ups(token_answer(), track_answer(PICKED_UP, IN_TRANSIT)) as (carrier, script):
        snapshot = await carrier.query_tracking("ups", TN)

    call = script.seen[1]
    assert (call.method, str(call.url), call.content) == ("GET", f"{API}/api/track/v1/details/{TN}", b"")
    assert headers_of(call) == {"authorization": f"Bearer {TOKEN}", "transid": "tx0001",
                                "transactionsrc": "lanjie", "accept": "application/json"}
    assert snapshot == TrackingSnapshot("ups", TN, S.in_transit, (
        TrackingEvent(datetime(2024, 6, 1, 11, 13, 56, tzinfo=UTC), S.in_transit, "I/DP", "Departed from Facility",
                      "BALDWIN, MD, US"),
        TrackingEvent(datetime(2024, 5, 31, 22, 0, tzinfo=UTC), S.picked_up, "P/PU", "Pickup Scan",
                      "BALDWIN, MD, US"),
    ))


def test_gmt_date_and_time_win_over_the_local_ones() -> None:
    activity = {**IN_TRANSIT, "gmtDate": "20240601", "gmtTime": "74700"}

    assert track.activity_time(activity) == datetime(2024, 6, 1, 7, 47, tzinfo=UTC)


@pytest.mark.parametrize("answer", [error(404, "151044", "No tracking information available"),
                                    reply(200, {"trackResponse": {"shipment": [{"inquiryNumber": TN}]}})])
@pytest.mark.anyio
async def test_a_number_ups_knows_nothing_of_is_a_trace_without_events(answer: httpx.Response) -> None:
    async with ups(token_answer(), answer) as (carrier, _):
        snapshot = await carrier.query_tracking("ups", TN)

    assert snapshot == TrackingSnapshot("ups", TN, S.created, ())


@pytest.mark.parametrize(("answer", "raised"), [
    (error(400, "710", "transId: required"), CarrierRejected),
    (reply(200, {"trackResponse": {"shipment": [{"package": [{"activity": [{"status": {}}]}]}]}}),
     CarrierUnavailable),
    (reply(200, {"unexpected": True}), CarrierUnavailable),
])
@pytest.mark.anyio
async def test_a_tracking_error_or_malformed_answer_raises(answer: httpx.Response, raised: type[Exception]) -> None:
    async with ups(token_answer(), answer) as (carrier, _):
        with pytest.raises(raised):
            await carrier.query_tracking("ups", TN)


DELIVERED = _activity("20240602 100000", "D", "KB", "Delivered")
CAUGHT = _activity("20240602 090000", "I", "IR", "Delivery intercept: returning to the shipper")
REDIRECTED = _activity("20240602 090000", "I", "RD", "Delivery intercept: on the way to the new address")
HELD = _activity("20240602 090000", "I", "WC", "Delivery intercept: held at a UPS facility")
LOST = _activity("20240602 090000", "X", "LO", "No recent activity")


@pytest.mark.parametrize(("activities", "task_id", "expected"), [
    ((CAUGHT, IN_TRANSIT), "T1", InterceptState(InterceptOutcome.succeeded, "T1")),
    ((DELIVERED, REDIRECTED, IN_TRANSIT), "T1", InterceptState(InterceptOutcome.succeeded, "T1")),
    ((DELIVERED, HELD), "T1", InterceptState(InterceptOutcome.succeeded, "T1")),
    ((DELIVERED, IN_TRANSIT), "T1", InterceptState(InterceptOutcome.failed, "T1", R.missed)),
    ((DELIVERED, IN_TRANSIT), None, InterceptState(InterceptOutcome.failed, None, R.already_delivered)),
    ((LOST, IN_TRANSIT), "T1", InterceptState(InterceptOutcome.failed, "T1", R.carrier_error, "the parcel is lost")),
    ((IN_TRANSIT,), "T1", InterceptState(InterceptOutcome.not_found, "T1")),
])
@pytest.mark.anyio
async def test_without_a_pending_request_the_trace_judges_the_intercept(
        activities: tuple[dict[str, Any], ...], task_id: str | None, expected: InterceptState) -> None:
    async with ups(token_answer(), eligibility("ELIGIBLE"), track_answer(*activities)) as (carrier, script):
        state = await carrier.query_intercept("ups", TN, task_id)

    assert state == expected
    assert [str(r.url) for r in script.seen[1:]] == [f"{BASE}/eligibility/intercept/{TN}",
                                                     f"{API}/api/track/v1/details/{TN}"]


@pytest.mark.anyio
async def test_a_request_ups_would_let_us_cancel_is_pending_without_tracking() -> None:
    async with ups(token_answer(), eligibility("NOT_ELIGIBLE", "ELIGIBLE")) as (carrier, _):
        state = await carrier.query_intercept("ups", TN, "T1")

    assert state == InterceptState(InterceptOutcome.pending, "T1")


@pytest.mark.parametrize("create", ["NOT_ELIGIBLE", "UNKNOWN"])
@pytest.mark.anyio
async def test_nothing_telling_in_eligibility_or_trace_is_indeterminate(create: str) -> None:
    async with ups(token_answer(), eligibility(create, create), track_answer(IN_TRANSIT)) as (carrier, _):
        state = await carrier.query_intercept("ups", TN, "T1")

    assert state == InterceptState(InterceptOutcome.indeterminate, "T1")


# ---- code tables -------------------------------------------------------------------------------------------

TYPES = {"M": S.created, "P": S.picked_up, "I": S.in_transit, "O": S.out_for_delivery, "D": S.delivered,
         "X": S.exception, "RS": S.returned}
CODES = {"MP": S.created, "PU": S.picked_up, "DP": S.in_transit, "AR": S.in_transit, "AD": S.at_destination,
         "OT": S.out_for_delivery, "KB": S.delivered, "IR": S.returning, "RT": S.returning, "RS": S.returned,
         "RD": S.in_transit, "WC": S.at_destination, "DM": S.damaged, "LO": S.lost}


def test_the_tracking_tables_hold_exactly_the_chosen_values() -> None:
    assert (dict(codes.TRACKING_TYPES), dict(codes.TRACKING_CODES)) == (TYPES, CODES)


@pytest.mark.parametrize(("type_", "status"), sorted(TYPES.items()))
def test_each_activity_type_has_its_status(type_: str, status: TrackingStatus,
                                           caplog: pytest.LogCaptureFixture) -> None:
    assert codes.tracking_status(type_, "") is status
    assert caplog.records == []


@pytest.mark.parametrize(("code", "status"), sorted(CODES.items()))
def test_each_activity_code_has_its_status_whatever_the_type(code: str, status: TrackingStatus,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    assert codes.tracking_status("I", code) is status
    assert caplog.records == []


def test_an_unknown_activity_is_in_transit_and_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    assert [codes.tracking_status("Q", "ZZ"), codes.tracking_status("Q", "ZZ")] == [S.in_transit, S.in_transit]

    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("lanjie.carriers.ups.codes", logging.WARNING,
         "ups tracking status type 'Q' code 'ZZ' is unknown; treated as in_transit")]


ANSWERS = {
    "710": (False, R.carrier_error, False, True, False),
    "605": (False, R.auth_failed, False, True, False),
    "250002": (False, R.auth_failed, False, True, False),
    "500": (False, None, False, False, True),
    "720": (False, R.not_supported, False, False, False),
    "721": (False, R.not_picked_up, False, False, False),
    "722": (False, R.already_delivered, False, False, False),
    "723": (True, R.already_intercepted, True, False, False),
    "724": (False, R.already_intercepted, False, False, False),
    "725": (False, R.not_supported, False, False, False),
}


@pytest.mark.parametrize(("code", "expected"), sorted(ANSWERS.items()))
def test_each_answer_code_has_its_rule(code: str, expected: tuple[Any, ...]) -> None:
    rule = codes.answer_rule("return", 400, code, "x")

    assert (rule.accepted, rule.reason, rule.duplicate, rule.rejects, rule.unavailable) == expected
    assert set(codes.ERROR_CODES) == set(ANSWERS)


@pytest.mark.parametrize(("status", "reason"), [(401, R.auth_failed), (403, R.auth_failed), (429, R.rate_limited)])
def test_these_http_statuses_decide_whatever_the_code(status: int, reason: InterceptReason) -> None:
    rule = codes.answer_rule("return", status, "723", "x")

    assert (rule.accepted, rule.reason, rule.rejects) == (False, reason, True)
    assert set(codes.HTTP_RULES) == {401, 403, 429}


@pytest.mark.parametrize(("value", "meaning"), [("ELIGIBLE", True), ("NOT_ELIGIBLE", False), ("UNKNOWN", None)])
def test_each_eligibility_value_has_its_meaning(value: str, meaning: bool | None,
                                                caplog: pytest.LogCaptureFixture) -> None:
    assert codes.eligibility_value("RTS", value) is meaning
    assert caplog.records == []


def test_an_unknown_eligibility_value_is_unknown_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    assert codes.eligibility_value("RTS", "MAYBE") is None
    assert [r.getMessage() for r in caplog.records] == [
        "ups eligibility of RTS has an unknown value 'MAYBE'; treated as UNKNOWN"]


def test_the_other_tables_hold_the_documented_codes() -> None:
    assert sorted(codes.RETURN_REASONS) == ["AM", "AN", "AQ", "AR", "AS", "FA", "KR", "KS", "KV"]
    assert dict(codes.REQUEST_TYPES) == {InterceptType.return_to_sender: "RS", InterceptType.redirect: "AA"}
    assert dict(codes.ELIGIBILITY_FEATURES) == {InterceptType.return_to_sender: ("RTS",),
                                                InterceptType.redirect: ("AA", "RTS")}
    assert sorted(codes.CANCEL_REFUSALS) == ["726", "727"]


# ---- what UPS does not offer ----------------------------------------------------------------------------------

def test_the_plugin_describes_itself() -> None:
    assert (UPS.name, UPS.title, UPS.couriers, UPS.intercept_via) == (
        "ups", "UPS Delivery Intercept", frozenset({"ups"}), None)
    assert UPS.capabilities == frozenset({Capability.precheck, Capability.intercept, Capability.query_intercept,
                                          Capability.cancel_intercept, Capability.query_tracking,
                                          Capability.file_claim, Capability.claim_status})
    assert UPS.intercept_types == frozenset({InterceptType.return_to_sender, InterceptType.redirect})
    assert (UPS.credential_names, UPS.endpoint_names, UPS.rate_limit_per_second) == (
        ("client_id", "client_secret", "account_number"), ("api",), 5.0)


@pytest.mark.anyio
async def test_subscribing_and_pushes_are_not_supported() -> None:
    async with ups() as (carrier, script):
        with pytest.raises(NotSupported):
            await carrier.subscribe(Subscription("ups", TN, "https://lanjie.example/cb"))
        with pytest.raises(NotSupported):
            carrier.parse_push(b"{}", "application/json", {})

    assert script.seen == []
    assert UPS.reject_ack() == (b'{"response":{"errors":[{"code":"400","message":"no pushes expected"}]}}',
                                "application/json")


@pytest.mark.anyio
async def test_the_default_endpoint_is_ups_production() -> None:
    account = CarrierAccount("ups", CREDENTIALS, {})
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return token_answer() if request.url.path.endswith("/token") else reply(200, SUCCESS)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        await UPS(account, client, token_cache=TokenCache()).intercept(return_request())

    assert seen == ["https://onlinetools.ups.com/security/v1/oauth/token",
                    f"https://onlinetools.ups.com/api/deliveryintercept/v2/return/{TN}"]
