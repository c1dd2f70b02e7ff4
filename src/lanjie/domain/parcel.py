"""The parcel (包裹): a shipped Shipment with its goods and parties, and its normalised tracking status."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lanjie.domain.events import Event
from lanjie.domain.states import TrackingStatus


@dataclass(frozen=True)
class Party:
    name: str
    phone: str
    address: str


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    qty: int
    price_fen: int


@dataclass
class Shipment:
    """A shipped parcel (包裹) and its normalised tracking status."""

    id: str
    shop_id: str
    carrier: str  # plugin, e.g. kuaidi100
    carrier_code: str  # courier, e.g. zto
    waybill_no: str
    order_id: str
    items: list[Item]
    value_fen: int
    freight_fen: int
    sender: Party
    recipient: Party
    created_at: datetime
    insured_fen: int | None = None
    tracking_status: TrackingStatus = TrackingStatus.created
    tracking_at: datetime | None = None
    tracking_events: list[dict[str, Any]] = field(default_factory=list)
    subscription: str = ""
    updated_at: datetime | None = None
    events: list[Event] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def register(cls, **fields: Any) -> Shipment:
        """A newly shipped parcel, recorded."""
        shipment = cls(**fields)
        shipment.events.append(Event("shipment.registered", "shipment", shipment.id, {
            "waybill_no": shipment.waybill_no, "carrier": f"{shipment.carrier}:{shipment.carrier_code}",
            "order_id": shipment.order_id}))
        return shipment

    def correct_carrier_code(self, code: str, *, reported_by: str) -> bool:
        """The carrier says the courier code was wrong (Kuaidi100 autoCheck): take the right one."""
        if not code or code == self.carrier_code:
            return False
        previous, self.carrier_code = self.carrier_code, code
        self.events.append(Event("shipment.carrier_corrected", "shipment", self.id, {
            "waybill_no": self.waybill_no, "from": previous, "to": code, "reported_by": reported_by}))
        return True

    def apply_tracking(self, status: TrackingStatus, at: datetime,
                       history: list[dict[str, Any]], subscription: str = "") -> bool:
        """Take a carrier's tracking snapshot if it is newer than what we hold (event time wins, not arrival).

        Two scans can share a timestamp (carriers report whole seconds): at the same time, the history
        with more scans is the newer one.
        """
        if subscription:
            self.subscription = subscription
        if self.tracking_at is not None and (at < self.tracking_at or (
                at == self.tracking_at and len(history) <= len(self.tracking_events))):
            return False
        previous = self.tracking_status
        self.tracking_status, self.tracking_at, self.tracking_events = status, at, history
        self.events.append(Event("shipment.tracking_updated", "shipment", self.id, {
            "waybill_no": self.waybill_no, "from": previous, "to": status, "at": at.isoformat(),
        }))
        return True
