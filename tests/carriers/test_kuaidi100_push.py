"""Kuaidi100 pushes to us: signature verification first (fail closed), then tracking and intercept results."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from lanjie.carriers.base import (
    CarrierAccount,
    InterceptOutcome,
    InterceptResult,
    Push,
    TrackingEvent,
    TrackingSnapshot,
)
from lanjie.carriers.errors import MalformedPush, SignatureInvalid
from lanjie.carriers.kuaidi100 import PUSH_ACK, PUSH_REJECT, Kuaidi100, push_sign, reject_ack
from lanjie.domain.states import InterceptReason, TrackingStatus

from .kuaidi100_support import ACCOUNT, SALT, WAYBILL, recording

FORM = "application/x-www-form-urlencoded"
SUCCESS_PARAM = recording("push/intercept_success.param.json")
# Known answer, computed outside Python: printf '%s' "$SUCCESS_PARAM$SALT" | md5sum
KNOWN_SIGN = "5036b1e5c275c91e2298119e8babd2db"
ACK = b'{"result":true,"returnCode":"200","message":"\xe6\x88\x90\xe5\x8a\x9f"}'  # message "成功"


def _no_call(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"parse_push must not call out, it called {request.url}")


@functools.cache
def carrier(salt: str = SALT) -> Kuaidi100:
    """An adapter whose client fails the test if it is ever used (parse_push makes no call)."""
    account = CarrierAccount("kuaidi100", {**ACCOUNT.credentials, "salt": salt}, ACCOUNT.endpoints)
    return Kuaidi100(account, httpx.AsyncClient(transport=httpx.MockTransport(_no_call)))


def signed_body(param: bytes, salt: str = SALT, *, upper: bool = True) -> bytes:
    sign = hashlib.md5(param + salt.encode("utf-8")).hexdigest()
    return urlencode([("param", param), ("sign", sign.upper() if upper else sign)]).encode("ascii")


def test_the_known_answer_vector_holds() -> None:
    assert hashlib.md5(SUCCESS_PARAM + SALT.encode()).hexdigest() == KNOWN_SIGN
    assert push_sign(SUCCESS_PARAM.decode("utf-8"), SALT) == KNOWN_SIGN


def test_an_intercept_success_callback_parses_to_a_succeeded_result() -> None:
    body = urlencode([("param", SUCCESS_PARAM), ("sign", KNOWN_SIGN.upper())]).encode("ascii")

    push = carrier().parse_push(body, FORM)

    assert push == Push(
        message_key=hashlib.sha256(SUCCESS_PARAM).hexdigest(),
        intercept=InterceptResult(WAYBILL, "T20240601001", InterceptOutcome.succeeded, None, "拦截成功"),
        ack_body=ACK,
        ack_media_type="application/json",
    )
    assert PUSH_ACK == ACK


@pytest.mark.parametrize(("name", "reason", "message"), [
    ("intercept_missed", InterceptReason.missed, "快件已签收，拦截失败"),
    ("intercept_failed", InterceptReason.carrier_error, "网点未执行拦截"),
    ("intercept_out_for_delivery", InterceptReason.out_for_delivery, "快件派件中，拦截未能生效"),
])
def test_a_failed_intercept_callback_carries_its_reason(
        name: str, reason: InterceptReason, message: str) -> None:
    param = recording(f"push/{name}.param.json")

    push = carrier().parse_push(signed_body(param), FORM)

    assert push.intercept == InterceptResult(WAYBILL, "T20240601001", InterceptOutcome.failed, reason,
                                             message)
    assert (push.tracking, push.message_key) == (None, hashlib.sha256(param).hexdigest())


def test_an_intercept_callback_with_an_unknown_status_stays_pending_and_is_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    param = ('{"taskId":"T9","kuaidicom":"zhongtong","kuaidinum":"78912345678901",'
             '"status":"PROCESSING","code":"100"}')

    push = carrier().parse_push(signed_body(param.encode()), FORM)

    assert push.intercept == InterceptResult(WAYBILL, "T9", InterceptOutcome.pending)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "kuaidi100 intercept callback has an unknown status 'PROCESSING' (code '100'): ")]


def test_a_tracking_push_is_the_full_trace_newest_first() -> None:
    param = recording("push/tracking_polling.param.json")

    push = carrier().parse_push(signed_body(param), "application/x-www-form-urlencoded; charset=UTF-8")

    assert push.intercept is None
    assert push.message_key == hashlib.sha256(param).hexdigest()
    assert (push.ack_body, push.ack_media_type) == (ACK, "application/json")
    snapshot = push.tracking
    assert snapshot is not None
    assert (snapshot.carrier_code, snapshot.waybill_no, snapshot.status, snapshot.subscription,
            snapshot.corrected_carrier_code) == ("zto", WAYBILL, TrackingStatus.returning, "polling", None)
    assert snapshot.events[0] == TrackingEvent(
        datetime(2024, 6, 2, 6, 20, tzinfo=UTC), TrackingStatus.returning, "6",
        "【杭州市】快件已被拦截，退回寄件人", "浙江,杭州市,西湖区")
    assert [e.code for e in snapshot.events] == ["6", "1001", "1002", "103"]


def test_a_carrier_code_correction_with_abort_and_no_trace_is_expired_in_lanjie_courier_codes() -> None:
    param = recording("push/tracking_autocheck_abort.param.json")  # zhongtong corrected to yuantong

    push = carrier().parse_push(signed_body(param), FORM)

    assert push.tracking == TrackingSnapshot("zto", WAYBILL, TrackingStatus.expired, (),
                                             subscription="abort", corrected_carrier_code="yto")


def test_a_correction_to_a_kuaidi100_code_lanjie_lacks_is_taken_unchanged() -> None:
    param = recording("push/tracking_autocheck_abort.param.json").replace(
        b'"comNew":"yuantong"', b'"comNew":"huitongkuaidi"')

    push = carrier().parse_push(signed_body(param), FORM)

    assert push.tracking is not None
    assert (push.tracking.carrier_code, push.tracking.corrected_carrier_code) == ("zto", "huitongkuaidi")


def test_the_same_push_twice_has_the_same_key_and_a_new_scan_a_new_one() -> None:
    param = recording("push/tracking_polling.param.json")
    again = carrier().parse_push(signed_body(param), FORM)
    changed = param.replace(b'"status":"polling"', b'"status":"shutdown"')

    assert carrier().parse_push(signed_body(param), FORM).message_key == again.message_key
    assert carrier().parse_push(signed_body(changed), FORM).message_key != again.message_key


@pytest.mark.parametrize("upper", [True, False])
def test_either_case_of_the_sign_is_accepted(upper: bool) -> None:
    push = carrier().parse_push(signed_body(SUCCESS_PARAM, upper=upper), FORM)

    assert push.intercept is not None and push.intercept.outcome is InterceptOutcome.succeeded


def test_without_a_salt_nothing_verifies_not_even_a_push_signed_with_the_empty_salt() -> None:
    with pytest.raises(SignatureInvalid):
        carrier(salt="").parse_push(signed_body(SUCCESS_PARAM, salt=""), FORM)


@pytest.mark.parametrize("body", [urlencode([("param", SUCCESS_PARAM)]).encode(), b"", b"sign="])
def test_a_push_without_a_sign_is_signature_invalid(body: bytes) -> None:
    with pytest.raises(SignatureInvalid):
        carrier().parse_push(body, FORM)


@pytest.mark.parametrize(("body", "content_type"), [
    (urlencode([("sign", KNOWN_SIGN)]).encode(), FORM),  # no param
    (urlencode([("param", SUCCESS_PARAM), ("param", b"{}"), ("sign", KNOWN_SIGN)]).encode(), FORM),
    (urlencode([("param", SUCCESS_PARAM), ("sign", KNOWN_SIGN), ("sign", KNOWN_SIGN)]).encode(), FORM),
    (b"param", FORM),  # a field without "="
    (signed_body(SUCCESS_PARAM), "application/json"),
])
def test_a_body_that_is_not_one_signed_form_is_malformed(body: bytes, content_type: str) -> None:
    with pytest.raises(MalformedPush):
        carrier().parse_push(body, content_type)


@pytest.mark.parametrize("param", [
    b"not json",
    b"[1,2]",
    b'{"neither":"kind"}',
    b'{"taskId":"T1","status":"SUCCESS"}',  # no waybill
    b'{"lastResult":{"nu":"1","data":[{"time":"2024-13-01 00:00:00"}]}}',  # impossible time
    b'{"lastResult":{"nu":"1","data":"none"}}',
    b'{"lastResult":{"data":[]}}',  # no waybill
    b'{"lastResult":[]}',
    b"\xff\xfe{}",  # signed, but not UTF-8
])
def test_a_signed_param_that_is_not_a_push_is_malformed(param: bytes) -> None:
    with pytest.raises(MalformedPush):
        carrier().parse_push(signed_body(param), FORM)


def test_the_reject_answer_is_kuaidi100s_error_format() -> None:
    assert reject_ack() == Kuaidi100.reject_ack() == (
        b'{"result":false,"returnCode":"400","message":"sign error"}', "application/json")
    assert reject_ack()[0] == PUSH_REJECT


# -- properties -----------------------------------------------------------------------------------------


@given(position=st.integers(min_value=0), mask=st.integers(min_value=1, max_value=255))
def test_any_flipped_byte_of_param_is_signature_invalid(position: int, mask: int) -> None:
    sign = KNOWN_SIGN.upper()
    tampered = bytearray(SUCCESS_PARAM)
    tampered[position % len(tampered)] ^= mask
    body = urlencode([("param", bytes(tampered)), ("sign", sign)]).encode("ascii")

    with pytest.raises(SignatureInvalid):
        carrier().parse_push(body, FORM)


@given(position=st.integers(min_value=0, max_value=31), mask=st.integers(min_value=1, max_value=255))
def test_any_flipped_byte_of_sign_other_than_its_case_is_signature_invalid(position: int, mask: int) -> None:
    sign = bytearray(KNOWN_SIGN.upper().encode())
    sign[position] ^= mask
    assume(bytes(sign).lower() != KNOWN_SIGN.encode())  # a hex digit's case is left open by Kuaidi100
    body = urlencode([("param", SUCCESS_PARAM), ("sign", bytes(sign))]).encode("ascii")

    with pytest.raises(SignatureInvalid):
        carrier().parse_push(body, FORM)


@given(position=st.integers(min_value=0), mask=st.integers(min_value=1, max_value=255))
def test_a_flipped_byte_anywhere_in_the_body_never_yields_a_different_push(position: int, mask: int) -> None:
    body = bytearray(signed_body(SUCCESS_PARAM))
    body[position % len(body)] ^= mask
    original = carrier().parse_push(signed_body(SUCCESS_PARAM), FORM)

    try:
        push = carrier().parse_push(bytes(body), FORM)
    except (SignatureInvalid, MalformedPush):
        return
    # Only an equivalent encoding survives (e.g. "%2f" for "%2F"): the same param, so the same push.
    assert push == original


@given(task_id=st.text(min_size=1, max_size=40), message=st.text(max_size=80))
def test_any_param_signed_with_the_salt_verifies_and_round_trips(task_id: str, message: str) -> None:
    # Whatever the text ("&", "=", "+", "%", spaces, CJK, emoji), the form carries it intact.
    param = ('{"taskId":' + json.dumps(task_id, ensure_ascii=False) + ',"kuaidinum":"78912345678901",'
             '"status":"SUCCESS","code":"200","message":' + json.dumps(message, ensure_ascii=False) + "}")

    push = carrier().parse_push(signed_body(param.encode("utf-8")), FORM)

    assert push.intercept == InterceptResult(WAYBILL, task_id, InterceptOutcome.succeeded, None, message)
    assert push.message_key == hashlib.sha256(param.encode("utf-8")).hexdigest()
