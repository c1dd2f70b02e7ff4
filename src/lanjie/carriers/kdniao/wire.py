"""Kdniao on the wire: DataSign, request forms and parsing of answers, all pure functions.

Every request is a form POST (``application/x-www-form-urlencoded;charset=utf-8``) of
``RequestData`` (JSON serialised once), ``EBusinessID``, ``RequestType``, ``DataSign`` and
``DataType=2``. ``DataSign`` is the Base64 of the 32-character **lower-case hex string** of
MD5(RequestData + AppKey) — of the hex text, not of the raw digest — and is URL-encoded exactly once,
by the form encoding (carrier-protocols §3.1, §17). Pushes carry a DataSign made the same way.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from lanjie.carriers.base import Subscription, TrackingEvent, TrackingSnapshot
from lanjie.carriers.errors import CarrierRejected
from lanjie.domain.states import InterceptReason, TrackingStatus

from . import codes

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded;charset=utf-8"
BEIJING = timezone(timedelta(hours=8), "CST")  # China has had no daylight saving time since 1991
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

QUERY_TYPE = "1002"  # 即时查询 real-time query
SUBSCRIBE_TYPE = "1008"  # 轨迹订阅 track subscription
PUSH_TYPE = "101"  # 轨迹推送 trace push (Kdniao → us)
#: Paths under the ``api`` endpoint (§3.1 gateways).
QUERY_PATH = "/Ebusiness/EbusinessOrderHandle.aspx"
SUBSCRIBE_PATH = "/api/dist"


class PayloadError(ValueError):
    """A Kdniao payload is not shaped as expected (each caller maps it to its own error)."""


def dumps(value: object) -> str:
    """Serialise a ``RequestData`` the one way lanjie signs and sends it (compact, UTF-8 kept)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def data_sign(request_data: str | bytes, app_key: str) -> str:
    """``DataSign`` before form encoding: Base64 of the lower-case hex MD5 of RequestData + AppKey."""
    raw = request_data.encode("utf-8") if isinstance(request_data, str) else request_data
    hex_digest = hashlib.md5(raw + app_key.encode("utf-8")).hexdigest()
    return base64.b64encode(hex_digest.encode("ascii")).decode("ascii")


def form(request_type: str, request_data: str, *, ebusiness_id: str, app_key: str) -> dict[str, str]:
    """The form fields of a request, in the order sent (the form encoding is applied once, later)."""
    return {"RequestData": request_data, "EBusinessID": ebusiness_id, "RequestType": request_type,
            "DataSign": data_sign(request_data, app_key), "DataType": "2"}


def shipper_code(carrier_code: str) -> str:
    """The ShipperCode of a lanjie courier code; a courier Kdniao is not mapped for is refused."""
    code = codes.SHIPPER_CODES.get(carrier_code.strip().lower())
    if code is None:
        raise CarrierRejected("courier", f"kdniao has no ShipperCode for courier {carrier_code!r}",
                              reason=InterceptReason.not_supported)
    return code


def phone_tail(phone: str) -> str:
    """The last four digits of a phone number, which is all Kdniao asks for."""
    return "".join(ch for ch in phone if ch.isdigit())[-4:]


def _with_customer(data: dict[str, str], shipper: str, phone: str) -> dict[str, str]:
    tail = phone_tail(phone)
    if shipper in codes.PHONE_TAIL_SHIPPERS and tail:
        data["CustomerName"] = tail
    return data


def query_request_data(carrier_code: str, waybill_no: str, phone: str = "") -> str:
    """RequestData of the real-time query (1002)."""
    shipper = shipper_code(carrier_code)
    return dumps(_with_customer({"OrderCode": "", "ShipperCode": shipper, "LogisticCode": waybill_no},
                                shipper, phone))


