"""JD's JOS router on the wire: the signature, the request forms and parsing of answers, all pure.

Every call is one form POST to ``routerjson`` with the system parameters ``method``, ``app_key``,
``access_token``, ``timestamp`` (Beijing ``yyyy-MM-dd HH:mm:ss``), ``v`` (2.0), ``format`` (json) and the
business JSON ``360buy_param_json``, plus ``sign`` = upper-case hex MD5 of
``appSecret + Σ(name + value, sorted by name, sign excluded) + appSecret`` (carrier-protocols.md §10,
§17). The business JSON is serialised once, and that one string is both signed and sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from lanjie.carriers.base import (
    InterceptAck,
    InterceptRequest,
    InterceptState,
    Payer,
    Precheck,
    TrackingEvent,
    TrackingSnapshot,
)
from lanjie.carriers.errors import CarrierRejected, CarrierTimeout, CarrierUnavailable
from lanjie.domain.states import InterceptReason, TrackingStatus

from . import codes

BEIJING = timezone(timedelta(hours=8), "CST")  # China has had no daylight saving time since 1991
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
API_VERSION = "2.0"
BUSINESS_FIELD = "360buy_param_json"


class PayloadError(ValueError):
    """A JD answer is not shaped as expected (each caller maps it to its own error)."""


def dumps(value: object) -> str:
    """Serialise a business JSON the one way lanjie signs and sends it (compact, UTF-8 kept)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def beijing(at: datetime) -> str:
    """An instant as JOS writes it: Beijing time, ``yyyy-MM-dd HH:mm:ss``."""
    return at.astimezone(BEIJING).strftime(TIME_FORMAT)


def beijing_time(text: str) -> datetime:
    """A JD wire time (Beijing) as an aware UTC datetime."""
    try:
        local = datetime.strptime(text.strip(), TIME_FORMAT)
    except ValueError as exc:
        raise PayloadError(f"bad time {text!r}") from exc
    return local.replace(tzinfo=BEIJING).astimezone(UTC)


def jos_sign(parameters: Mapping[str, str], app_secret: str) -> str:
    """The JOS ``sign``: upper MD5 hex of secret + every name+value sorted by name (sign left out) + secret."""
    pairs = "".join(name + parameters[name] for name in sorted(parameters) if name != "sign")
    return hashlib.md5((app_secret + pairs + app_secret).encode("utf-8")).hexdigest().upper()


def router_form(method: str, business_json: str, *, app_key: str, app_secret: str, access_token: str,
                timestamp: str) -> dict[str, str]:
    """The form of one JOS call, signed over exactly the values it sends."""
    fields = {
        "method": method,
        "app_key": app_key,
        "access_token": access_token,
        "timestamp": timestamp,
        "v": API_VERSION,
        "format": "json",
        BUSINESS_FIELD: business_json,
    }
    fields["sign"] = jos_sign(fields, app_secret)
    return fields


def intercept_json(request: InterceptRequest, *, vendor_code: str, cancel_time: str) -> str:
    """Business JSON of ``jingdong.ldop.receive.order.intercept`` (field names §10)."""
    return dumps({
        "vendorCode": vendor_code,
        "deliveryId": request.waybill_no,
        "interceptReason": request.reason or "客户申请拦截",
        "cancelOperatorCodeType": codes.CANCEL_OPERATOR_CODE_TYPE,
        "cancelTime": cancel_time,
        "cancelOperator": codes.CANCEL_OPERATOR,
    })


def result_query_json(*, vendor_code: str, waybill_no: str) -> str:
    """Business JSON of the intercept result query (*sandbox choice*, as its name)."""
    return dumps({"vendorCode": vendor_code, "deliveryId": waybill_no})


def trace_json(*, vendor_code: str, waybill_no: str) -> str:
    """Business JSON of ``jingdong.ldop.receive.trace.get``: the merchant code and the waybill."""
    return dumps({"customerCode": vendor_code, "waybillCode": waybill_no})


def _response_names(method: str) -> tuple[str, str]:
    # JOS names the envelope after the method; public SDKs read both spellings ("responce" is JD's own).
    stem = method.replace(".", "_")
    return f"{stem}_response", f"{stem}_responce"


def unwrap(body: Mapping[str, Any], method: str) -> Mapping[str, Any]:
    """The inside of a JOS answer ``{"<method>_response": {"code": "0", …}}``, or the error raised.

    ``{"error_response": {code, zh_desc, en_desc}}`` becomes CarrierRejected (reason per the code
    table), CarrierUnavailable or CarrierTimeout.
    """
    error = body.get("error_response")
    if isinstance(error, Mapping):
        code = str(error.get("code", ""))
        message = str(error.get("zh_desc") or error.get("en_desc") or "")
        raise _gateway_error(method, code, message)
    inner = next((body[name] for name in _response_names(method) if name in body), None)
    if not isinstance(inner, Mapping):
        raise CarrierUnavailable(f"jd {method}: answer has no {_response_names(method)[0]}")
    code = str(inner.get("code", ""))
    if code != "0":
        raise _gateway_error(method, code, str(inner.get("zh_desc") or inner.get("msg") or ""))
    return inner


def _gateway_error(method: str, code: str, message: str) -> Exception:
    rule = codes.error_rule(code, message)
    if rule.verdict is codes.Verdict.timeout:
        return CarrierTimeout(f"jd {method}: {code} {message}")
    if rule.verdict is codes.Verdict.unavailable:
        return CarrierUnavailable(f"jd {method}: {code} {message}")
    return CarrierRejected(code, message, reason=rule.reason)


