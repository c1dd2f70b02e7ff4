"""J&T China's open platform on the wire: forms, digest headers and parsing of answers, all pure functions.

Each ``bizContent`` is serialised once (compact, UTF-8 kept as is, key order as written here); that
one string is signed and sent, form-encoded (carrier-protocols.md §6, §17). The ``timestamp`` header
is not part of the digest.
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

#: Sandbox choices: the paths used by the public Go client (maxbetas/jtexpress), not verified.
SUBSCRIBE_PATH = "/api/trace/subscribe"
QUERY_PATH = "/api/logistics/trace"
#: Every trace node, so lanjie sees the whole trace (a subscription names the nodes it wants).
ALL_TRACE_NODES = "&".join(str(node) for node in range(1, 15))
BEIJING = timezone(timedelta(hours=8), "CST")
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PayloadError(ValueError):
    """A J&T payload is not shaped as expected (each caller maps it to its own error)."""


def dumps(value: object) -> str:
    """Serialise a ``bizContent`` the one way lanjie sends and signs it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def millis(at: datetime) -> str:
    """The ``timestamp`` header: milliseconds since the epoch, computed without float rounding."""
    return str((at - _EPOCH) // timedelta(milliseconds=1))


def signed_headers(biz_content: str, *, api_account: str, private_key: str, timestamp: str) -> dict[str, str]:
    """Headers of a call: ``digest`` = Base64(raw MD5(bizContent + privateKey)), ``apiAccount``, ``timestamp``."""
    return {"apiAccount": api_account, "digest": md5b64.sign(biz_content, private_key), "timestamp": timestamp}


def subscribe_biz(subscription: Subscription, *, api_account: str) -> str:
    """``bizContent`` of the trace subscription: every node of one waybill, pushed to ``backUrl``."""
    return dumps({"id": api_account, "list": [{"traceNode": ALL_TRACE_NODES, "waybillCode": subscription.waybill_no,
                                               "backUrl": subscription.callback_url}]})


def query_biz(waybill_no: str) -> str:
    """``bizContent`` of the trace query."""
    return dumps({"billCodes": waybill_no})


def beijing_time(text: str) -> datetime:
    """A J&T time (Beijing, ``yyyy-MM-dd HH:mm:ss``) as an aware UTC datetime."""
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


def trace_node(item: Mapping[str, Any]) -> str:
    """An item's node: its ``traceNode``, else the node its ``scanType`` names, else that name as it is."""
    node = text_of(item, "traceNode")
    if node:
        return node
    name = text_of(item, "scanType")
    if not name:
        raise PayloadError("a trace item has neither traceNode nor scanType")
    return codes.SCAN_TYPE_NODES.get(name, name)


def trace_event(item: object) -> TrackingEvent:
    """One trace item (a push's ``bizContent`` or an item of a query's ``details``)."""
    if not isinstance(item, Mapping):
        raise PayloadError("a trace item is not an object")
    node = trace_node(item)
    return TrackingEvent(
        at=beijing_time(text_of(item, "scanTime")),
        status=codes.tracking_status(node),
        code=node,
        description=text_of(item, "desc"),
        location=text_of(item, "scanNetworkName") or text_of(item, "scanNetworkCity"),
    )


def snapshot(carrier_code: str, waybill_no: str, events: Sequence[TrackingEvent], *,
             incremental: bool = False) -> TrackingSnapshot:
    """A snapshot of ``events`` newest first; without any, the parcel was not scanned yet (created)."""
    ordered = sorted(events, key=lambda event: event.at, reverse=True)
    status = ordered[0].status if ordered else TrackingStatus.created
    return TrackingSnapshot(carrier_code=carrier_code, waybill_no=waybill_no, status=status,
                            events=tuple(ordered), incremental=incremental)


def query_snapshot(data: object, *, carrier_code: str, waybill_no: str) -> TrackingSnapshot:
    """The query's ``data`` (``[{billCode, details: [...]}]``) as the snapshot of ``waybill_no``."""
    if data is None:
        data = []
    if not isinstance(data, list):
        raise PayloadError("data is not a list")
    events: list[TrackingEvent] = []
    for bill in data:
        if not isinstance(bill, Mapping):
            raise PayloadError("an item of data is not an object")
        if text_of(bill, "billCode") != waybill_no:
            continue
        details = bill.get("details")
        if details is None:
            details = []
        if not isinstance(details, list):
            raise PayloadError("details is not a list")
        events.extend(trace_event(item) for item in details)
    # J&T's order is not documented (the sandbox lists oldest first): sort, newest first.
    return snapshot(carrier_code, waybill_no, list(reversed(events)))
