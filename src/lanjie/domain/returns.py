"""The way back of an intercepted parcel (退回), from the successful intercept to the warehouse's inspection.

A ReturnLeg follows the parcel's own tracking: return scans keep it ``returning``; no scan for longer
than the carrier's usual gap, or an exception scan (疑难), makes it ``stalled``; the sender's signature
makes it ``returned``; a loss or damage the carrier reports ends it there (and opens a claim,
``claims``); the warehouse's scan and inspection make it ``received``. Like every entity it records
events and never calls out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lanjie.domain.errors import RuleViolation
from lanjie.domain.events import Event
from lanjie.domain.states import RETURN_TRANSITIONS, Inspection, ReturnStatus, TrackingStatus, advance

#: The parcel's tracking status → where its way back stands (statuses not listed change nothing).
_FROM_TRACKING: dict[TrackingStatus, ReturnStatus] = {
    TrackingStatus.returning: ReturnStatus.returning,
    TrackingStatus.returned: ReturnStatus.returned,
    TrackingStatus.lost: ReturnStatus.lost,
    TrackingStatus.damaged: ReturnStatus.damaged,
    TrackingStatus.exception: ReturnStatus.stalled,  # the carrier reports a problem (疑难): a person should ask
}


@dataclass(frozen=True)
class ReceivedItem:
    sku: str
    expected: int
    received: int


@dataclass
class ReturnLeg:
    """One intercepted parcel on its way back to the shop."""

    id: str
    shop_id: str
    aftersale_id: str
    shipment_id: str
    waybill_no: str
    started_at: datetime
    status: ReturnStatus = ReturnStatus.returning
    return_waybill_no: str = ""  # a new number some carriers give the return; scanning it finds the case too
    last_scan_at: datetime | None = None
    eta_at: datetime | None = None
    returned_at: datetime | None = None
    received_at: datetime | None = None
    inspection: Inspection | None = None
    inspection_note: str = ""
    items: list[ReceivedItem] = field(default_factory=list)
    photos: list[str] = field(default_factory=list)  # evidence file ids
    events: list[Event] = field(default_factory=list, repr=False, compare=False)

    def _record(self, type_: str, **payload: Any) -> None:
        self.events.append(Event(type_, "return", self.id, {"aftersale_id": self.aftersale_id,
                                                              "waybill_no": self.waybill_no, **payload}))

    def _move(self, target: ReturnStatus, **payload: Any) -> None:
        if target == self.status:
            return
        previous = self.status
        self.status = advance("return", RETURN_TRANSITIONS, self.status, target)
        self._record(f"return.{target}", **{"from": previous, **payload})

    @classmethod
    def start(cls, *, id: str, shop_id: str, aftersale_id: str, shipment_id: str, waybill_no: str,
              now: datetime, typical_days: float) -> ReturnLeg:
        """The intercept succeeded: the parcel is on its way back; ``typical_days`` gives the estimate."""
        leg = cls(id=id, shop_id=shop_id, aftersale_id=aftersale_id, shipment_id=shipment_id, waybill_no=waybill_no,
                  started_at=now, last_scan_at=now, eta_at=now + timedelta(days=typical_days))
        leg._record("return.started", eta_at=leg.eta_at.isoformat() if leg.eta_at else None)
        return leg

    @property
    def open(self) -> bool:
        """Still on its way (nothing final has happened to it)."""
        return self.status in (ReturnStatus.returning, ReturnStatus.stalled)

    def scanned(self, tracking: TrackingStatus, at: datetime) -> None:
        """A new scan of the parcel (its normalised status and time)."""
        if self.status == ReturnStatus.received:
            return
        if self.last_scan_at is None or at > self.last_scan_at:
            self.last_scan_at = at
        target = _FROM_TRACKING.get(tracking)
        if target is None:
            if self.status == ReturnStatus.stalled:
                self._move(ReturnStatus.returning, at=at.isoformat())
            return
        if target == ReturnStatus.returning and self.status not in (ReturnStatus.stalled, ReturnStatus.lost):
            return
        if target not in RETURN_TRANSITIONS[self.status] and target != self.status:
            return  # a stale or out-of-order scan never moves the way back backwards
        if target == ReturnStatus.returned:
            self.returned_at = at
        self._move(target, at=at.isoformat())

    def check_stalled(self, now: datetime, *, after: timedelta) -> bool:
        """True (and ``stalled``) when an open way back has had no scan for longer than ``after``."""
        if self.status != ReturnStatus.returning or self.last_scan_at is None or now - self.last_scan_at < after:
            return False
        self._move(ReturnStatus.stalled, last_scan_at=self.last_scan_at.isoformat(),
                   hours_without_scan=round((now - self.last_scan_at).total_seconds() / 3600, 1))
        return True

    def declare_lost(self, now: datetime, *, note: str) -> None:
        """A person gives up on a stalled (or silent) return: the carrier has lost it."""
        if not self.open:
            raise RuleViolation("return_status", f"the return of {self.waybill_no} is {self.status}, not on its way")
        self._move(ReturnStatus.lost, declared_by="person", note=note, at=now.isoformat())

    def receive(self, now: datetime, *, inspection: Inspection, items: list[ReceivedItem], photos: list[str],
                note: str = "") -> None:
        """The warehouse scanned the parcel in and inspected it."""
        if self.status == ReturnStatus.received:
            raise RuleViolation("already_received", f"the return of {self.waybill_no} was received already")
        if inspection == Inspection.short and not any(i.received < i.expected for i in items):
            raise RuleViolation("items", "a short return names the items that are missing (received < expected)")
        if inspection == Inspection.ok and any(i.received < i.expected for i in items):
            raise RuleViolation("items", "items are missing: the inspection is short, not ok")
        self.inspection, self.items, self.photos, self.inspection_note = inspection, items, photos, note
        self.received_at = now
        self._move(ReturnStatus.received, inspection=inspection,
                   items=[{"sku": i.sku, "expected": i.expected, "received": i.received} for i in items],
                   photos=photos, note=note)

    @property
    def missing_items(self) -> list[ReceivedItem]:
        return [i for i in self.items if i.received < i.expected]