def _result(inner: Mapping[str, Any]) -> Mapping[str, Any]:
    # The reference names both resultInfo and returnType for the business result: read either.
    for name in ("resultInfo", "returnType"):
        value = inner.get(name)
        if isinstance(value, Mapping):
            return value
    return {}


def _int_code(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _task_id(result: Mapping[str, Any]) -> str | None:
    # *Sandbox choice*: JD's answer fields beyond stateCode are not public; a ``taskId`` is read when
    # present. Without one, the waybill alone names the intercept (the result query asks by it).
    value = result.get("taskId")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value) or None


def parse_intercept_answer(inner: Mapping[str, Any]) -> InterceptAck:
    """The ``InterceptAck`` for an intercept answer's ``resultInfo {stateCode, stateMessage, taskId?}``."""
    result = _result(inner)
    message = str(result.get("stateMessage") or "")
    rule = codes.intercept_rule(_int_code(result.get("stateCode")), message)
    if rule.note:
        message = f"{rule.note} ({message})" if message else rule.note
    task_id = _task_id(result) if rule.accepted else None
    return InterceptAck(accepted=rule.accepted, task_id=task_id, reason=rule.reason, message=message,
                        duplicate=rule.duplicate)


def parse_result(inner: Mapping[str, Any], task_id: str | None) -> InterceptState:
    """The ``InterceptState`` for a result query's ``returnType {stateCode, stateMessage, taskId?}``.

    The task id JD names wins over the one lanjie holds (None after a lost answer).
    """
    result = _result(inner)
    message = str(result.get("stateMessage") or "")
    rule = codes.result_rule(_int_code(result.get("stateCode")), message)
    return InterceptState(rule.outcome, task_id=_task_id(result) or task_id, reason=rule.reason, message=message)


def _text(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise PayloadError(f"{name} is not a scalar")
    return str(value)


def _event(item: object) -> TrackingEvent:
    if not isinstance(item, Mapping):
        raise PayloadError("a trace item is not an object")
    title = _text(item, "opeTitle").strip()
    return TrackingEvent(
        at=beijing_time(_text(item, "opeTime")),
        status=codes.tracking_status(title),
        code=title,
        description=_text(item, "opeRemark"),
        location=_text(item, "opeName"),
    )


def tracking_snapshot(inner: Mapping[str, Any], *, waybill_no: str) -> TrackingSnapshot:
    """A snapshot, newest first, from a trace answer's ``querytrace_result {code, data[]}``.

    Raises CarrierRejected for a result code other than success, PayloadError when malformed. No
    trace items means nothing was scanned yet: status ``created``.
    """
    result = inner.get("querytrace_result")
    if not isinstance(result, Mapping):
        raise PayloadError("answer has no querytrace_result")
    code = _int_code(result.get("code"))
    # "messsage" is how public SDKs spell the field [3rd-party]; take either.
    message = str(result.get("messsage") or result.get("message") or "")
    if not codes.trace_found(code, message):
        raise CarrierRejected(str(code), message, reason=InterceptReason.carrier_error)
    items = result.get("data") or []
    if not isinstance(items, list):
        raise PayloadError("data is not a list")
    # The order JD lists scans in is not documented: sort (stable) newest first.
    events = sorted((_event(item) for item in items), key=lambda event: event.at, reverse=True)
    return TrackingSnapshot(
        carrier_code="jd",
        waybill_no=waybill_no,
        status=events[0].status if events else TrackingStatus.created,
        events=tuple(events),
    )


_ELIGIBLE = frozenset({TrackingStatus.picked_up, TrackingStatus.in_transit, TrackingStatus.at_destination})
_REFUSED: Mapping[TrackingStatus, tuple[InterceptReason, str]] = {
    TrackingStatus.created: (InterceptReason.not_picked_up,
                             "not picked up yet: JD would cancel the shipping order instead of intercepting"),
    TrackingStatus.out_for_delivery: (InterceptReason.out_for_delivery, "out for delivery: too late to intercept"),
    TrackingStatus.delivered: (InterceptReason.already_delivered, "already delivered"),
    TrackingStatus.returning: (InterceptReason.already_intercepted, "already on its way back to the sender"),
    TrackingStatus.returned: (InterceptReason.already_intercepted, "already returned to the sender"),
    TrackingStatus.lost: (InterceptReason.not_supported, "reported lost"),
    TrackingStatus.damaged: (InterceptReason.not_supported, "reported damaged"),
    TrackingStatus.expired: (InterceptReason.not_supported, "tracking has expired"),
}


def precheck(snapshot: TrackingSnapshot) -> Precheck:
    """Judge eligibility from the trace, since JD publishes no eligibility call or fee.

    Eligible between pickup and out for delivery (§0.2); after a failed delivery attempt or an
    exception only JD can tell, so ``eligible`` is None. The fee is unknown (None); the shop pays.
    """
    status = snapshot.status
    if status in _ELIGIBLE:
        return Precheck(eligible=True, fee_minor=None, payer=Payer.sender, types=codes.INTERCEPT_TYPES,
                        message=f"judged from JD's trace: {status}")
    refused = _REFUSED.get(status)
    if refused is not None:
        reason, why = refused
        return Precheck(eligible=False, reason=reason, fee_minor=None, payer=Payer.sender,
                        message=f"judged from JD's trace: {why}")
    return Precheck(eligible=None, fee_minor=None, payer=Payer.sender, types=codes.INTERCEPT_TYPES,
                    message=f"JD's trace says {status}: only JD can tell whether it can still be intercepted")
