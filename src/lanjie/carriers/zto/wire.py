"""ZTO japi on the wire: request bodies, signature headers and parsing of answers, all pure functions.

Each body is serialised once (compact, UTF-8 kept as is, key order as written here), and that one
string is both signed and sent (carrier-protocols.md §17).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from lanjie.carriers import md5b64
from lanjie.carriers.base import Subscription, TrackingEvent, TrackingSnapshot
from lanjie.domain.states import TrackingStatus

from . import codes

JSON_MEDIA_TYPE = "application/json;charset=UTF-8"
SUBSCRIBE_API = "zto.merchant.waybill.track.subsrcibe"  # sic: ZTO's own spelling
QUERY_API = "zto.merchant.waybill.track.query"
BEIJING = timezone(timedelta(hours=8), "CST")  # China has had no daylight saving time since 1991
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class PayloadError(ValueError):
    """A ZTO payload is not shaped as expected (each caller maps it to its own error)."""


def dumps(value: object) -> str:
    """Serialise a body the one way lanjie sends and signs it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def phone_tail(phone: str) -> str:
    """The last four digits of a phone number (ZTO's ``mobilePhone`` is only that)."""
    return "".join(ch for ch in phone if ch.isdigit())[-4:]


def signed_headers(body: str, *, app_key: str, app_secret: str) -> dict[str, str]:
    """Headers of a japi call: ``x-dataDigest`` = Base64(raw MD5(body exactly as sent + appSecret))."""
    return {"Content-Type": JSON_MEDIA_TYPE, "x-appKey": app_key,
            "x-dataDigest": md5b64.sign(body, app_secret)}


def _with_phone(body: dict[str, str], phone: str) -> dict[str, str]:
    tail = phone_tail(phone)
    if tail:
        body["mobilePhone"] = tail
    return body


def subscribe_body(subscription: Subscription) -> str:
    """Body of the track subscription; ``callbackUrl`` is a sandbox choice (ZTO configures it per app)."""
    body = _with_phone({"billCode": subscription.waybill_no}, subscription.phone_tail)
    body["callbackUrl"] = subscription.callback_url
    return dumps(body)


def query_body(waybill_no: str, phone: str) -> str:
    """Body of the track query."""
    return dumps(_with_phone({"billCode": waybill_no}, phone))


def beijing_time(text: str) -> datetime:
    """A ZTO time (Beijing, ``yyyy-MM-dd HH:mm:ss``) as an aware UTC datetime."""
    try:
        local = datetime.strptime(text.strip(), _TIME_FORMAT)
    except ValueError as exc:
        raise PayloadError(f"bad time {text!r}") from exc
    return local.replace(tzinfo=BEIJING).astimezone(UTC)


def text_of(item: Mapping[str, Any], name: str) -> str:
    """A scalar field as text ('' when absent); an object or list where text belongs is malformed."""
    value = item.get(name)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise PayloadError(f"{name} is not a scalar")
    return str(value)


def trace_event(item: object) -> TrackingEvent:
    """One trace item (a push's ``data`` or an item of a query's ``result``)."""
    if not isinstance(item, Mapping):
        raise PayloadError("a trace item is not an object")
    action = text_of(item, "action")
    if not action:
        raise PayloadError("a trace item has no action")
    return TrackingEvent(
        at=beijing_time(text_of(item, "actionTime")),
        status=codes.tracking_status(action),
        code=action,
        description=text_of(item, "desc"),
        location=text_of(item, "facilityName") or text_of(item, "city"),
    )


def snapshot(carrier_code: str, waybill_no: str, events: Sequence[TrackingEvent], *,
             incremental: bool = False) -> TrackingSnapshot:
    """A snapshot of ``events`` newest first; without any, the parcel was not scanned yet (created)."""
    ordered = sorted(events, key=lambda event: event.at, reverse=True)  # stable: equal times keep order
    status = ordered[0].status if ordered else TrackingStatus.created
    return TrackingSnapshot(carrier_code=carrier_code, waybill_no=waybill_no, status=status,
                            events=tuple(ordered), incremental=incremental)


def query_snapshot(result: object, *, carrier_code: str, waybill_no: str) -> TrackingSnapshot:
    """The track query's ``result`` (sandbox choice: the trace items, oldest first) as a snapshot."""
    if result is None:
        result = []
    if not isinstance(result, list):
        raise PayloadError("result is not a list")
    events = [trace_event(item) for item in result]
    # ZTO's order is not documented: sort, newest first, whatever it was.
    return snapshot(carrier_code, waybill_no, list(reversed(events)))
