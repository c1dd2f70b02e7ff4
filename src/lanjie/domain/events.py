"""Domain events: what happened, recorded by entities, written to the events table by the unit of work."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    type: str  # e.g. "intercept.submitted"
    subject_type: str  # aftersale | intercept | refund | shipment
    subject_id: str
    payload: dict[str, Any] = field(default_factory=dict)
