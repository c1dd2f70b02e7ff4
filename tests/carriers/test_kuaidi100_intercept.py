"""Kuaidi100 ``interceptOrder``: the signed form, the call, the answer and every error code."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
import pytest

from lanjie.carriers.base import Address, CarrierAccount, InterceptAck, InterceptRequest
from lanjie.carriers.errors import CarrierRejected, CarrierTimeout, CarrierUnavailable, NotSupported
from lanjie.carriers.kuaidi100 import wire
from lanjie.domain.states import InterceptReason, InterceptType

from .kuaidi100_support import (
    ACCOUNT,
    API,
    CALLBACK,
    KEY,
    SALT,
    SECRET,
    WAYBILL,
    answer,
    form_of,
    kuaidi100,
    recording,
)

REQUEST = InterceptRequest(
    request_id="ic_1",
    carrier_code="zto",
    waybill_no=WAYBILL,
    intercept_type=InterceptType.return_to_sender,
    callback_url=CALLBACK,
    order_id="DY-1001",
    reason="仅退款拦截",
)
# Written out by hand from the recipe: the field order, compact separators and raw UTF-8 are the contract.
PARAM = ('{"kuaidicom":"zhongtong","kuaidinum":"78912345678901","interceptType":"RETURN_SEND_ADDR",'
         '"reason":"仅退款拦截","orderId":"DY-1001","salt":"sa1tForPushes2024xyz",'
         '"callbackUrl":"https://lanjie.example/cb/k100/tok123"}')
T = "1717228800123"
# Known answer, computed outside Python: printf '%s' "$PARAM$T$KEY$SECRET" | md5sum | tr a-f A-F
KNOWN_SIGN = "3602E231EC0A1B3A3D88F3AA899C15B9"


def test_intercept_form_is_signed_over_the_exact_param_it_sends() -> None:
    form = wire.intercept_form(REQUEST, key=KEY, secret=SECRET, salt=SALT, t=T)

    independent = hashlib.md5((PARAM + T + KEY + SECRET).encode("utf-8")).hexdigest().upper()
    assert independent == KNOWN_SIGN
    assert form == {"method": "interceptOrder", "key": KEY, "t": T, "param": PARAM, "sign": KNOWN_SIGN}
    assert list(form) == ["method", "key", "t", "param", "sign"]
    assert wire.encode_form(form) == urlencode(
        [("method", "interceptOrder"), ("key", KEY), ("t", T), ("param", PARAM), ("sign", KNOWN_SIGN)]
    ).encode("ascii")


@pytest.mark.parametrize(("intercept_type", "wire_type"), [
    (InterceptType.return_to_sender, "RETURN_SEND_ADDR"),
    (InterceptType.return_to_outlet, "RETURN_SEND_STATION"),
])
def test_return_intercepts_name_their_kuaidi100_type(intercept_type: InterceptType, wire_type: str) -> None:
    request = InterceptRequest("ic_1", "zto", WAYBILL, intercept_type, CALLBACK)
    form = wire.intercept_form(request, key=KEY, secret=SECRET, salt=SALT, t=T)

    param = ('{"kuaidicom":"zhongtong","kuaidinum":"78912345678901","interceptType":"' + wire_type + '",'
             '"reason":"","orderId":"","salt":"sa1tForPushes2024xyz",'
             '"callbackUrl":"https://lanjie.example/cb/k100/tok123"}')
    assert form["param"] == param
    assert form["sign"] == hashlib.md5((param + T + KEY + SECRET).encode()).hexdigest().upper()


def test_redirect_sends_the_new_recipient_as_rec_man_info() -> None:
    request = InterceptRequest("ic_2", "zto", WAYBILL, InterceptType.redirect, CALLBACK,
                               address=Address("李四", "13800138000", "浙江省杭州市西湖区文三路 1 号"))
    form = wire.intercept_form(request, key=KEY, secret=SECRET, salt=SALT, t=T)

    param = ('{"kuaidicom":"zhongtong","kuaidinum":"78912345678901","interceptType":"MODIFY_ADDR","reason":"",'
             '"orderId":"","recManInfo":{"name":"李四","mobile":"13800138000",'
             '"printAddr":"浙江省杭州市西湖区文三路 1 号"},"salt":"sa1tForPushes2024xyz",'
             '"callbackUrl":"https://lanjie.example/cb/k100/tok123"}')
    assert form["param"] == param
    assert form["sign"] == hashlib.md5((param + T + KEY + SECRET).encode()).hexdigest().upper()


@pytest.mark.anyio
@pytest.mark.parametrize("address", [
    None,
    Address("李四", "", "文三路 1 号"),
    Address("李四", "13800138000", ""),
    Address("", "13800138000", "文三路 1 号"),
])
async def test_redirect_without_a_full_address_is_refused_before_any_call(address: Address | None) -> None:
    request = InterceptRequest("ic_2", "zto", WAYBILL, InterceptType.redirect, CALLBACK, address=address)
    async with kuaidi100() as (carrier, script):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(request)

    assert (caught.value.code, caught.value.reason) == ("400", InterceptReason.bad_address)
    assert script.seen == []
    assert carrier.exchanges == []


@pytest.mark.anyio
async def test_intercept_posts_one_signed_form_to_label_order() -> None:
    async with kuaidi100(answer(recording("intercept/200.json"))) as (carrier, script):
        await carrier.intercept(REQUEST)

    [request] = script.seen
    assert request.method == "POST"
    assert str(request.url) == f"{API}/label/order"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form_of(request) == {"method": ["interceptOrder"], "key": [KEY], "t": [T], "param": [PARAM],
                                "sign": [KNOWN_SIGN]}
    [exchange] = carrier.exchanges
    assert (exchange.operation, exchange.method, exchange.url, exchange.status_code, exchange.error) == (
        "intercept", "POST", f"{API}/label/order", 200, "")


@pytest.mark.anyio
async def test_t_is_taken_from_the_injected_clock_in_whole_milliseconds() -> None:
    late = datetime(2024, 6, 1, 8, 0, 0, 999999, tzinfo=UTC)
    async with kuaidi100(answer(recording("intercept/200.json")), clock=lambda: late) as (carrier, script):
        await carrier.intercept(REQUEST)

    assert form_of(script.seen[0])["t"] == ["1717228800999"]


def _refused(reason: InterceptReason, message: str) -> InterceptAck:
    return InterceptAck(accepted=False, reason=reason, message=message)


@pytest.mark.anyio
async def test_accepted_intercept_carries_the_task_id() -> None:
    async with kuaidi100(answer(recording("intercept/200.json"))) as (carrier, _):
        ack = await carrier.intercept(REQUEST)

    assert ack == InterceptAck(accepted=True, task_id="T20240601001", reason=None, message="success")


@pytest.mark.anyio
@pytest.mark.parametrize(("name", "expected"), [
    ("30004", InterceptAck(accepted=True, task_id="T20240601000", reason=InterceptReason.already_intercepted,
                           message="该单号已提交拦截", duplicate=True)),
    ("30001", _refused(InterceptReason.already_delivered, "快件已签收，无法拦截")),
    ("30002", _refused(InterceptReason.out_for_delivery, "快件派送中，无法拦截")),
    ("30003", _refused(InterceptReason.not_picked_up, "快件未揽收，请取消订单")),
    ("30005", _refused(InterceptReason.not_supported, "该快递公司不支持拦截")),
    # The earlier intercept is over (or another account's): a retry is refused, no task to wait for.
    ("30006", _refused(InterceptReason.already_intercepted, "该单号已拦截过，不可重复拦截")),
])
async def test_each_refusal_of_the_parcel_maps_to_its_ack(name: str, expected: InterceptAck,
                                                caplog: pytest.LogCaptureFixture) -> None:
    async with kuaidi100(answer(recording(f"intercept/{name}.json"))) as (carrier, script):
        ack = await carrier.intercept(REQUEST)

    assert ack == expected
    assert len(script.seen) == 1
    assert caplog.records == []


@pytest.mark.anyio
@pytest.mark.parametrize(("name", "code", "reason", "message"), [
    ("400", "400", InterceptReason.carrier_error, "参数错误: kuaidinum"),
    ("400_address", "400", InterceptReason.bad_address, "recManInfo不能为空"),
    ("403", "403", InterceptReason.auth_failed, "签名错误"),
    ("429", "429", InterceptReason.rate_limited, "请求过于频繁"),
])
async def test_a_refusal_of_the_request_itself_is_carrier_rejected(
        name: str, code: str, reason: InterceptReason, message: str,
        caplog: pytest.LogCaptureFixture) -> None:
    # Not the parcel but the request was refused: the service may retry (a rate limit) or fix the account.
    async with kuaidi100(answer(recording(f"intercept/{name}.json"))) as (carrier, script):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(REQUEST)

    assert (caught.value.code, caught.value.reason, caught.value.message) == (code, reason, message)
    assert len(script.seen) == len(carrier.exchanges) == 1
    assert caplog.records == []


@pytest.mark.anyio
async def test_an_unknown_code_is_a_logged_carrier_error(caplog: pytest.LogCaptureFixture) -> None:
    async with kuaidi100(answer(recording("intercept/unknown.json"))) as (carrier, _):
        ack = await carrier.intercept(REQUEST)

    assert ack == InterceptAck(accepted=False, reason=InterceptReason.carrier_error, message="未知错误")
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("lanjie.carriers.kuaidi100.codes", "WARNING",
         "kuaidi100 interceptOrder answered an unknown code 88888: 未知错误")]


@pytest.mark.anyio
async def test_a_json_error_body_is_read_even_with_an_http_4xx() -> None:
    async with kuaidi100(answer(recording("intercept/30001.json"), status_code=409)) as (carrier, _):
        ack = await carrier.intercept(REQUEST)

    assert ack == _refused(InterceptReason.already_delivered, "快件已签收，无法拦截")


@pytest.mark.anyio
async def test_an_http_429_with_the_rate_limit_code_is_carrier_rejected() -> None:
    async with kuaidi100(answer(recording("intercept/429.json"), status_code=429)) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(REQUEST)

    assert caught.value.reason == InterceptReason.rate_limited


@pytest.mark.anyio
async def test_a_read_timeout_is_carrier_timeout_with_the_exchange_kept() -> None:
    async with kuaidi100(httpx.ReadTimeout("timed out")) as (carrier, script):
        with pytest.raises(CarrierTimeout):
            await carrier.intercept(REQUEST)

    assert len(script.seen) == 1
    [exchange] = carrier.exchanges
    assert (exchange.status_code, exchange.response_body) == (None, "")
    assert exchange.error == "ReadTimeout: timed out"


@pytest.mark.anyio
async def test_a_connection_dropped_after_sending_is_carrier_timeout() -> None:
    async with kuaidi100(httpx.RemoteProtocolError("peer closed connection")) as (carrier, _):
        with pytest.raises(CarrierTimeout):
            await carrier.intercept(REQUEST)


@pytest.mark.anyio
@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"), httpx.ConnectTimeout("timed out")])
async def test_failing_to_connect_is_unavailable_not_unknown(failure: Exception) -> None:
    async with kuaidi100(failure) as (carrier, _):
        with pytest.raises(CarrierUnavailable) as caught:
            await carrier.intercept(REQUEST)

    assert type(caught.value) is CarrierUnavailable  # not CarrierTimeout: nothing was sent
    assert carrier.exchanges[0].error == f"{type(failure).__name__}: {failure}"


@pytest.mark.anyio
@pytest.mark.parametrize("status_code", [500, 502, 503, 504])
async def test_a_5xx_is_unavailable(status_code: int) -> None:
    async with kuaidi100(answer(recording("intercept/200.json"), status_code=status_code)) as (carrier, _):
        with pytest.raises(CarrierUnavailable) as caught:
            await carrier.intercept(REQUEST)

    assert type(caught.value) is CarrierUnavailable
    assert carrier.exchanges[0].status_code == status_code


@pytest.mark.anyio
@pytest.mark.parametrize("body", [b"<html>502 Bad Gateway</html>", b"", b"[200]"])
async def test_an_answer_that_is_not_a_json_object_is_unavailable(body: bytes) -> None:
    async with kuaidi100(answer(body, content_type="text/html")) as (carrier, _):
        with pytest.raises(CarrierUnavailable):
            await carrier.intercept(REQUEST)


@pytest.mark.anyio
@pytest.mark.parametrize("missing", ["key", "secret", "salt"])
async def test_intercept_without_a_credential_is_refused_before_any_call(missing: str) -> None:
    credentials = {**ACCOUNT.credentials, missing: ""}
    account = CarrierAccount("kuaidi100", credentials, ACCOUNT.endpoints)
    async with kuaidi100(account=account) as (carrier, script):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(REQUEST)

    assert (caught.value.code, caught.value.reason) == ("config", InterceptReason.auth_failed)
    assert missing in caught.value.message
    assert script.seen == []


@pytest.mark.anyio
@pytest.mark.parametrize("operation", ["cancel_intercept", "precheck"])
async def test_capabilities_kuaidi100_lacks_raise_not_supported(operation: str) -> None:
    async with kuaidi100() as (carrier, script):
        with pytest.raises(NotSupported):
            await getattr(carrier, operation)("zto", WAYBILL)

    assert script.seen == []
