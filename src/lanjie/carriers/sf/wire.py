"""SF Express (丰桥) on the wire: the msgDigest, request forms and parsing of answers, all pure functions.

Every request is one form POST to ``{api}/std/service`` with ``partnerID``, ``requestID``,
``serviceCode``, ``timestamp`` (ms), ``msgDigest`` and ``msgData`` (a JSON string), §4.1. ``msgData``
is serialised once, and that one string is both signed and sent (§17): compact separators, UTF-8
kept as is, key order as written here.

msgDigest = Base64(raw 16-byte MD5(URL-encode(msgData + timestamp + checkWord))), where URL-encode
is Java's ``URLEncoder.encode(s, "UTF-8")``: letters, digits and ``. - * _`` stay, a space becomes
``+``, every other byte of the UTF-8 text becomes ``%XX`` (upper-case hex). Python's ``quote_plus``
differs on ``*`` (it encodes it) and ``~`` (it keeps it), so the encoding is written out here.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from lanjie.carriers.base import (
    Address,
    CancelAck,
    InterceptAck,
    InterceptOutcome,
    InterceptRequest,
    InterceptState,
    Precheck,
    Subscription,
    TrackingEvent,
    TrackingSnapshot,
)
from lanjie.carriers.errors import CarrierRejected, CarrierUnavailable
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus

from . import codes

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded;charset=UTF-8"
BEIJING = timezone(timedelta(hours=8), "CST")  # China has had no daylight saving time since 1991
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: Bytes ``java.net.URLEncoder`` leaves as they are.
_JAVA_UNRESERVED = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*_")


class PayloadError(ValueError):
    """A carrier payload is not shaped as expected (each caller maps it to its own error)."""


def dumps(value: object) -> str:
    """Serialise a ``msgData`` the one way lanjie sends and signs it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def java_url_encode(data: bytes) -> bytes:
    """``URLEncoder.encode(text, "UTF-8")`` of the text whose UTF-8 bytes are ``data``."""
    out = bytearray()
    for byte in data:
        if byte in _JAVA_UNRESERVED:
            out.append(byte)
        elif byte == 0x20:
            out += b"+"
        else:
            out += b"%%%02X" % byte
    return bytes(out)


