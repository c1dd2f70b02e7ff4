"""Kuaidi100 on the wire: signatures, request forms and parsing of answers, all pure functions.

Each ``param`` is serialised once, and that one string is both signed and sent (carrier-protocols
§17): compact separators, UTF-8 kept as is, key order as written here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from lanjie.carriers.base import (
    InterceptAck,
    InterceptOutcome,
    InterceptRequest,
    InterceptState,
    Subscription,
    TrackingEvent,
    TrackingSnapshot,
)
from lanjie.carriers.errors import CarrierRejected
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus

from . import codes

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
BEIJING = timezone(timedelta(hours=8), "CST")  # China has had no daylight saving time since 1991
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class PayloadError(ValueError):
    """A carrier payload is not shaped as documented (each caller maps it to its own error)."""


def dumps(value: object) -> str:
    """Serialise a ``param`` the one way lanjie sends and signs it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def label_sign(param: str, t: str, key: str, secret: str) -> str:
    """Signature of ``label/order`` calls (interceptOrder): upper MD5 hex of param + t + key + secret."""
    return _md5_hex(param + t + key + secret).upper()


def query_sign(param: str, key: str, customer: str) -> str:
    """Signature of ``poll/query.do``: upper MD5 hex of param + key + customer."""
    return _md5_hex(param + key + customer).upper()


def push_sign(param: str, salt: str) -> str:
    """Signature Kuaidi100 puts on a push to us: MD5 hex of param + salt (lower case here)."""
    return _md5_hex(param + salt)


