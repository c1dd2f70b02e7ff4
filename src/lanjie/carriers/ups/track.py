"""The UPS Track API and the judgement of an intercept from it: pure functions.

``GET {api}/api/track/v1/details/{inquiryNumber}`` is a real UPS API, but absent from the reference:
every field read here (``trackResponse.shipment[].package[].activity[]`` with ``date``/``time``/
``gmtDate``/``gmtTime``/``gmtOffset``, ``location.address``, ``status.type``/``status.code``/
``status.description``) is a *sandbox choice* taken from UPS's public ``Tracking.yaml``, and the status
values are lanjie's (see ``codes``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from lanjie.carriers.base import InterceptOutcome, InterceptState, TrackingEvent, TrackingSnapshot
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus

from . import codes
from .wire import Eligibility, PayloadError, feature_for, pending_intercept
from .wire import text as _text


def _offset(text: str) -> timezone:
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text.strip())
    if match is None:
        return UTC
    delta = timedelta(hours=int(match[2]), minutes=int(match[3]))
    return timezone(-delta if match[1] == "-" else delta)


def activity_time(activity: Mapping[str, Any]) -> datetime:
    """An activity's instant: ``gmtDate`` + ``gmtTime`` when given, else local ``date`` + ``time`` at ``gmtOffset``."""
    gmt_date, gmt_time = _text(activity.get("gmtDate")), "".join(ch for ch in _text(activity.get("gmtTime"))
                                                                  if ch.isdigit())
    try:
        if gmt_date and gmt_time:
            return datetime.strptime(gmt_date + gmt_time.zfill(6), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        local = datetime.strptime(_text(activity.get("date")) + _text(activity.get("time")).zfill(6),
                                  "%Y%m%d%H%M%S")
    except ValueError as exc:
        raise PayloadError(f"bad activity time in {dict(activity)!r}") from exc
    return local.replace(tzinfo=_offset(_text(activity.get("gmtOffset")))).astimezone(UTC)


def _location(activity: Mapping[str, Any]) -> str:
    location = activity.get("location")
    address = location.get("address") if isinstance(location, Mapping) else None
    if not isinstance(address, Mapping):
        return ""
    parts = (_text(address.get(name)) for name in ("city", "stateProvince", "countryCode"))
    return ", ".join(part for part in parts if part)


def _event(activity: object) -> TrackingEvent:
    if not isinstance(activity, Mapping):
        raise PayloadError("an activity is not an object")
    status = activity.get("status")
    if not isinstance(status, Mapping):
        raise PayloadError("an activity has no status")
    type_, code = _text(status.get("type")), _text(status.get("code"))
    return TrackingEvent(at=activity_time(activity), status=codes.tracking_status(type_, code),
                         code=f"{type_}/{code}", description=_text(status.get("description")),
                         location=_location(activity))


def tracking_snapshot(body: Mapping[str, Any], tracking_no: str) -> TrackingSnapshot:
    """A snapshot from ``trackResponse.shipment[].package[]`` (the package with our number, else the first)."""
    try:
        shipments = body["trackResponse"]["shipment"]
        packages = [p for s in shipments for p in s.get("package") or []]
    except (KeyError, TypeError, AttributeError) as exc:
        raise PayloadError("no trackResponse.shipment[].package[]") from exc
    if not packages:
        return no_trace(tracking_no)
    package = next((p for p in packages if isinstance(p, Mapping) and p.get("trackingNumber") == tracking_no),
                   packages[0])
    activities = package.get("activity") if isinstance(package, Mapping) else None
    if not isinstance(activities, list):
        raise PayloadError("activity is not a list")
    events = sorted((_event(a) for a in activities), key=lambda e: e.at, reverse=True)
    return TrackingSnapshot(carrier_code="ups", waybill_no=tracking_no,
                            status=events[0].status if events else TrackingStatus.created, events=tuple(events))


def no_trace(tracking_no: str) -> TrackingSnapshot:
    """Nothing scanned yet (UPS "no tracking information available"): not yet picked up."""
    return TrackingSnapshot(carrier_code="ups", waybill_no=tracking_no, status=TrackingStatus.created, events=())


_TURNED_BACK = frozenset({TrackingStatus.returning, TrackingStatus.returned})
_HALTED = frozenset({TrackingStatus.lost, TrackingStatus.damaged})


def intercept_state(features: Mapping[str, Eligibility], snapshot: TrackingSnapshot | None,
                    task_id: str | None) -> InterceptState:
    """Judge an intercept, since UPS has no intercept-status query.

    A request UPS would let us cancel or change is pending. Otherwise the trace decides: a return scan,
    or a redirect/will-call scan, means it took effect; delivered without one means it was missed
    (``already_delivered`` when we hold no task id); lost or damaged first means it failed. When UPS would
    accept a new request and the trace shows none of that, there is no intercept (``not_found``: cancelled,
    or never registered), which lets lanjie resubmit after a lost answer. When UPS would not, and the trace
    says nothing either, the answer is ``indeterminate``: UPS did not say it holds our request.
    """
    if pending_intercept(features):
        return InterceptState(InterceptOutcome.pending, task_id=task_id)
    events = snapshot.events if snapshot is not None else ()
    if any(e.status in _TURNED_BACK or e.code.split("/")[-1] in codes.DIVERTED_CODES for e in events):
        return InterceptState(InterceptOutcome.succeeded, task_id=task_id)
    if snapshot is not None and snapshot.status is TrackingStatus.delivered:
        reason = InterceptReason.missed if task_id else InterceptReason.already_delivered
        return InterceptState(InterceptOutcome.failed, task_id=task_id, reason=reason)
    if snapshot is not None and snapshot.status in _HALTED:
        return InterceptState(InterceptOutcome.failed, task_id=task_id, reason=InterceptReason.carrier_error,
                              message=f"the parcel is {snapshot.status}")
    rts = feature_for(features, InterceptType.return_to_sender)
    if rts is not None and rts.create:
        return InterceptState(InterceptOutcome.not_found, task_id=task_id)
    return InterceptState(InterceptOutcome.indeterminate, task_id=task_id)
