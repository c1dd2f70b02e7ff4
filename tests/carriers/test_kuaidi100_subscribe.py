"""Kuaidi100 ``poll`` subscription: the form, the call, success and every ``returnCode``."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from lanjie.carriers.base import CarrierAccount, Subscription
from lanjie.carriers.errors import CarrierRejected, CarrierTimeout, CarrierUnavailable
from lanjie.carriers.kuaidi100 import wire
from lanjie.domain.states import InterceptReason

from .kuaidi100_support import (
    ACCOUNT,
    CALLBACK,
    KEY,
    POLL,
    SALT,
    WAYBILL,
    answer,
    form_of,
    kuaidi100,
    recording,
)

SUBSCRIPTION = Subscription(carrier_code="zto", waybill_no=WAYBILL, callback_url=CALLBACK)
PARAM = ('{"company":"zhongtong","number":"78912345678901","key":"K3yAbCdEf0123456","parameters":'
         '{"callbackurl":"https://lanjie.example/cb/k100/tok123","salt":"sa1tForPushes2024xyz","resultv2":"4"}}')


def test_subscribe_form_is_the_documented_json_param() -> None:
    form = wire.subscribe_form(SUBSCRIPTION, key=KEY, salt=SALT)

    assert form == {"schema": "json", "param": PARAM}
    assert wire.encode_form(form) == urlencode([("schema", "json"), ("param", PARAM)]).encode("ascii")


@pytest.mark.parametrize("phone", ["8000", "138-0013-8000", "+86 13800138000"])
def test_subscribe_sends_only_the_last_four_digits_of_a_phone(phone: str) -> None:
    subscription = Subscription("sf", "SF1234567890123", CALLBACK, phone_tail=phone)
    form = wire.subscribe_form(subscription, key=KEY, salt=SALT)

    assert form["param"] == (
        '{"company":"shunfeng","number":"SF1234567890123","key":"K3yAbCdEf0123456","parameters":'
        '{"callbackurl":"https://lanjie.example/cb/k100/tok123","salt":"sa1tForPushes2024xyz","resultv2":"4",'
        '"phone":"8000"}}')


@pytest.mark.anyio
async def test_subscribe_posts_one_form_to_poll() -> None:
    async with kuaidi100(answer(recording("subscribe/200.json"))) as (carrier, script):
        await carrier.subscribe(SUBSCRIPTION)

    [request] = script.seen
    assert (request.method, str(request.url)) == ("POST", f"{POLL}/poll")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form_of(request) == {"schema": ["json"], "param": [PARAM]}
    assert [(e.operation, e.status_code) for e in carrier.exchanges] == [("subscribe", 200)]


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["200", "501"])
async def test_a_new_or_duplicate_subscription_both_succeed(
        name: str, caplog: pytest.LogCaptureFixture) -> None:
    async with kuaidi100(answer(recording(f"subscribe/{name}.json"))) as (carrier, script):
        await carrier.subscribe(SUBSCRIPTION)

    assert len(script.seen) == 1
    assert caplog.records == []


@pytest.mark.anyio
@pytest.mark.parametrize(("name", "reason", "message"), [
    ("600", InterceptReason.auth_failed, "您不是合法的订阅者（即授权Key出错）"),
    ("601", InterceptReason.auth_failed, "POLL:KEY已过期"),
    ("700", InterceptReason.carrier_error,
     "订阅方的订阅数据存在错误（如不支持的快递公司、单号为空、单号超长等）或错误的回调地址"),
    ("701", InterceptReason.carrier_error, "拒绝订阅的快递公司"),
    ("702", InterceptReason.carrier_error, "POLL:识别不到该单号对应的快递公司"),
])
async def test_each_refusal_code_is_carrier_rejected_with_its_reason(
        name: str, reason: InterceptReason, message: str, caplog: pytest.LogCaptureFixture) -> None:
    async with kuaidi100(answer(recording(f"subscribe/{name}.json"))) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(SUBSCRIPTION)

    assert (caught.value.code, caught.value.message, caught.value.reason) == (name, message, reason)
    assert caplog.records == []


@pytest.mark.anyio
async def test_a_500_answer_is_unavailable() -> None:
    async with kuaidi100(answer(recording("subscribe/500.json"))) as (carrier, _):
        with pytest.raises(CarrierUnavailable) as caught:
            await carrier.subscribe(SUBSCRIPTION)

    assert str(caught.value) == "kuaidi100 poll: 500 服务器错误"


@pytest.mark.anyio
async def test_an_unknown_return_code_is_a_logged_carrier_error(caplog: pytest.LogCaptureFixture) -> None:
    async with kuaidi100(answer(recording("subscribe/unknown.json"))) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(SUBSCRIPTION)

    assert (caught.value.code, caught.value.reason) == ("999", InterceptReason.carrier_error)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "kuaidi100 poll answered an unknown returnCode '999': 未知错误")]


@pytest.mark.anyio
async def test_a_subscribe_timeout_is_carrier_timeout() -> None:
    async with kuaidi100(httpx.ReadTimeout("timed out")) as (carrier, _):
        with pytest.raises(CarrierTimeout):
            await carrier.subscribe(SUBSCRIPTION)


@pytest.mark.anyio
async def test_subscribing_without_a_salt_is_refused_before_any_call() -> None:
    # Every push of such a subscription would fail verification (fail closed), so it is not made.
    account = CarrierAccount("kuaidi100", {**ACCOUNT.credentials, "salt": ""}, ACCOUNT.endpoints)
    async with kuaidi100(account=account) as (carrier, script):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.subscribe(SUBSCRIPTION)

    assert (caught.value.code, caught.value.reason) == ("config", InterceptReason.auth_failed)
    assert script.seen == []
