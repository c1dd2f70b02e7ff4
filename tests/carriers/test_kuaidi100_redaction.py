"""What lanjie keeps of each exchange with Kuaidi100 carries no credential, signature or full phone number."""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest

from lanjie.carriers import redact
from lanjie.carriers.base import Address, Exchange, InterceptRequest, Subscription
from lanjie.carriers.errors import CarrierError
from lanjie.domain.states import InterceptType

from .kuaidi100_support import (
    API,
    CALLBACK,
    CUSTOMER,
    KEY,
    SALT,
    SECRET,
    WAYBILL,
    answer,
    kuaidi100,
    recording,
)

BUYER_PHONE = "13800138000"
COURIER_PHONE = "13912345678"  # appears in the recorded trace's context
REDIRECT = InterceptRequest("ic_2", "zto", WAYBILL, InterceptType.redirect, CALLBACK,
                            address=Address("李四", BUYER_PHONE, "浙江省杭州市西湖区文三路 1 号"))


def _texts(exchange: Exchange) -> list[str]:
    return [str(value) for value in dataclasses.asdict(exchange).values()]


@pytest.mark.anyio
async def test_no_secret_or_full_phone_survives_in_any_exchange() -> None:
    echo = json.dumps({"code": 403, "message": f"bad key {KEY} for customer {CUSTOMER}"}).encode()
    async with kuaidi100(
        answer(recording("intercept/200.json")),
        answer(echo),
        answer(recording("subscribe/200.json")),
        answer(recording("query/delivered.json")),
        httpx.ReadTimeout(f"timed out talking with sign={SECRET}"),
        answer(f"<html>{SALT}</html>".encode(), status_code=502, content_type="text/html"),
    ) as (carrier, script):
        await carrier.intercept(REDIRECT)
        with pytest.raises(CarrierError):  # the 403 echoing the key back
            await carrier.intercept(REDIRECT)
        await carrier.subscribe(Subscription("zto", WAYBILL, CALLBACK, phone_tail=BUYER_PHONE))
        await carrier.query_tracking("zto", WAYBILL, phone_tail=BUYER_PHONE)
        for _ in range(2):
            with pytest.raises(CarrierError):
                await carrier.query_tracking("zto", WAYBILL)

    assert len(script.seen) == len(carrier.exchanges) == 6
    for exchange in carrier.exchanges:
        for text in _texts(exchange):
            for secret in (KEY, CUSTOMER, SECRET, SALT, BUYER_PHONE, COURIER_PHONE):
                assert secret not in text, (exchange.operation, secret)
    assert [e.status_code for e in carrier.exchanges] == [200, 200, 200, 200, None, 502]
    # The requests themselves did carry the credentials: only the record is redacted.
    assert all(KEY.encode() in r.content or CUSTOMER.encode() in r.content for r in script.seen)


@pytest.mark.anyio
async def test_the_kept_intercept_request_is_readable_json_with_masks() -> None:
    async with kuaidi100(answer(recording("intercept/200.json"))) as (carrier, _):
        await carrier.intercept(REDIRECT)

    [exchange] = carrier.exchanges
    assert json.loads(exchange.request_body) == {
        "method": "interceptOrder",
        "key": "***",
        "t": "1717228800123",
        "param": {
            "kuaidicom": "zhongtong", "kuaidinum": WAYBILL, "interceptType": "MODIFY_ADDR", "reason": "",
            "orderId": "",
            "recManInfo": {"name": "李四", "mobile": "***8000", "printAddr": "浙江省杭州市西湖区文三路 1 号"},
            "salt": "***", "callbackUrl": CALLBACK,
        },
        "sign": "***",
    }
    assert json.loads(exchange.response_body) == {
        "code": 200, "message": "success", "time": 1717228800456, "data": {"taskId": "T20240601001"}}
    assert (exchange.url, exchange.duration_ms >= 0) == (f"{API}/label/order", True)


def test_a_courier_phone_in_free_text_keeps_only_its_last_four_digits() -> None:
    assert redact.redact_text("派件员: 王师傅 电话: 13912345678，单号 789123456789012", []) == (
        "派件员: 王师傅 电话: ***5678，单号 789123456789012")


def test_a_long_non_json_body_is_cut() -> None:
    text = redact.redact_text("x" * (redact.MAX_BODY_CHARS + 10), [])

    assert text == "x" * redact.MAX_BODY_CHARS + "…[truncated]"
