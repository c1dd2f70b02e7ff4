"""STO's link gateway on the wire: request forms, signatures and parsing of answers, all pure functions.

Each ``content`` is serialised once (compact, UTF-8 kept as is, key order as written here); that one
string is signed and sent, form-encoded (carrier-protocols.md §7, §17).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from lanjie.carriers import md5b64
from lanjie.carriers.base import Subscription, TrackingEvent, TrackingSnapshot
from lanjie.domain.states import TrackingStatus

from . import codes

GATEWAY_PATH = "/gateway/link.do"  # sandbox choice (the public PHP client's gateway)
BEIJING = timezone(timedelta(hours=8), "CST")
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Api:
    """An STO gateway API: its ``api_name`` and the ``to_appkey`` / ``to_code`` that route it."""

    name: str
    to_appkey: str
    to_code: str


#: Sandbox choices: STO does not publish its trace APIs.
QUERY = Api("STO_TRACE_QUERY_COMMON", "sto_trace_query", "sto_trace_query")
SUBSCRIBE = Api("STO_TRACE_PLATFORM_SUBSCRIBE", "sto_trace_platform", "sto_trace_platform")
PUSH_API_NAME = "STO_TRACE_PUSH"


class PayloadError(ValueError):
    """An STO payload is not shaped as expected (each caller maps it to its own error)."""


def dumps(value: object) -> str:
    """Serialise a ``content`` the one way lanjie sends and signs it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def request_form(api: Api, content: str, *, from_appkey: str, from_code: str, secret_key: str) -> dict[str, str]:
    """The gateway's form, in the documented field order; ``data_digest`` = Base64(raw MD5(content + secretKey))."""
    return {"api_name": api.name, "content": content, "data_digest": md5b64.sign(content, secret_key),
            "from_appkey": from_appkey, "from_code": from_code, "to_appkey": api.to_appkey, "to_code": api.to_code}


def subscribe_content(subscription: Subscription) -> str:
    """``content`` of the trace subscription (sandbox choice: the waybill and the push URL)."""
    return dumps({"waybillNo": subscription.waybill_no, "callbackUrl": subscription.callback_url})


def query_content(waybill_no: str) -> str:
    """``content`` of the trace query (sandbox choice)."""
    return dumps({"waybillNoList": [waybill_no]})


def beijing_time(text: str) -> datetime:
    """An STO time (Beijing, ``yyyy-MM-dd HH:mm:ss``) as an aware UTC datetime."""
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
    """One trace item (a push's ``content`` or an item of a query's list)."""
    if not isinstance(item, Mapping):
        raise PayloadError("a trace item is not an object")
    scan_type = text_of(item, "scanType")
    if not scan_type:
        raise PayloadError("a trace item has no scanType")
    return TrackingEvent(
        at=beijing_time(text_of(item, "opTime")),
        status=codes.tracking_status(scan_type),
        code=scan_type,
        description=text_of(item, "memo"),
        location=text_of(item, "opOrgName") or text_of(item, "opOrgCityName"),
    )


def snapshot(carrier_code: str, waybill_no: str, events: Sequence[TrackingEvent], *,
             incremental: bool = False) -> TrackingSnapshot:
    """A snapshot of ``events`` newest first; without any, the parcel was not scanned yet (created)."""
    ordered = sorted(events, key=lambda event: event.at, reverse=True)
    status = ordered[0].status if ordered else TrackingStatus.created
    return TrackingSnapshot(carrier_code=carrier_code, waybill_no=waybill_no, status=status,
                            events=tuple(ordered), incremental=incremental)


def query_snapshot(data: object, *, carrier_code: str, waybill_no: str) -> TrackingSnapshot:
    """The query's ``data`` (sandbox choice: waybill → its trace items, oldest first) as a snapshot."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise PayloadError("data is not an object")
    items = data.get(waybill_no)
    if items is None:
        items = []
    if not isinstance(items, list):
        raise PayloadError(f"data.{waybill_no} is not a list")
    events = [trace_event(item) for item in items]
    return snapshot(carrier_code, waybill_no, list(reversed(events)))
