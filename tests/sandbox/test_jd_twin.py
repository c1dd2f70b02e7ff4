"""The sandbox's JD twin on its own: the JOS router, its checks and errors, results kept for polling.

Requests are signed here from the recipe with hashlib, independently of the twin and the adapter.
JD pushes nothing (its tracking push is not in the reference), so instead of push delivery these
tests pin that no push ever leaves, whatever the push faults say.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from lanjie.domain.states import InterceptType, TrackingStatus
from lanjie.sandbox import SandboxConfig, SandboxWorld, create_sandbox_app
from lanjie.sandbox.faults import FaultPlan, Faults, FaultSettings
from lanjie.sandbox.jd import TITLE_OF, JDTwin
from lanjie.sandbox.model import Channel, ForcedOutcome
from lanjie.sandbox.route import ScanCode

START_AT = datetime(2025, 3, 1, 2, 0, 0, tzinfo=UTC)  # 2025-03-01 10:00:00 in Beijing
APP_KEY, APP_SECRET = "SANDBOXJDAPPKEY", "SANDBOXJDAPPSECRET"
TOKEN, VENDOR = "SANDBOXJDACCESSTOKEN", "010K000001"
INTERCEPT = "jingdong.ldop.receive.order.intercept"
RESULT_QUERY = "jingdong.ldop.receive.order.intercept.query"
TRACE = "jingdong.ldop.receive.trace.get"
HOUR = 3600.0


def sign(fields: dict[str, str], secret: str = APP_SECRET) -> str:
    """JOS: upper MD5 hex of secret + name+value of each field sorted by name + secret."""
    text = secret + "".join(name + fields[name] for name in sorted(fields)) + secret
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def signed(api_method: str, business: dict[str, Any] | str, /, *, secret: str = APP_SECRET,
           **system: str | None) -> dict[str, str]:
    """A signed router form; a system parameter given as None is left out."""
    text = business if isinstance(business, str) else json.dumps(business, ensure_ascii=False)
    fields: dict[str, str | None] = {
        "method": api_method, "app_key": APP_KEY, "access_token": TOKEN, "timestamp": "2025-03-01 10:00:00",
        "v": "2.0", "format": "json", "360buy_param_json": text, **system}
    sent = {name: value for name, value in fields.items() if value is not None}
    return {**sent, "sign": sign(sent, secret)}


def intercept_json(waybill_no: str, **overrides: str | None) -> dict[str, Any]:
    business: dict[str, Any] = {"vendorCode": VENDOR, "deliveryId": waybill_no, "interceptReason": "买家 申请仅退款",
                                "cancelOperatorCodeType": "1", "cancelTime": "2025-03-01 10:00:00",
                                "cancelOperator": "lanjie", **overrides}
    return {name: value for name, value in business.items() if value is not None}


def error(code: str, zh: str, en: str) -> dict[str, Any]:
    return {"error_response": {"code": code, "zh_desc": zh, "en_desc": en}}


@asynccontextmanager
async def sandbox() -> AsyncIterator[tuple[SandboxWorld, httpx.AsyncClient]]:
    world = SandboxWorld(SandboxConfig(time_factor=0.0, ack_latency_ms=0, start_at=START_AT, seed=3))
    world.faults = Faults(world.rng, monotonic=lambda: 0.0)  # the rate-limit window never slides
    transport = httpx.ASGITransport(app=create_sandbox_app(world))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
            yield world, client
    finally:
        await world.stop()


async def call(client: httpx.AsyncClient, fields: dict[str, str]) -> Any:
    response = await client.post("/jd/routerjson", data=fields)
    assert response.status_code == 200, response.text
    return response.json()


def test_every_scan_has_a_jd_trace_title() -> None:
    expected = {
        ScanCode.ordered: "接单", ScanCode.picked_up: "揽收完成", ScanCode.departed: "发货",
        ScanCode.arrived_hub: "分拣中心验货", ScanCode.arrived_outlet: "站点验货",
        ScanCode.out_for_delivery: "配送员收货", ScanCode.delivered: "妥投", ScanCode.intercepted: "拦截成功",
        ScanCode.return_departed: "逆向发货", ScanCode.return_arrived: "逆向验货", ScanCode.return_signed: "退货签收",
        ScanCode.redirected: "改址转寄", ScanCode.damaged: "外包装破损", ScanCode.lost: "丢失",
    }
    assert expected == TITLE_OF
    assert set(TITLE_OF) == set(ScanCode)


def test_the_default_account_has_exactly_the_plugins_credential_names() -> None:
    assert dict(JDTwin.test_credentials) == {"app_key": APP_KEY, "app_secret": APP_SECRET, "access_token": TOKEN,
                                             "vendor_code": VENDOR}


# ---- the intercept and its polled result ------------------------------------------------------------


@pytest.mark.anyio
async def test_a_signed_intercept_is_accepted_in_the_jos_envelope_and_logged() -> None:
    async with sandbox() as (world, client):
        world.create_parcel(carrier_code="jd", waybill_no="JDT1", stage=TrackingStatus.in_transit)
        answer = await call(client, signed(INTERCEPT, intercept_json("JDT1")))

        task = world.parcels["JDT1"].intercept
        entry = world.request_log[-1]

    assert task is not None
    assert answer == {"jingdong_ldop_receive_order_intercept_response": {
        "code": "0", "resultInfo": {"stateCode": 101, "stateMessage": "拦截中", "taskId": task.task_id}}}
    assert (task.intercept_type, task.requested_by, task.reason, dict(task.report_to)) == (
        InterceptType.return_to_sender, VENDOR, "买家 申请仅退款", {"protocol": "jd", "vendor_code": VENDOR})
    assert (entry.channel, entry.path, entry.method, entry.waybill_no, entry.account, entry.code, entry.message) == (
        Channel.intercept, "/jd/routerjson", INTERCEPT, "JDT1", APP_KEY, "101", "拦截中")
    assert task.task_id.startswith("JDI")


@pytest.mark.anyio
async def test_system_parameters_may_come_in_the_query_string_as_jds_php_sdk_sends_them() -> None:
    async with sandbox() as (world, client):
        world.create_parcel(carrier_code="jd", waybill_no="JDT2", stage=TrackingStatus.in_transit)
        fields = signed(INTERCEPT, intercept_json("JDT2"))
        business = {"360buy_param_json": fields.pop("360buy_param_json")}
        response = await client.post("/jd/routerjson", params=fields, data=business)

    assert response.json()["jingdong_ldop_receive_order_intercept_response"]["resultInfo"]["stateCode"] == 101


@pytest.mark.anyio
async def test_the_result_query_follows_the_intercept_to_its_end() -> None:
    async with sandbox() as (world, client):
        world.create_parcel(carrier_code="jd", waybill_no="JDT3", stage=TrackingStatus.in_transit)
        query = signed(RESULT_QUERY, {"vendorCode": VENDOR, "deliveryId": "JDT3"})
        before = await call(client, query)
        await call(client, signed(INTERCEPT, intercept_json("JDT3")))
        during = await call(client, query)
        await world.advance(12 * HOUR)
        after = await call(client, query)

    def state(answer: Any) -> tuple[int, str]:
        inner = answer["jingdong_ldop_receive_order_intercept_query_response"]
        assert (inner["code"], inner["returnType"]["deliveryId"]) == ("0", "JDT3")
        return inner["returnType"]["stateCode"], inner["returnType"]["stateMessage"]

    assert [state(before), state(during), state(after)] == [(104, "无拦截记录"), (101, "拦截中"), (100, "拦截成功")]
    assert world.parcels["JDT3"].status is TrackingStatus.returned


@pytest.mark.parametrize(("forced", "code"), [(ForcedOutcome.missed, 105), (ForcedOutcome.fail, 106),
                                              (ForcedOutcome.succeed, 100)])
@pytest.mark.anyio
async def test_a_resolved_intercept_keeps_its_final_state_code(forced: ForcedOutcome, code: int) -> None:
    async with sandbox() as (world, client):
        world.create_parcel(carrier_code="jd", waybill_no="JDT4", stage=TrackingStatus.at_destination)
        accepted = await call(client, signed(INTERCEPT, intercept_json("JDT4")))
        world.force_outcome("JDT4", forced, "由测试决定")
        answer = await call(client, signed(RESULT_QUERY, {"vendorCode": VENDOR, "deliveryId": "JDT4"}))

    task_id = accepted["jingdong_ldop_receive_order_intercept_response"]["resultInfo"]["taskId"]
    assert answer["jingdong_ldop_receive_order_intercept_query_response"]["returnType"] == {
        "deliveryId": "JDT4", "stateCode": code, "stateMessage": "由测试决定", "taskId": task_id}


@pytest.mark.anyio
async def test_another_protocols_intercept_is_not_reported_as_jds() -> None:
    async with sandbox() as (world, client):
        world.create_parcel(carrier_code="jd", waybill_no="JDT5", stage=TrackingStatus.in_transit)
        world.request_intercept(carrier_code="jd", waybill_no="JDT5", intercept_type=InterceptType.return_to_sender,
                                report_to={"protocol": "kuaidi100", "callback_url": "", "salt": "", "kuaidicom": "jd"})
        world.force_outcome("JDT5", ForcedOutcome.fail)
        polled = await call(client, signed(RESULT_QUERY, {"vendorCode": VENDOR, "deliveryId": "JDT5"}))
        again = await call(client, signed(INTERCEPT, intercept_json("JDT5")))

    assert polled["jingdong_ldop_receive_order_intercept_query_response"]["returnType"]["stateCode"] == 104
    assert again["jingdong_ldop_receive_order_intercept_response"]["resultInfo"] == {
        "stateCode": 109, "stateMessage": "该运单已被拦截"}


@pytest.mark.parametrize(("stage", "code", "message"), [
    (TrackingStatus.out_for_delivery, 103, "配送中，不能拦截"),
    (TrackingStatus.delivered, 102, "已妥投，不能拦截"),
    (TrackingStatus.created, 100, "取消成功：订单未揽收，已取消"),
])
@pytest.mark.anyio
async def test_the_worlds_rules_decide_the_answer(stage: TrackingStatus, code: int, message: str) -> None:
    async with sandbox() as (world, client):
        world.create_parcel(carrier_code="jd", waybill_no="JDT6", stage=stage)
        answer = await call(client, signed(INTERCEPT, intercept_json("JDT6")))

    assert answer["jingdong_ldop_receive_order_intercept_response"]["resultInfo"] == {
        "stateCode": code, "stateMessage": message}
    assert world.parcels["JDT6"].intercept is None


@pytest.mark.anyio
async def test_a_cancelled_order_stays_cancelled_for_its_merchant() -> None:
    async with sandbox() as (world, client):
        world.create_parcel(carrier_code="jd", waybill_no="JDT7", stage=TrackingStatus.created)
        await call(client, signed(INTERCEPT, intercept_json("JDT7")))
        await world.advance(3 * HOUR)  # the world has no "cancel before pickup": the parcel is scanned on
        again = await call(client, signed(INTERCEPT, intercept_json("JDT7")))
        polled = await call(client, signed(RESULT_QUERY, {"vendorCode": VENDOR, "deliveryId": "JDT7"}))

    assert again["jingdong_ldop_receive_order_intercept_response"]["resultInfo"] == {
        "stateCode": 108, "stateMessage": "已取消：订单未揽收，已于此前取消"}
    assert polled["jingdong_ldop_receive_order_intercept_query_response"]["returnType"]["stateCode"] == 108
    assert world.parcels["JDT7"].intercept is None


# ---- the trace ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_trace_lists_every_scan_oldest_first_in_beijing_time() -> None:
    async with sandbox() as (world, client):
        parcel = world.create_parcel(carrier_code="jd", waybill_no="JDT8", stage=TrackingStatus.picked_up)
        answer = await call(client, signed(TRACE, {"customerCode": VENDOR, "waybillCode": "JDT8"}))

    origin = parcel.route.nodes[0].name
    assert answer == {"jingdong_ldop_receive_trace_get_response": {"code": "0", "querytrace_result": {
        "code": 100, "messsage": "成功", "data": [
            {"opeTitle": "接单", "opeRemark": parcel.scans[0].context, "opeName": origin,
             "opeTime": "2025-03-01 08:00:00", "waybillCode": "JDT8"},
            {"opeTitle": "揽收完成", "opeRemark": parcel.scans[1].context, "opeName": origin,
             "opeTime": "2025-03-01 10:00:00", "waybillCode": "JDT8"},
        ]}}}


@pytest.mark.parametrize("waybill_no", ["NOSUCH", "ZT0001"])
@pytest.mark.anyio
async def test_a_waybill_jd_does_not_carry_has_an_empty_trace(waybill_no: str) -> None:
    async with sandbox() as (world, client):
        world.create_parcel(carrier_code="zto", waybill_no="ZT0001", stage=TrackingStatus.in_transit)
        answer = await call(client, signed(TRACE, {"customerCode": VENDOR, "waybillCode": waybill_no}))

    assert answer["jingdong_ldop_receive_trace_get_response"]["querytrace_result"]["data"] == []


# ---- refusals of the request -------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["method", "app_key", "access_token", "timestamp", "v", "360buy_param_json"])
@pytest.mark.anyio
async def test_each_missing_system_parameter_is_named(missing: str) -> None:
    async with sandbox() as (_, client):
        answer = await call(client, signed(TRACE, {"customerCode": VENDOR, "waybillCode": "X"}, **{missing: None}))

    assert answer == error("9", f"缺少必选参数：{missing}", f"Missing required parameter: {missing}")


@pytest.mark.anyio
async def test_a_request_without_sign_is_refused() -> None:
    async with sandbox() as (_, client):
        fields = signed(TRACE, {"customerCode": VENDOR, "waybillCode": "X"})
        del fields["sign"]
        answer = await call(client, fields)

    assert answer == error("9", "缺少必选参数：sign", "Missing required parameter: sign")


@pytest.mark.parametrize("forge", ["wrong secret", "lower case", "changed after signing"])
@pytest.mark.anyio
async def test_a_bad_signature_is_refused_and_nothing_happens(forge: str) -> None:
    async with sandbox() as (world, client):
        world.create_parcel(carrier_code="jd", waybill_no="JDT9", stage=TrackingStatus.in_transit)
        secret = "NOTTHESECRET" if forge == "wrong secret" else APP_SECRET
        fields = signed(INTERCEPT, intercept_json("JDT9"), secret=secret)
        if forge == "lower case":
            fields["sign"] = fields["sign"].lower()
        if forge == "changed after signing":
            fields["timestamp"] = "2025-03-01 10:00:01"
        answer = await call(client, fields)

    assert answer == error("14", "签名无效", "Invalid signature")
    assert world.parcels["JDT9"].intercept is None


@pytest.mark.anyio
async def test_an_unknown_app_key_is_refused() -> None:
    async with sandbox() as (_, client):
        answer = await call(client, signed(TRACE, {"customerCode": VENDOR, "waybillCode": "X"}, app_key="NOPE"))

    assert answer == error("15", "app_key 无效", "Invalid app_key")


@pytest.mark.anyio
async def test_an_account_registered_as_expired_answers_19_and_a_wrong_token_too() -> None:
    async with sandbox() as (_, client):
        registered = await client.post("/control/carriers/jd/accounts", json={
            "credentials": {"app_key": "OLDKEY", "app_secret": "OLDSECRET", "access_token": "OLDTOKEN",
                            "vendor_code": "010K000002"}, "expired": True})
        fields = {"method": TRACE, "app_key": "OLDKEY", "access_token": "OLDTOKEN",
                  "timestamp": "2025-03-01 10:00:00", "v": "2.0",
                  "360buy_param_json": '{"customerCode":"010K000002","waybillCode":"X"}'}
        expired = await call(client, {**fields, "sign": sign(fields, "OLDSECRET")})
        wrong = await call(client, signed(TRACE, {"customerCode": VENDOR, "waybillCode": "X"}, access_token="OTHER"))

    assert (registered.status_code, registered.json()) == (
        201, {"app_key": "OLDKEY", "vendor_code": "010K000002", "expired": True})
    expected = error("19", "access_token 无效或已过期，请重新授权", "Invalid or expired access_token")
    assert [expired, wrong] == [expected, expected]


@pytest.mark.anyio
async def test_an_account_needs_every_credential() -> None:
    async with sandbox() as (_, client):
        response = await client.post("/control/carriers/jd/accounts",
                                     json={"credentials": {"app_key": "K", "app_secret": "S"}})

    assert (response.status_code, response.json()["detail"]) == (
        422, "credentials: JD needs access_token, vendor_code")


@pytest.mark.parametrize(("system", "business", "detail"), [
    ({"v": "1.0"}, None, "v 只支持 2.0"),
    ({"format": "xml"}, None, "format 只支持 json"),
    ({"timestamp": "2025/03/01 10:00"}, None, "timestamp 格式应为 yyyy-MM-dd HH:mm:ss"),
    ({}, "not json", "360buy_param_json 不是合法的 JSON"),
    ({}, "[1, 2]", "360buy_param_json 必须是 JSON 对象"),
    ({}, intercept_json("JDT10", cancelOperatorCodeType="ERP"), "cancelOperatorCodeType 必须是数字"),
    ({}, intercept_json("JDT10", cancelTime="today"), "cancelTime 格式应为 yyyy-MM-dd HH:mm:ss"),
    ({}, {**intercept_json("JDT10"), "deliveryId": 10}, "deliveryId 必须是字符串"),
])
@pytest.mark.anyio
async def test_an_invalid_parameter_is_named(system: dict[str, str], business: Any, detail: str) -> None:
    async with sandbox() as (_, client):
        answer = await call(client, signed(INTERCEPT, business or intercept_json("JDT10"), **system))

    assert answer == error("10", f"参数值无效：{detail}", f"Invalid parameter: {detail}")


@pytest.mark.parametrize("missing", ["vendorCode", "deliveryId", "interceptReason", "cancelOperatorCodeType",
                                     "cancelTime", "cancelOperator"])
@pytest.mark.anyio
async def test_each_missing_intercept_field_is_named(missing: str) -> None:
    async with sandbox() as (_, client):
        answer = await call(client, signed(INTERCEPT, intercept_json("JDT11", **{missing: None})))

    assert answer == error("9", f"缺少必选参数：{missing}", f"Missing required parameter: {missing}")


@pytest.mark.parametrize(("method", "business", "field"), [
    (INTERCEPT, intercept_json("JDT12", vendorCode="010K999999"), "vendorCode"),
    (RESULT_QUERY, {"vendorCode": "010K999999", "deliveryId": "JDT12"}, "vendorCode"),
    (TRACE, {"customerCode": "010K999999", "waybillCode": "JDT12"}, "customerCode"),
])
@pytest.mark.anyio
async def test_another_merchants_code_is_refused(method: str, business: dict[str, Any], field: str) -> None:
    async with sandbox() as (_, client):
        answer = await call(client, signed(method, business))

    assert answer == error("20", f"无权访问该商家数据：{field}", f"No permission for this vendor: {field}")


@pytest.mark.anyio
async def test_an_unknown_method_is_refused() -> None:
    async with sandbox() as (_, client):
        answer = await call(client, signed("jingdong.ldop.waybill.receive", {}))

    assert answer == error("22", "方法不存在：jingdong.ldop.waybill.receive",
                           "Invalid method: jingdong.ldop.waybill.receive")


@pytest.mark.anyio
async def test_the_router_takes_only_post() -> None:
    async with sandbox() as (_, client):
        response = await client.get("/jd/routerjson")

    assert response.status_code == 405


# ---- faults ------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_rate_limit_answers_in_jos_words_on_its_own_channel() -> None:
    async with sandbox() as (world, client):
        world.create_parcel(carrier_code="jd", waybill_no="JDT13", stage=TrackingStatus.in_transit)
        world.faults.set_plan(FaultPlan(channels={Channel.query: FaultSettings(rate_limit_per_second=1)}))
        trace = signed(TRACE, {"customerCode": VENDOR, "waybillCode": "JDT13"})
        first, second = await call(client, trace), await call(client, trace)
        intercept = await call(client, signed(INTERCEPT, intercept_json("JDT13")))

    assert "jingdong_ldop_receive_trace_get_response" in first
    assert second == error("61", "调用频率超限，请稍后再试", "Call frequency limit exceeded")
    assert intercept["jingdong_ldop_receive_order_intercept_response"]["resultInfo"]["stateCode"] == 101


@pytest.mark.anyio
async def test_an_injected_error_on_the_intercept_channel_spares_the_queries() -> None:
    async with sandbox() as (world, client):
        world.create_parcel(carrier_code="jd", waybill_no="JDT14", stage=TrackingStatus.in_transit)
        world.faults.set_plan(FaultPlan(channels={Channel.intercept: FaultSettings(error_rate=1.0)}))
        failed = await client.post("/jd/routerjson", data=signed(INTERCEPT, intercept_json("JDT14")))
        trace = await call(client, signed(TRACE, {"customerCode": VENDOR, "waybillCode": "JDT14"}))

    assert (failed.status_code, failed.text) in {(500, "Internal Server Error"), (502, "Bad Gateway")}
    assert world.parcels["JDT14"].intercept is None
    assert len(trace["jingdong_ldop_receive_trace_get_response"]["querytrace_result"]["data"]) == 3


@pytest.mark.anyio
async def test_jd_pushes_nothing_whatever_the_push_faults_say() -> None:
    async with sandbox() as (world, client):
        world.faults.set_plan(FaultPlan(default=FaultSettings(duplicate_push_rate=1.0, out_of_order_rate=1.0)))
        world.create_parcel(carrier_code="jd", waybill_no="JDT15", stage=TrackingStatus.in_transit)
        await call(client, signed(INTERCEPT, intercept_json("JDT15")))
        await world.advance(24 * HOUR)
        await world.settle()

        twin = world.twins["jd"]
        assert isinstance(twin, JDTwin)
        outcome = twin.outcomes["JDT15"]

    assert world.parcels["JDT15"].status is TrackingStatus.returned
    assert world.push_log == {}
    assert (outcome.vendor_code, int(outcome.state), outcome.message) == (VENDOR, 100, "拦截成功")


@pytest.mark.anyio
async def test_the_control_api_lists_the_twin_with_its_test_credentials() -> None:
    async with sandbox() as (_, client):
        carriers = (await client.get("/control/carriers")).json()

    assert carriers["jd"] == {"prefix": "/jd", "test_credentials": dict(JDTwin.test_credentials)}
