"""Yunda on the wire: the signature, request bodies and parsing of answers, all pure functions.

Every request is a JSON body serialised once; that one string is signed (carrier-protocols §8, §17:
``sign`` = lower-case hex MD5 of body + ``_`` + appSecret) and sent as its UTF-8 bytes, with the
headers ``app-key``, ``sign`` and ``req-time`` (milliseconds, not part of the digest).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from lanjie.carriers.base import Subscription, TrackingEvent, TrackingSnapshot
from lanjie.domain.states import TrackingStatus

from . import codes

JSON_MEDIA_TYPE = "application/json;charset=utf-8"
BEIJING = timezone(timedelta(hours=8), "CST")  # China has had no daylight saving time since 1991
COURIER = "yunda"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

#: Paths under the ``api`` endpoint. The query path is documented (typo included, §8); the
#: subscription path is a *sandbox choice* taken from a third-party client.
QUERY_PATH = "/outer/logictis/query"
SUBSCRIBE_PATH = "/outer/logictis/subscribe"


class PayloadError(ValueError):
    """A Yunda payload is not shaped as expected (each caller maps it to its own error)."""


def dumps(value: object) -> str:
    """Serialise a body the one way lanjie signs and sends it (compact, UTF-8 kept as is)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sign(body: str | bytes, app_secret: str) -> str:
    """Yunda's ``sign``: lower-case hex MD5 of the body, ``_``, then the app secret (UTF-8)."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return hashlib.md5(raw + b"_" + app_secret.encode("utf-8")).hexdigest()


def millis(at: datetime) -> str:
    """The ``req-time`` header: milliseconds since the epoch, computed without float rounding."""
    return str((at - _EPOCH) // timedelta(milliseconds=1))


def headers(body: str, *, app_key: str, app_secret: str, at: datetime) -> dict[str, str]:
    """The headers of a signed request, in the order sent."""
    return {"Content-Type": JSON_MEDIA_TYPE, "app-key": app_key, "sign": sign(body, app_secret),
            "req-time": millis(at)}


def query_body(waybill_no: str) -> str:
    """Body of the track query (``outer/logictis/query``)."""
    return dumps({"mailno": waybill_no})


def subscribe_body(subscription: Subscription) -> str:
    """Body of a track subscription.

    ``orders`` follows a third-party client; ``callback_url`` is a *sandbox choice* (Yunda's real push
    address is unknown, probably set in its console). lanjie has no order id when it subscribes, so
    ``orderid`` repeats the waybill number.
    """
    order = {"orderid": subscription.waybill_no, "mailno": subscription.waybill_no}
    return dumps({"orders": [order], "callback_url": subscription.callback_url})


def beijing_time(text: str) -> datetime:
    """A Yunda time (Beijing, ``yyyy-MM-dd HH:mm:ss``) as an aware UTC datetime."""
    try:
        local = datetime.strptime(text.strip(), _TIME_FORMAT)
    except ValueError as exc:
        raise PayloadError(f"bad time {text!r}") from exc
    return local.replace(tzinfo=BEIJING).astimezone(UTC)


def text(data: Mapping[str, Any], name: str) -> str:
    """A scalar field as text ("" when absent or null)."""
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise PayloadError(f"{name} is not a scalar")
    return str(value)


def steps_of(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ``steps`` list of a trace, each checked to be an object."""
    steps = data.get("steps") or []
    if not isinstance(steps, list) or not all(isinstance(step, Mapping) for step in steps):
        raise PayloadError("steps is not a list of objects")
    return steps


def _location(step: Mapping[str, Any]) -> str:
    return text(step, "station_name") or text(step, "next_city")


def events(steps: Sequence[Mapping[str, Any]]) -> list[TrackingEvent]:
    """The steps as events, newest first, whatever order they came in."""
    dated = sorted(((beijing_time(text(step, "time")), index, step) for index, step in enumerate(steps)),
                   key=lambda item: (item[0], item[1]))
    result: list[TrackingEvent] = []
    returned = False
    for at, _, step in dated:  # oldest first, so a signature after a RETURN step reads as 退签
        action = text(step, "action").strip().upper()
        result.append(TrackingEvent(at=at, status=codes.tracking_status(action, after_return=returned),
                                    code=action, description=text(step, "description"),
                                    location=_location(step)))
        returned = returned or action == codes.RETURN_ACTION
    result.reverse()
    return result


def tracking_snapshot(data: Mapping[str, Any], waybill_no: str) -> TrackingSnapshot:
    """A snapshot from a query answer's ``data`` or a push: ``{mailno, status, steps}`` (full history)."""
    found = events(steps_of(data))
    return TrackingSnapshot(
        carrier_code=COURIER,
        waybill_no=text(data, "mailno") or waybill_no,
        status=found[0].status if found else TrackingStatus.created,
        events=tuple(found),
    )


def no_trace(waybill_no: str) -> TrackingSnapshot:
    """What "no trace" (2001) means: nothing scanned yet, so not yet picked up."""
    return TrackingSnapshot(carrier_code=COURIER, waybill_no=waybill_no, status=TrackingStatus.created, events=())