def _utf8(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def msg_digest(msg_data: str | bytes, timestamp: str | bytes, check_word: str) -> str:
    """``msgDigest``: Base64 of the raw MD5 of the Java-URL-encoded ``msgData + timestamp + checkWord``.

    Bytes are taken as they are (a push's fields as received), text as UTF-8.
    """
    encoded = java_url_encode(_utf8(msg_data) + _utf8(timestamp) + _utf8(check_word))
    return base64.b64encode(hashlib.md5(encoded).digest()).decode("ascii")


def millis(at: datetime) -> str:
    """The ``timestamp`` field: milliseconds since the epoch, computed without float rounding."""
    return str((at - _EPOCH) // timedelta(milliseconds=1))


def service_form(service_code: str, msg_data: str, *, partner_id: str, check_word: str, request_id: str,
                 timestamp: str) -> dict[str, str]:
    """The form of any 丰桥 call, in the SDK's field order, signed over the exact ``msgData`` sent."""
    return {
        "partnerID": partner_id,
        "requestID": request_id,
        "serviceCode": service_code,
        "timestamp": timestamp,
        "msgDigest": msg_digest(msg_data, timestamp, check_word),
        "msgData": msg_data,
    }


def phone_tail(phone: str) -> str:
    """The last four digits of a phone number (``checkPhoneNo``)."""
    return "".join(ch for ch in phone if ch.isdigit())[-4:]


def _complete(address: Address | None) -> bool:
    return address is not None and bool(address.name and address.phone and address.address)


def new_dest_address(address: Address) -> dict[str, str]:
    """``newDestAddress`` from lanjie's one-line address (*sandbox choice*: the whole address in ``address``)."""
    return {"contact": address.name, "phone": address.phone, "address": address.address, "country": "CN"}


def intercept_msg_data(request: InterceptRequest, *, monthly_card_no: str = "") -> str:
    """``msgData`` of EXP_RECE_WANTED_INTERCEPT for a return (2) or a redirect (1).

    A redirect needs the new address: without a complete one it is refused before any call. A return
    goes back to the sender's address: the request's ``return_address`` (or ``address``) when lanjie
    knows it, otherwise none is sent and SF decides (it may answer that newDestAddress is missing).
    """
    service_code = codes.INTERCEPT_TYPES[request.intercept_type]
    pay_mode = codes.PAY_MODES[request.payer]
    data: dict[str, Any] = {"waybillNo": request.waybill_no, "serviceCode": service_code,
                            "role": codes.ROLE_SENDER, "payMode": pay_mode}
    if monthly_card_no and pay_mode in ("3", "4"):
        data["monthlyCardNo"] = monthly_card_no
    if request.intercept_type is InterceptType.redirect:
        if not _complete(request.address):
            raise CarrierRejected("8002", "a redirect needs newDestAddress: contact, phone and address",
                                  reason=InterceptReason.bad_address)
        destination = request.address
    else:
        destination = getattr(request, "return_address", None) or request.address
    if destination is not None:
        if not _complete(destination):
            raise CarrierRejected("8002", "newDestAddress needs contact, phone and address",
                                  reason=InterceptReason.bad_address)
        data["newDestAddress"] = new_dest_address(destination)
    return dumps(data)


def cancel_msg_data(waybill_no: str, cus_id: str) -> str:
    """``msgData`` withdrawing an earlier intercept command (``cancel: true`` + its ``cusId``)."""
    return dumps({"waybillNo": waybill_no, "cancel": True, "cusId": cus_id})


def search_routes_msg_data(waybill_no: str, phone: str) -> str:
    """``msgData`` of EXP_RECE_SEARCH_ROUTES by waybill number; the phone tail is sent only when known."""
    data: dict[str, Any] = {"language": "0", "trackingType": "1", "trackingNumber": [waybill_no],
                            "methodType": "1"}
    tail = phone_tail(phone)
    if tail:
        data["checkPhoneNo"] = tail
    return dumps(data)


def register_route_msg_data(subscription: Subscription) -> str:
    """``msgData`` of EXP_RECE_REGISTER_ROUTE (*sandbox choice*: the waybill list and the push URL)."""
    data: dict[str, Any] = {"trackingType": "1", "trackingNumber": [subscription.waybill_no]}
    tail = phone_tail(subscription.phone_tail)
    if tail:
        data["checkPhoneNo"] = tail
    data["callbackUrl"] = subscription.callback_url
    return dumps(data)


# ---- answers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """``apiResultData`` of an answer whose envelope said ``A1000``."""

    success: bool
    error_code: str
    error_msg: str
    msg_data: Any  # the decoded ``msgData``: an object, or None


def _text(value: object) -> str:
    return "" if value is None else str(value)


def result(body: Mapping[str, Any], operation: str) -> Result:
    """The business result inside an answer's envelope.

    Raises CarrierRejected (with the reason of its code) or CarrierUnavailable when the envelope is
    not ``A1000``, and CarrierUnavailable when ``apiResultData`` is not the JSON object it should be.
    """
    code, message = _text(body.get("apiResultCode")), _text(body.get("apiErrorMsg"))
    rule = codes.api_rule(code, message)
    if rule.verdict is codes.Verdict.unavailable:
        raise CarrierUnavailable(f"sf {operation}: {code} {message}")
    if rule.verdict is codes.Verdict.rejected:
        raise CarrierRejected(code, message, reason=rule.reason or InterceptReason.carrier_error)
    raw = body.get("apiResultData")
    try:
        # A JSON *string* holding an object; amounts are read as decimals, never floats.
        data = json.loads(raw, parse_float=Decimal) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise CarrierUnavailable(f"sf {operation}: apiResultData is not JSON") from exc
    if not isinstance(data, Mapping):
        raise CarrierUnavailable(f"sf {operation}: apiResultData is not a JSON object")
    success = data.get("success") is True
    error_code = _text(data.get("errorCode")) or (codes.OK_CODE if success else "")
    return Result(success, error_code, _text(data.get("errorMsg")), data.get("msgData"))


def yuan_to_fen(value: object) -> int | None:
    """An SF amount in yuan (number or text) as integer fen; None when absent or not a number."""
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, str | int | float | Decimal):
        return None
    try:
        # A float (a payload decoded elsewhere) goes through its shortest text: 12.35, not 12.3499…
        amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        return None
    if not amount.is_finite():
        return None
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class InterceptAnswer:
    """An intercept answer: the ack, and the fee SF quoted (fen) when it quoted one."""

    ack: InterceptAck
    fee_fen: int | None = None


def parse_intercept(answer: Result) -> InterceptAnswer:
    """The ``InterceptAck`` for an EXP_RECE_WANTED_INTERCEPT result; the task id is SF's ``cusId``.

    Raises CarrierRejected when the request itself was refused (a bad parameter or address).
    """
    rule = codes.intercept_rule(answer.error_code, answer.error_msg)
    if rule.rejects:
        raise CarrierRejected(answer.error_code, answer.error_msg,
                              reason=rule.reason or InterceptReason.carrier_error)
    data = answer.msg_data if isinstance(answer.msg_data, Mapping) else {}
    task_id = (_text(data.get("cusId")) or None) if rule.accepted else None
    fee_fen = yuan_to_fen(data.get("amount")) if rule.accepted else None
    message = answer.error_msg
    if fee_fen is not None:
        message = "; ".join(part for part in (message, f"fee {Decimal(fee_fen) / 100:.2f} CNY") if part)
    ack = InterceptAck(accepted=rule.accepted, task_id=task_id, reason=rule.reason, message=message,
                       duplicate=rule.duplicate, fee_minor=fee_fen, currency="CNY")
    return InterceptAnswer(ack, fee_fen)


def parse_cancel(answer: Result) -> CancelAck:
    """The ``CancelAck`` for a cancel result; codes that are not a cancel's answer raise CarrierRejected."""
    accepted = codes.CANCEL_CODES.get(answer.error_code)
    if accepted is None:
        rule = codes.intercept_rule(answer.error_code, answer.error_msg)
        raise CarrierRejected(answer.error_code, answer.error_msg,
                              reason=rule.reason or InterceptReason.carrier_error)
    return CancelAck(accepted=accepted, message=answer.error_msg)


def check_route_result(answer: Result, service: str) -> None:
    """Raise CarrierRejected unless a route service (search, register) succeeded."""
    rule = codes.route_rule(service, answer.error_code, answer.error_msg)
    if rule.verdict is not codes.Verdict.ok:
        raise CarrierRejected(answer.error_code, answer.error_msg,
                              reason=rule.reason or InterceptReason.carrier_error)


def beijing_time(text: str) -> datetime:
    """An SF time (Beijing, ``yyyy-MM-dd HH:mm:ss``) as an aware UTC datetime."""
    try:
        local = datetime.strptime(text.strip(), _TIME_FORMAT)
    except ValueError as exc:
        raise PayloadError(f"bad time {text!r}") from exc
    return local.replace(tzinfo=BEIJING).astimezone(UTC)


def route_event(item: object) -> TrackingEvent:
    """One route node (of a query answer or a push) as a tracking event."""
    if not isinstance(item, Mapping):
        raise PayloadError("a route is not an object")
    code = _text(item.get("opCode")).strip()
    return TrackingEvent(
        at=beijing_time(_text(item.get("acceptTime"))),
        status=codes.tracking_status(code),
        code=code,
        description=_text(item.get("remark")),
        location=_text(item.get("acceptAddress")),
    )


def snapshot(events: Sequence[TrackingEvent], *, carrier_code: str, waybill_no: str,
             incremental: bool = False) -> TrackingSnapshot:
    """A snapshot of ``events`` in the order SF gave them (oldest first), newest first.

    Reversing before the (stable) sort keeps two scans of the same second in SF's order.
    """
    ordered = sorted(reversed(events), key=lambda event: event.at, reverse=True)
    status = ordered[0].status if ordered else TrackingStatus.created  # nothing scanned yet
    return TrackingSnapshot(carrier_code=carrier_code, waybill_no=waybill_no, status=status,
                            events=tuple(ordered), incremental=incremental)


def routes_snapshot(msg_data: object, *, carrier_code: str, waybill_no: str) -> TrackingSnapshot:
    """The waybill's trace from an EXP_RECE_SEARCH_ROUTES ``msgData`` (``routeResps[].routes[]``).

    A waybill SF shows no routes for (not scanned yet, or not this account's to see) is a trace
    without events in status ``created``, which every gate reads as "not picked up".
    """
    if msg_data is None:
        return snapshot((), carrier_code=carrier_code, waybill_no=waybill_no)
    if not isinstance(msg_data, Mapping):
        raise PayloadError("msgData is not an object")
    responses = msg_data.get("routeResps") or []
    if not isinstance(responses, list):
        raise PayloadError("routeResps is not a list")
    routes: list[object] = []
    for response in responses:
        if not isinstance(response, Mapping):
            raise PayloadError("a routeResp is not an object")
        if _text(response.get("mailNo")) == waybill_no:
            found = response.get("routes") or []
            if not isinstance(found, list):
                raise PayloadError("routes is not a list")
            routes.extend(found)
    events = [route_event(item) for item in routes]
    return snapshot(events, carrier_code=carrier_code, waybill_no=waybill_no)


_TURNED = frozenset({TrackingStatus.returning, TrackingStatus.returned})
_BROKEN = frozenset({TrackingStatus.lost, TrackingStatus.damaged})


def _turned(snap: TrackingSnapshot) -> bool:
    return any(event.code in codes.TURNED_CODES or event.status in _TURNED for event in snap.events)


def intercept_state(snap: TrackingSnapshot, task_id: str | None) -> InterceptState:
    """Judge an intercept from the parcel's routes, since SF reports intercept outcomes only as routes.

    A return route (631) or a redirect route means the intercept caught the parcel (a later loss on
    the way back does not undo that). A signature (80) without one means it did not happen:
    ``missed`` when SF had accepted it (we hold a cusId), else ``already_delivered``; a lost or damaged
    parcel cannot be turned back any more. Anything else is ``indeterminate``: the routes of a parcel
    still moving forward look the same whether SF holds our intercept or never got it.
    """
    if _turned(snap):
        return InterceptState(InterceptOutcome.succeeded, task_id=task_id)
    if any(event.status is TrackingStatus.delivered for event in snap.events):
        reason = InterceptReason.missed if task_id else InterceptReason.already_delivered
        return InterceptState(InterceptOutcome.failed, task_id=task_id, reason=reason)
    if snap.status in _BROKEN:
        return InterceptState(InterceptOutcome.failed, task_id=task_id, reason=InterceptReason.carrier_error,
                              message=f"parcel {snap.status}")
    return InterceptState(InterceptOutcome.indeterminate, task_id=task_id)


_ELIGIBLE = frozenset({TrackingStatus.picked_up, TrackingStatus.in_transit, TrackingStatus.at_destination})
_REFUSALS = {
    TrackingStatus.created: InterceptReason.not_picked_up,
    TrackingStatus.out_for_delivery: InterceptReason.out_for_delivery,
    TrackingStatus.delivered: InterceptReason.already_delivered,
}


def precheck(snap: TrackingSnapshot, request: InterceptRequest) -> Precheck:
    """Eligibility judged from the routes (SF has no eligibility call); SF quotes no fee before asking."""
    payer = request.payer
    if _turned(snap):
        return Precheck(False, InterceptReason.already_intercepted, payer=payer,
                        message="the parcel already turned back")
    if snap.status in _ELIGIBLE:
        return Precheck(True, payer=payer, fee_when="quoted per request, in the intercept answer (amount)",
                        types=frozenset(codes.INTERCEPT_TYPES), message=f"parcel {snap.status}")
    reason = _REFUSALS.get(snap.status, InterceptReason.not_supported)
    return Precheck(False, reason, payer=payer, message=f"parcel {snap.status}")
