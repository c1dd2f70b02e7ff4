"""Kuaidi100 ``poll/query.do``: the signed form, the call, the trace, every error, and query_intercept."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
import pytest

from lanjie.carriers.base import InterceptOutcome, InterceptState, TrackingEvent, TrackingSnapshot
from lanjie.carriers.errors import CarrierRejected, CarrierTimeout, CarrierUnavailable
from lanjie.carriers.kuaidi100 import wire
from lanjie.domain.states import InterceptReason, TrackingStatus

from .kuaidi100_support import CUSTOMER, KEY, POLL, WAYBILL, answer, form_of, kuaidi100, recording

PARAM = '{"com":"zhongtong","num":"78912345678901","phone":"8000","resultv2":"4","show":"0","order":"desc"}'
# Known answer, computed outside Python: printf '%s' "$PARAM$KEY$CUSTOMER" | md5sum | tr a-f A-F
KNOWN_SIGN = "B81F11BBD96FE14D966FBCD8271B09FF"

FORWARD = (
    TrackingEvent(datetime(2024, 6, 2, 1, 15, tzinfo=UTC), TrackingStatus.at_destination, "1001",
                  "【杭州市】快件已到达 杭州西湖营业部", "浙江,杭州市,西湖区"),
    TrackingEvent(datetime(2024, 6, 1, 14, 40, tzinfo=UTC), TrackingStatus.in_transit, "1002",
                  "【上海市】快件离开 上海转运中心 已发往 杭州转运中心", "上海"),
    TrackingEvent(datetime(2024, 6, 1, 10, 5, tzinfo=UTC), TrackingStatus.picked_up, "103",
                  "【上海市】上海浦东新区营业部 已揽收", "上海,上海市,浦东新区"),
)
TURNED_BACK = TrackingEvent(datetime(2024, 6, 2, 6, 20, tzinfo=UTC), TrackingStatus.returning, "6",
                            "【杭州市】快件已被拦截，退回寄件人", "浙江,杭州市,西湖区")


def test_query_form_is_signed_over_param_key_customer() -> None:
    form = wire.query_form("zto", WAYBILL, "13800138000", key=KEY, customer=CUSTOMER)

    assert hashlib.md5((PARAM + KEY + CUSTOMER).encode("utf-8")).hexdigest().upper() == KNOWN_SIGN
    assert form == {"customer": CUSTOMER, "sign": KNOWN_SIGN, "param": PARAM}
    assert wire.encode_form(form) == urlencode(
        [("customer", CUSTOMER), ("sign", KNOWN_SIGN), ("param", PARAM)]).encode("ascii")


def test_query_form_leaves_out_an_unknown_phone() -> None:
    form = wire.query_form("zto", WAYBILL, "", key=KEY, customer=CUSTOMER)

    param = '{"com":"zhongtong","num":"78912345678901","resultv2":"4","show":"0","order":"desc"}'
    sign = hashlib.md5((param + KEY + CUSTOMER).encode()).hexdigest().upper()
    assert form == {"customer": CUSTOMER, "sign": sign, "param": param}


@pytest.mark.anyio
async def test_query_posts_one_signed_form_to_query_do() -> None:
    async with kuaidi100(answer(recording("query/in_transit.json"))) as (carrier, script):
        await carrier.query_tracking("zto", WAYBILL, phone_tail="8000")

    [request] = script.seen
    assert (request.method, str(request.url)) == ("POST", f"{POLL}/poll/query.do")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form_of(request) == {"customer": [CUSTOMER], "sign": [KNOWN_SIGN], "param": [PARAM]}
    assert [(e.operation, e.url, e.status_code) for e in carrier.exchanges] == [
        ("query_tracking", f"{POLL}/poll/query.do", 200)]


@pytest.mark.anyio
async def test_a_trace_becomes_a_snapshot_newest_first_in_utc() -> None:
    async with kuaidi100(answer(recording("query/in_transit.json"))) as (carrier, _):
        snapshot = await carrier.query_tracking("zto", WAYBILL)

    assert snapshot == TrackingSnapshot("zto", WAYBILL, TrackingStatus.at_destination, FORWARD)


@pytest.mark.anyio
async def test_a_delivered_trace_is_delivered() -> None:
    async with kuaidi100(answer(recording("query/delivered.json"))) as (carrier, _):
        snapshot = await carrier.query_tracking("zto", WAYBILL)

    assert snapshot.status is TrackingStatus.delivered
    assert [(e.code, e.status) for e in snapshot.events] == [
        ("301", TrackingStatus.delivered), ("5", TrackingStatus.out_for_delivery),
        ("1001", TrackingStatus.at_destination), ("1002", TrackingStatus.in_transit),
        ("103", TrackingStatus.picked_up)]


@pytest.mark.anyio
async def test_no_result_yet_is_an_empty_trace_not_picked_up(caplog: pytest.LogCaptureFixture) -> None:
    async with kuaidi100(answer(recording("query/error_500.json"))) as (carrier, _):
        snapshot = await carrier.query_tracking("zto", WAYBILL)

    assert snapshot == TrackingSnapshot("zto", WAYBILL, TrackingStatus.created, ())
    assert caplog.records == []


@pytest.mark.anyio
@pytest.mark.parametrize(("code", "reason", "message"), [
    ("400", InterceptReason.carrier_error, "找不到对应公司"),
    ("503", InterceptReason.auth_failed, "验证签名失败"),
    ("601", InterceptReason.auth_failed, "POLL:KEY已过期"),
])
async def test_each_query_refusal_is_carrier_rejected(
        code: str, reason: InterceptReason, message: str) -> None:
    async with kuaidi100(answer(recording(f"query/error_{code}.json"))) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.query_tracking("zto", WAYBILL)

    assert (caught.value.code, caught.value.message, caught.value.reason) == (code, message, reason)


@pytest.mark.anyio
@pytest.mark.parametrize("code", ["501", "502"])
async def test_a_query_server_error_is_unavailable(code: str) -> None:
    async with kuaidi100(answer(recording(f"query/error_{code}.json"))) as (carrier, _):
        with pytest.raises(CarrierUnavailable) as caught:
            await carrier.query_tracking("zto", WAYBILL)

    assert type(caught.value) is CarrierUnavailable


@pytest.mark.anyio
async def test_an_unknown_query_code_is_a_logged_carrier_error(caplog: pytest.LogCaptureFixture) -> None:
    async with kuaidi100(answer(recording("query/error_999.json"))) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.query_tracking("zto", WAYBILL)

    assert (caught.value.code, caught.value.reason) == ("999", InterceptReason.carrier_error)
    assert [r.getMessage() for r in caplog.records] == [
        "kuaidi100 poll/query.do answered an unknown returnCode '999': 未知错误"]


@pytest.mark.anyio
@pytest.mark.parametrize("body", [
    b'{"message":"ok","status":"201","data":[]}',
    b'{"message":"ok","status":"200","data":{"time":"x"}}',
    b'{"message":"ok","status":"200","data":[{"time":"yesterday","context":"?"}]}',
])
async def test_a_malformed_trace_is_unavailable(body: bytes) -> None:
    async with kuaidi100(answer(body)) as (carrier, _):
        with pytest.raises(CarrierUnavailable):
            await carrier.query_tracking("zto", WAYBILL)


@pytest.mark.anyio
async def test_a_query_timeout_is_carrier_timeout() -> None:
    async with kuaidi100(httpx.ReadTimeout("timed out")) as (carrier, _):
        with pytest.raises(CarrierTimeout):
            await carrier.query_tracking("zto", WAYBILL)


@pytest.mark.anyio
@pytest.mark.parametrize(("name", "task_id", "expected"), [
    ("returning", "T1", InterceptState(InterceptOutcome.succeeded, task_id="T1")),
    ("returning", None, InterceptState(InterceptOutcome.succeeded)),
    ("delivered", "T1", InterceptState(InterceptOutcome.failed, task_id="T1", reason=InterceptReason.missed)),
    ("delivered", None, InterceptState(InterceptOutcome.failed, reason=InterceptReason.already_delivered)),
    # A trace reading never says Kuaidi100 holds the intercept: a parcel still moving cannot tell.
    ("in_transit", "T1", InterceptState(InterceptOutcome.indeterminate, task_id="T1")),
    ("error_500", "T1", InterceptState(InterceptOutcome.indeterminate, task_id="T1")),
])
async def test_query_intercept_reads_the_outcome_from_the_trace(
        name: str, task_id: str | None, expected: InterceptState) -> None:
    async with kuaidi100(answer(recording(f"query/{name}.json"))) as (carrier, script):
        state = await carrier.query_intercept("zto", WAYBILL, task_id, phone_tail="8000")

    assert state == expected
    [request] = script.seen
    assert (str(request.url), form_of(request)["param"]) == (f"{POLL}/poll/query.do", [PARAM])
    assert [e.operation for e in carrier.exchanges] == ["query_intercept"]


def test_a_return_scan_followed_by_damage_still_counts_as_turned_back() -> None:
    damaged = TrackingEvent(datetime(2024, 6, 3, tzinfo=UTC), TrackingStatus.damaged, "209", "破损")
    snapshot = TrackingSnapshot("zto", WAYBILL, TrackingStatus.damaged, (damaged, TURNED_BACK, *FORWARD))

    assert wire.intercept_state(snapshot, "T1") == InterceptState(InterceptOutcome.succeeded, task_id="T1")


@pytest.mark.anyio
async def test_a_returning_trace_puts_the_return_scan_first() -> None:
    async with kuaidi100(answer(recording("query/returning.json"))) as (carrier, _):
        snapshot = await carrier.query_tracking("zto", WAYBILL)

    assert snapshot == TrackingSnapshot("zto", WAYBILL, TrackingStatus.returning, (TURNED_BACK, *FORWARD))