def millis(at: datetime) -> str:
    """The ``t`` field: milliseconds since the epoch, computed without float rounding."""
    return str((at - _EPOCH) // timedelta(milliseconds=1))


def encode_form(fields: Mapping[str, str]) -> bytes:
    """The request body, form-encoded in the order given (UTF-8, spaces as ``+``)."""
    return urlencode(fields, encoding="utf-8").encode("ascii")


def phone_tail(phone: str) -> str:
    """The last four digits of a phone number, which is all Kuaidi100 asks for."""
    return "".join(ch for ch in phone if ch.isdigit())[-4:]


def intercept_form(request: InterceptRequest, *, key: str, secret: str, salt: str, t: str) -> dict[str, str]:
    """Form of ``interceptOrder``; a redirect without an address is refused before any call."""
    param: dict[str, Any] = {
        "kuaidicom": codes.company_code(request.carrier_code),
        "kuaidinum": request.waybill_no,
        "interceptType": codes.INTERCEPT_TYPES[request.intercept_type],
        "reason": request.reason,
        "orderId": request.order_id,
    }
    if request.intercept_type is InterceptType.redirect:
        address = request.address
        if address is None or not (address.name and address.phone and address.address):
            raise CarrierRejected("400", "a redirect needs recManInfo: name, mobile and printAddr",
                                  reason=InterceptReason.bad_address)
        param["recManInfo"] = {"name": address.name, "mobile": address.phone, "printAddr": address.address}
    param["salt"] = salt
    param["callbackUrl"] = request.callback_url
    text = dumps(param)
    return {"method": "interceptOrder", "key": key, "t": t, "param": text,
            "sign": label_sign(text, t, key, secret)}


def subscribe_form(subscription: Subscription, *, key: str, salt: str) -> dict[str, str]:
    """Form of the ``poll`` subscription; the phone tail is sent only when known."""
    parameters: dict[str, str] = {"callbackurl": subscription.callback_url, "salt": salt, "resultv2": "4"}
    tail = phone_tail(subscription.phone_tail)
    if tail:
        parameters["phone"] = tail
    param = {"company": codes.company_code(subscription.carrier_code), "number": subscription.waybill_no, "key": key,
             "parameters": parameters}
    return {"schema": "json", "param": dumps(param)}


def query_form(carrier_code: str, waybill_no: str, phone: str, *, key: str, customer: str) -> dict[str, str]:
    """Form of the real-time query ``poll/query.do``; the phone tail is sent only when known."""
    param: dict[str, str] = {"com": codes.company_code(carrier_code), "num": waybill_no}
    tail = phone_tail(phone)
    if tail:
        param["phone"] = tail
    param.update({"resultv2": "4", "show": "0", "order": "desc"})
    text = dumps(param)
    return {"customer": customer, "sign": query_sign(text, key, customer), "param": text}


def int_code(value: object) -> int | None:
    """A code Kuaidi100 sends as a number or a string of digits; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def parse_intercept_answer(body: Mapping[str, Any]) -> InterceptAck:
    """The ``InterceptAck`` for an ``interceptOrder`` answer ``{code, message, time, data{taskId}}``.

    Raises CarrierRejected when the request itself was refused (bad request, auth, rate limit).
    """
    message = str(body.get("message") or "")
    code = int_code(body.get("code"))
    rule = codes.intercept_rule(code, message)
    if rule.rejects:
        raise CarrierRejected(str(code), message, reason=rule.reason or InterceptReason.carrier_error)
    task_id: str | None = None
    data = body.get("data")
    if rule.accepted and isinstance(data, Mapping) and data.get("taskId") not in (None, ""):
        task_id = str(data["taskId"])
    return InterceptAck(accepted=rule.accepted, task_id=task_id, reason=rule.reason, message=message,
                        duplicate=rule.duplicate)


def beijing_time(text: str) -> datetime:
    """A Kuaidi100 time (Beijing, ``yyyy-MM-dd HH:mm:ss``) as an aware UTC datetime."""
    try:
        local = datetime.strptime(text.strip(), _TIME_FORMAT)
    except ValueError as exc:
        raise PayloadError(f"bad time {text!r}") from exc
    return local.replace(tzinfo=BEIJING).astimezone(UTC)


def _event_code(item: Mapping[str, Any], fallback: str) -> str:
    code = str(item.get("statusCode") or "").strip()
    if code:
        return code
    name = str(item.get("status") or "").strip()
    if name.isdigit():
        return name
    return codes.STATE_NAMES.get(name, fallback)


def _event(item: object, fallback: str) -> TrackingEvent:
    if not isinstance(item, Mapping):
        raise PayloadError("a trace item is not an object")
    code = _event_code(item, fallback)
    return TrackingEvent(
        at=beijing_time(str(item.get("time") or item.get("ftime") or "")),
        status=codes.tracking_status(code),
        code=code,
        description=str(item.get("context") or ""),
        location=str(item.get("areaName") or ""),
    )


def tracking_snapshot(result: Mapping[str, Any], *, carrier_code: str, waybill_no: str,
                      subscription: str = "", corrected_carrier_code: str | None = None) -> TrackingSnapshot:
    """A snapshot from a query answer or a push's ``lastResult`` (``state`` + ``data[]``), in lanjie's courier
    code (``com`` is Kuaidi100's)."""
    items = result.get("data") or []
    if not isinstance(items, list):
        raise PayloadError("data is not a list")
    state = str(result.get("state") or "").strip()
    # Only the newest item may borrow the parcel's state: older items had other states.
    events = [_event(item, state if index == 0 else "") for index, item in enumerate(items)]
    # Kuaidi100 sends newest first; sorting (stable) guards against a carrier that does not.
    events.sort(key=lambda event: event.at, reverse=True)
    if events:
        status = events[0].status
    elif subscription == "abort":
        status = TrackingStatus.expired  # tracking stopped before anything was scanned
    else:
        status = TrackingStatus.created  # nothing scanned yet, whatever the default ``state`` says
    return TrackingSnapshot(
        carrier_code=codes.courier_code(str(result.get("com") or "")) or carrier_code,
        waybill_no=str(result.get("nu") or waybill_no),
        status=status,
        events=tuple(events),
        subscription=subscription,
        corrected_carrier_code=corrected_carrier_code,
    )


def no_trace(carrier_code: str, waybill_no: str) -> TrackingSnapshot:
    """What a query answered "no result" (500) means: nothing scanned yet, so not yet picked up."""
    return TrackingSnapshot(carrier_code=carrier_code, waybill_no=waybill_no,
                            status=TrackingStatus.created, events=())


_TURNED_BACK = frozenset({TrackingStatus.returning, TrackingStatus.returned})


def intercept_state(snapshot: TrackingSnapshot, task_id: str | None) -> InterceptState:
    """Judge an intercept from the parcel's trace, since Kuaidi100 offers no intercept-status query.

    Any return scan means the parcel turned back (a later loss or damage on the way back does not undo
    that). Delivered without one means the stop did not happen: ``missed`` when the carrier had accepted
    it (we hold a task id), else ``already_delivered``. Anything else is ``indeterminate``: a parcel
    still moving forward looks the same whether Kuaidi100 holds our intercept or never got it.
    """
    if any(event.status in _TURNED_BACK for event in snapshot.events):
        return InterceptState(InterceptOutcome.succeeded, task_id=task_id)
    if snapshot.status is TrackingStatus.delivered:
        reason = InterceptReason.missed if task_id else InterceptReason.already_delivered
        return InterceptState(InterceptOutcome.failed, task_id=task_id, reason=reason)
    return InterceptState(InterceptOutcome.indeterminate, task_id=task_id)


def text_field(data: Mapping[str, Any], name: str) -> str:
    """A scalar field of a pushed or answered object as text ("" when absent); PayloadError for an object."""
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise PayloadError(f"{name} is not a scalar")
    return str(value)
