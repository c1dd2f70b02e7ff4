"""Which internal events a shop's endpoints hear about, under which public type, in which body.

The events table speaks lanjie's internal vocabulary (``aftersale.status_changed``,
``intercept.submitted`` …); endpoints get a smaller, stable set of public types:

    aftersale.created                      → case.created
    aftersale.settled                      → case.settled
    any other aftersale.*                  → case.updated
    intercept.submitted, intercept.refused → intercept.answered  (data.answer: accepted | refused)
    intercept.succeeded                    → intercept.succeeded
    intercept.failed                       → intercept.failed
    return.*, claim.*                      → the same name
    anything else                          → not sent
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "EventType",
    "PASS_THROUGH",
    "body",
    "invalid_event_types",
    "iso_utc",
    "public_type",
    "wants",
]


class EventType(StrEnum):
    """The public event types with fixed names (``return.*`` and ``claim.*`` pass through as they are)."""

    case_created = "case.created"
    case_updated = "case.updated"  # status changes, parcels received, anything else about the case
    case_settled = "case.settled"  # the refund went through; the case is done
    intercept_answered = "intercept.answered"  # the carrier accepted or refused at once
    intercept_succeeded = "intercept.succeeded"  # the parcel turned back
    intercept_failed = "intercept.failed"  # an accepted intercept did not happen (e.g. missed)


#: Families whose internal events are sent under their own name.
PASS_THROUGH = ("return", "claim")
_FAMILIES = ("case", "intercept", *PASS_THROUGH)
_NAME = re.compile(r"^[a-z][a-z0-9_]*\.([a-z][a-z0-9_]*|\*)$")

_FIXED = {
    "aftersale.created": EventType.case_created,
    "aftersale.settled": EventType.case_settled,
    "intercept.submitted": EventType.intercept_answered,
    "intercept.refused": EventType.intercept_answered,
    "intercept.succeeded": EventType.intercept_succeeded,
    "intercept.failed": EventType.intercept_failed,
}
_ANSWERS = {"intercept.submitted": "accepted", "intercept.refused": "refused"}


def public_type(internal_type: str) -> str | None:
    """The public type an internal event is sent as, or None when endpoints do not hear of it."""
    if internal_type in _FIXED:
        return str(_FIXED[internal_type])
    family = internal_type.partition(".")[0]
    if family == "aftersale":
        return str(EventType.case_updated)
    if family in PASS_THROUGH and _NAME.match(internal_type) and not internal_type.endswith("*"):
        return internal_type
    return None


def invalid_event_types(names: Iterable[str]) -> list[str]:
    """The names an endpoint may not subscribe to (not a public type, family wildcard or return/claim name)."""
    return [name for name in names if not _subscribable(name)]


def _subscribable(name: str) -> bool:
    if name in {str(t) for t in EventType}:
        return True
    if not _NAME.match(name):
        return False
    family, _, rest = name.partition(".")
    if rest == "*":
        return family in _FAMILIES  # e.g. intercept.* for every intercept type
    return family in PASS_THROUGH  # issue 5 names return.* and claim.* events; they pass through


def wants(event_types: Iterable[str], public: str) -> bool:
    """Whether an endpoint subscribed to ``event_types`` (empty = everything) gets ``public``."""
    chosen = set(event_types)
    return not chosen or public in chosen or f"{public.partition('.')[0]}.*" in chosen


def body(*, event_id: int, internal_type: str, public: str, aftersale_id: str | None, subject_type: str,
         subject_id: str, payload: Mapping[str, Any], created_at: datetime) -> bytes:
    """The exact bytes sent for one event: compact UTF-8 JSON with the type, the time and the data."""
    data: dict[str, Any] = {"event_id": event_id, "aftersale_id": aftersale_id, "subject_type": subject_type,
                            "subject_id": subject_id, "event": internal_type}
    if internal_type in _ANSWERS:
        data["answer"] = _ANSWERS[internal_type]
        data["reason"] = payload.get("reason")  # None when accepted
    data.update((k, v) for k, v in payload.items() if k not in data)
    document = {"type": public, "timestamp": iso_utc(created_at), "data": data}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def iso_utc(at: datetime) -> str:
    """``2026-11-27T08:30:00.123Z``: ISO 8601 in UTC, milliseconds, Z for the zone."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
