"""Builders for domain tests: parcels, cases and the events they are expected to record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lanjie.domain.events import Event
from lanjie.domain.model import AfterSale, Item, Party, Shipment
from lanjie.domain.states import CaseStatus, CaseType, SettlementPolicy, TrackingStatus

T0 = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
CASE_ID = "as_7f3k"
SHOP_ID = "shop_1"
REFUND_FEN = 12_900

SENDER = Party(name="Warehouse Hangzhou", phone="0571-0000", address="1 Depot Rd, Hangzhou")
RECIPIENT = Party(name="Li Lei", phone="138-0000-0000", address="9 Garden St, Shanghai")
NEW_ADDRESS = Party(name="Li Lei", phone="138-0000-0000", address="12 Office Tower, Shanghai")


def at(minutes: int) -> datetime:
    """A moment ``minutes`` after the start of the test day (aware UTC)."""
    return T0 + timedelta(minutes=minutes)


#: When the carrier last reported on a test parcel, unless a test says otherwise.
REPORTED_AT = T0 - timedelta(hours=1)


def make_shipment(n: int = 1, *, status: TrackingStatus = TrackingStatus.in_transit,
                  tracking_at: datetime | None = REPORTED_AT) -> Shipment:
    """Parcel number ``n`` (id ``sh_<n>``, waybill ``ZT<n padded>``) as its carrier last reported it.

    ``tracking_at=None`` is a parcel the carrier has not reported on yet.
    """
    return Shipment(
        id=f"sh_{n}", shop_id=SHOP_ID, carrier="kuaidi100", carrier_code="zto", waybill_no=f"ZT{n:010d}",
        order_id="ord_1", items=[Item(sku=f"sku-{n}", name="Tea set", qty=1, price_fen=REFUND_FEN)],
        value_fen=REFUND_FEN, freight_fen=800, sender=SENDER, recipient=RECIPIENT, created_at=T0,
        tracking_status=status, tracking_at=tracking_at,
    )


def open_case(*shipments: Shipment, policy: SettlementPolicy = SettlementPolicy.on_turned_back,
              case_type: CaseType = CaseType.refund_only_shipped, refund_fen: int = REFUND_FEN,
              case_id: str = CASE_ID, clear_events: bool = False) -> AfterSale:
    """Open a case over ``shipments`` through ``AfterSale.open``; optionally forget the opening event."""
    case = AfterSale.open(id=case_id, shop_id=SHOP_ID, order_id="ord_1", type=case_type, refund_fen=refund_fen,
                          shipment_ids=[s.id for s in shipments], settlement_policy=policy, created_at=T0)
    if clear_events:
        case.events.clear()
    return case


def event(case: AfterSale, type_: str, subject_type: str, subject_id: str, **payload: Any) -> Event:
    """The event ``case`` records: every payload carries the case id first."""
    return Event(type_, subject_type, subject_id, {"aftersale_id": case.id, **payload})


def created(case: AfterSale) -> Event:
    return event(case, "aftersale.created", "aftersale", case.id, type=case.type, refund_fen=case.refund_fen,
                 order_id=case.order_id, status=CaseStatus.open)


def moved(case: AfterSale, from_: CaseStatus, to: CaseStatus) -> Event:
    return event(case, "aftersale.status_changed", "aftersale", case.id, **{"from": from_, "to": to})
