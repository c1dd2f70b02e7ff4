"""Douyin adapter: every request it builds, byte for byte, signature included, and what it keeps of it.

Signatures are computed here from the recipe in the wire decisions (HMAC-SHA256 keyed with the app
secret over secret + "app_key" + key + "method" + method + "param_json" + json + "timestamp" + t +
"v2" + secret, lower-case hex) with hmac/hashlib, never with the adapter's own function; one
known-answer vector was computed outside Python with ``openssl dgst -sha256 -hmac``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from lanjie.channels.base import ApproveItem, ChannelAccount, ChannelCapability, ChannelCase
from lanjie.channels.douyin import Douyin
from lanjie.channels.errors import NotSupported
from lanjie.domain.states import CaseType, PlatformStatus

APP_KEY, APP_SECRET, TOKEN, SHOP_ID = "SANDBOXDYKEY", "SANDBOXDYSECRET", "SANDBOXDYTOKEN", "1000001"
API = "https://douyin.test"
CREDENTIALS = {"app_key": APP_KEY, "app_secret": APP_SECRET, "access_token": TOKEN, "shop_id": SHOP_ID}
ACCOUNT = ChannelAccount("douyin", CREDENTIALS, {"api": API})
NOW = datetime(2025, 3, 1, 2, 0, 0, tzinfo=UTC)  # 2025-03-01 10:00:00 in Beijing
TIMESTAMP = "2025-03-01 10:00:00"
CASE = ChannelCase(ref="7000001", order_id="6900001", type=CaseType.refund_only_shipped, platform_type="1",
                   status=PlatformStatus.awaiting_merchant, platform_status="6", refund_fen=12900,
                   version="1740792600")
APPROVE_JSON = '{"items":[{"aftersale_id":"7000001","update_time":1740792600}],"type":201}'
APPROVE_SIGN = "248c0c30b34aade48248ecf3eeb16ba1d463107fa87207e2c935b7dd74f78c5a"  # openssl, see docstring


RECORDINGS = Path(__file__).parent / "recordings" / "douyin"


def recorded_answer(name: str) -> httpx.Response:
    """A recorded answer, served byte for byte."""
    return httpx.Response(200, content=(RECORDINGS / name).read_bytes(), headers={"Content-Type": "application/json"})


def signature(method: str, param_json: str, timestamp: str = TIMESTAMP) -> str:
    message = f"{APP_SECRET}app_key{APP_KEY}method{method}param_json{param_json}timestamp{timestamp}v2{APP_SECRET}"
    return hmac.new(APP_SECRET.encode(), message.encode("utf-8"), hashlib.sha256).hexdigest()


def expected_url(method: str, param_json: str) -> str:
    query = urlencode({"app_key": APP_KEY, "method": method, "access_token": TOKEN, "timestamp": TIMESTAMP,
                       "v": "2", "sign_method": "hmac-sha256", "sign": signature(method, param_json)})
    return f"{API}/{method.replace('.', '/')}?{query}"


def envelope(data: object = None, code: int = 10000, sub_code: str = "", sub_msg: str = "",
             msg: str = "success") -> httpx.Response:
    body = {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg, "data": data or {},
            "log_id": "20250301100000010203"}
    return httpx.Response(200, content=json.dumps(body, ensure_ascii=False).encode(),
                          headers={"Content-Type": "application/json"})


def operated(ref: str = "7000001") -> httpx.Response:
    return envelope({"items": [{"aftersale_id": ref, "status_code": 0, "status_msg": "success"}]})


@asynccontextmanager
async def douyin(*replies: httpx.Response | Exception,
                 account: ChannelAccount = ACCOUNT) -> AsyncIterator[tuple[Douyin, list[httpx.Request]]]:
    """An adapter on scripted answers (httpx.MockTransport) and a still clock; every answer must be used."""
    seen: list[httpx.Request] = []
    script = list(replies)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        reply = script.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        yield Douyin(account, client, clock=lambda: NOW), seen
    assert script == [], f"{len(script)} scripted answers were never asked for"


def sent(request: httpx.Request) -> tuple[str, str, bytes, str]:
    return request.method, str(request.url), request.content, request.headers["content-type"]


# ---- the plugin ------------------------------------------------------------------------------------

def test_the_plugin_describes_douyin_and_sends_one_approval_per_call() -> None:
    assert (Douyin.name, Douyin.title, Douyin.credential_names, Douyin.endpoint_names) == (
        "douyin", "Douyin 抖店", ("app_key", "app_secret", "access_token", "shop_id"), ("api",))
    assert (Douyin.approve_batch_limit, Douyin.approve_batch_fen_limit) == (1, None)
    assert Douyin.capabilities == set(ChannelCapability) - {ChannelCapability.commit_intercept}


def test_the_signature_recipe_matches_the_known_answer() -> None:
    assert signature("afterSale.operate", APPROVE_JSON) == APPROVE_SIGN


@pytest.mark.anyio
async def test_commit_intercept_is_not_supported_and_sends_nothing() -> None:
    async with douyin() as (channel, seen):
        with pytest.raises(NotSupported, match="intercept"):
            await channel.commit_intercept(CASE)

    assert (seen, channel.exchanges) == ([], [])


@pytest.mark.anyio
async def test_the_production_gateway_is_the_default_endpoint() -> None:
    async with douyin(operated(), account=ChannelAccount("douyin", CREDENTIALS, {})) as (channel, seen):
        await channel.approve_refunds([])  # nothing to send
        await channel.reject_refund(CASE, reason_code="1", reason="x")

    assert str(seen[0].url).startswith("https://openapi-fxg.jinritemai.com/afterSale/operate?app_key=")


# ---- each operation's request ----------------------------------------------------------------------

@pytest.mark.anyio
async def test_fetch_case_posts_the_signed_detail_request() -> None:
    async with douyin(recorded_answer("detail_refund_only_shipped.json")) as (channel, seen):
        await channel.fetch_case("7000001")

    body = '{"after_sale_id":"7000001","need_operation_record":false}'
    assert sent(seen[0]) == ("POST", expected_url("afterSale.Detail", body), body.encode(), "application/json")


@pytest.mark.anyio
async def test_approving_a_refund_only_case_posts_operate_201_locked_to_its_update_time() -> None:
    async with douyin(operated()) as (channel, seen):
        assert await channel.approve_refunds([ApproveItem(CASE, "R-1")]) == [None]

    assert sent(seen[0]) == ("POST", expected_url("afterSale.operate", APPROVE_JSON), APPROVE_JSON.encode(),
                             "application/json")
    assert f"&sign={APPROVE_SIGN}" in str(seen[0].url)
    assert str(seen[0].url).startswith(f"{API}/afterSale/operate?app_key=SANDBOXDYKEY&method=afterSale.operate"
                                       "&access_token=SANDBOXDYTOKEN&timestamp=2025-03-01+10%3A00%3A00&v=2"
                                       "&sign_method=hmac-sha256&sign=")


@pytest.mark.anyio
async def test_approving_a_return_refund_case_posts_operate_111() -> None:
    case = replace(CASE, type=CaseType.return_refund, ref="7000002", version="1740794400")
    async with douyin(operated("7000002")) as (channel, seen):
        assert await channel.approve_refunds([ApproveItem(case, "R-2")]) == [None]

    body = '{"items":[{"aftersale_id":"7000002","update_time":1740794400}],"type":111}'
    assert sent(seen[0]) == ("POST", expected_url("afterSale.operate", body), body.encode(), "application/json")


@pytest.mark.anyio
async def test_approving_several_refunds_sends_one_operate_call_each() -> None:
    second = replace(CASE, ref="7000005", version="1740794400")
    async with douyin(operated(), operated("7000005")) as (channel, seen):
        assert await channel.approve_refunds([ApproveItem(CASE, "R-1"), ApproveItem(second, "R-5")]) == [None, None]

    assert [json.loads(request.content)["items"] for request in seen] == [
        [{"aftersale_id": "7000001", "update_time": 1740792600}],
        [{"aftersale_id": "7000005", "update_time": 1740794400}]]


@pytest.mark.anyio
async def test_rejecting_posts_operate_202_with_reason_code_text_and_image_evidence() -> None:
    async with douyin(operated()) as (channel, seen):
        await channel.reject_refund(CASE, reason_code="32", reason="商品已拦截退回",
                                    evidence=["https://img.example/a.jpg", "https://img.example/b.jpg"])

    body = ('{"items":[{"aftersale_id":"7000001","evidence":[{"type":1,"url":"https://img.example/a.jpg"},'
            '{"type":1,"url":"https://img.example/b.jpg"}],"reason":"商品已拦截退回","reject_reason_code":32,'
            '"remark":"商品已拦截退回","update_time":1740792600}],"type":202}')
    assert sent(seen[0]) == ("POST", expected_url("afterSale.operate", body), body.encode("utf-8"),
                             "application/json")


@pytest.mark.anyio
async def test_confirm_received_posts_op_time_and_the_return_waybill() -> None:
    async with douyin(envelope(), envelope()) as (channel, seen):
        await channel.confirm_received(CASE, received_at=datetime(2025, 3, 3, 2, 0, tzinfo=UTC),
                                       waybill_no="SF1400000000009", company_code="shunfeng")
        await channel.confirm_received(CASE, received_at=datetime(2025, 3, 3, 2, 0, tzinfo=UTC))

    with_waybill = ('{"aftersale_id":"7000001","logistics_company_code":"shunfeng","op_time":1740967200,'
                    '"tracking_no":"SF1400000000009"}')
    bare = '{"aftersale_id":"7000001","op_time":1740967200}'
    method = "afterSale.returnGoodsToWareHouseSuccess"
    assert [sent(request) for request in seen] == [
        ("POST", expected_url(method, with_waybill), with_waybill.encode(), "application/json"),
        ("POST", expected_url(method, bare), bare.encode(), "application/json")]


@pytest.mark.anyio
async def test_submit_evidence_posts_the_numeric_id_a_comment_and_the_urls() -> None:
    async with douyin(envelope()) as (channel, seen):
        await channel.submit_evidence(CASE, text="快递已拦截，包裹退回中", evidence=["https://img.example/trace.png"])

    body = '{"aftersale_id":7000001,"comment":"快递已拦截，包裹退回中","evidence":["https://img.example/trace.png"]}'
    assert sent(seen[0]) == ("POST", expected_url("afterSale.submitEvidence", body), body.encode("utf-8"),
                             "application/json")


# ---- what is kept of each exchange -----------------------------------------------------------------

@pytest.mark.anyio
async def test_exchanges_keep_the_call_without_the_secret_token_or_signature() -> None:
    echo = envelope(code=40003, sub_code="isv.access-token-invalid", sub_msg=f"token {TOKEN} 无效",
                    msg="access_token invalid")
    async with douyin(operated(), echo) as (channel, _seen):
        results = await channel.approve_refunds([ApproveItem(CASE, "R-1"), ApproveItem(CASE, "R-1")])

    assert [type(result).__name__ for result in results] == ["NoneType", "ChannelRejected"]
    first = channel.exchanges[0]
    assert (first.operation, first.method, first.status_code, first.error) == ("approve_refund", "POST", 200, "")
    assert first.url == (f"{API}/afterSale/operate?app_key=SANDBOXDYKEY&method=afterSale.operate&access_token=***"
                         "&timestamp=2025-03-01+10%3A00%3A00&v=2&sign_method=hmac-sha256&sign=***")
    assert json.loads(first.request_body) == json.loads(APPROVE_JSON)
    for exchange in channel.exchanges:
        kept = exchange.url + exchange.request_body + exchange.response_body + exchange.error
        assert (APP_SECRET in kept, TOKEN in kept, APPROVE_SIGN in kept) == (False, False, False)