def subscribe_request_data(subscription: Subscription) -> str:
    """RequestData of the track subscription (1008).

    ``Callback`` is Kdniao's own field, echoed back in every push as ``CallBack``; lanjie puts its
    callback URL there, which the sandbox twin also pushes to (*sandbox choice*: real Kdniao pushes
    to the URL configured in its console).
    """
    shipper = shipper_code(subscription.carrier_code)
    data = _with_customer({"ShipperCode": shipper, "LogisticCode": subscription.waybill_no}, shipper,
                          subscription.phone_tail)
    data["Callback"] = subscription.callback_url
    return dumps(data)


def result_code(body: Mapping[str, Any]) -> str:
    """The answer's ``ResultCode`` (sandbox choice of field).

    Without one: ``Success: true`` is 100; ``Success: false`` on a trace-shaped answer (it has
    ``Traces``) is 404, no trace (lanjie's reading of Kdniao's "暂无轨迹信息"); anything else is "".
    """
    code = body.get("ResultCode")
    if code not in (None, ""):
        return str(code)
    if body.get("Success") is True:
        return "100"
    if "Traces" in body:
        return "404"
    return ""


def beijing_time(text: str) -> datetime:
    """A Kdniao time (Beijing, ``yyyy-MM-dd HH:mm:ss``) as an aware UTC datetime."""
    try:
        local = datetime.strptime(text.strip(), _TIME_FORMAT)
    except ValueError as exc:
        raise PayloadError(f"bad time {text!r}") from exc
    return local.replace(tzinfo=BEIJING).astimezone(UTC)


def wire_time(at: datetime) -> str:
    """An instant as Kdniao writes it: Beijing time, ``yyyy-MM-dd HH:mm:ss``."""
    return at.astimezone(BEIJING).strftime(_TIME_FORMAT)


def text(data: Mapping[str, Any], name: str) -> str:
    """A scalar field as text ("" when absent or null)."""
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise PayloadError(f"{name} is not a scalar")
    return str(value)


def traces_of(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ``Traces`` list, each checked to be an object."""
    traces = data.get("Traces") or []
    if not isinstance(traces, list) or not all(isinstance(trace, Mapping) for trace in traces):
        raise PayloadError("Traces is not a list of objects")
    return traces


def newest_trace(traces: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The newest trace by AcceptTime (the later one in the list wins a tie: Kdniao sends oldest first)."""
    if not traces:
        return None
    return max(enumerate(traces), key=lambda item: (beijing_time(text(item[1], "AcceptTime")), item[0]))[1]


def events(data: Mapping[str, Any]) -> list[TrackingEvent]:
    """The traces as events, newest first; the newest borrows the parcel's StateEx/State if it has no Action."""
    traces = traces_of(data)
    newest = newest_trace(traces)
    parcel_code = text(data, "StateEx") or text(data, "State")
    found = []
    for index, trace in enumerate(traces):
        at = beijing_time(text(trace, "AcceptTime"))
        code = text(trace, "Action").strip() or (parcel_code if trace is newest else "")
        found.append((at, index, TrackingEvent(at=at, status=codes.tracking_status(code), code=code,
                                               description=text(trace, "AcceptStation"),
                                               location=text(trace, "Location"))))
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [event for _, _, event in found]


def tracking_snapshot(data: Mapping[str, Any], *, carrier_code: str, waybill_no: str) -> TrackingSnapshot:
    """A snapshot from a 1002 answer or a push's TracingData: the full history, newest first."""
    found = events(data)
    return TrackingSnapshot(
        carrier_code=carrier_code,
        waybill_no=text(data, "LogisticCode") or waybill_no,
        status=found[0].status if found else TrackingStatus.created,
        events=tuple(found),
    )


def no_trace(carrier_code: str, waybill_no: str) -> TrackingSnapshot:
    """What "no trace" (404) means: nothing scanned yet, so not yet picked up."""
    return TrackingSnapshot(carrier_code=carrier_code, waybill_no=waybill_no, status=TrackingStatus.created,
                            events=())
