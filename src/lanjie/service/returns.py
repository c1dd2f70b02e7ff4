"""The way back of intercepted parcels: started when an intercept succeeds, moved by the parcel's
scans, watched for stalls, and ended by the warehouse's receiving scan and inspection.

Loss or damage — reported by the carrier, or found by the warehouse — drafts a claim (``claims``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lanjie.domain.errors import NotFound, RuleViolation
from lanjie.domain.model import AfterSale, Shipment
from lanjie.domain.returns import ReceivedItem, ReturnLeg
from lanjie.domain.states import ClaimType, Inspection, InterceptStatus, ReturnStatus
from lanjie.service import claims, commands
from lanjie.service.ids import new_id
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.settings import Settings
from lanjie.store import repository
from lanjie.store import returns as store

CHECK_STALLED = "return.stall_check"


def stall_after(settings: Settings, carrier: str) -> timedelta:
    """How long a return may go without a scan before it is ``stalled`` (per carrier plugin)."""
    return timedelta(hours=settings.return_stall_hours_by_carrier.get(carrier, settings.return_stall_hours))


def _watch(uow: UnitOfWork, leg: ReturnLeg, shipment: Shipment, settings: Settings) -> None:
    """Queue the stall check for the moment this leg would stall (once per last scan)."""
    if leg.open and leg.last_scan_at is not None:
        run_at = leg.last_scan_at + stall_after(settings, shipment.carrier)
        uow.enqueue(CHECK_STALLED, {"shop_id": leg.shop_id, "leg_id": leg.id},
                    key=f"stall:{leg.id}:{leg.last_scan_at:%Y%m%dT%H%M%S}", shop_id=leg.shop_id,
                    run_at=max(run_at, uow.now))


def start_legs(uow: UnitOfWork, case: AfterSale, settings: Settings) -> list[ReturnLeg]:
    """A leg for every parcel of the case whose intercept succeeded and that has none yet."""
    started = []
    for icpt in case.intercepts:
        if icpt.status != InterceptStatus.succeeded:
            continue
        if store.leg_for_shipment(uow.conn, shop_id=case.shop_id, shipment_id=icpt.shipment_id) is not None:
            continue
        shipment = uow.shipment(case.shop_id, icpt.shipment_id)
        assert shipment is not None
        leg = ReturnLeg.start(id=new_id("rt"), shop_id=case.shop_id, aftersale_id=case.id, shipment_id=shipment.id,
                              waybill_no=shipment.waybill_no, now=icpt.outcome_at or uow.now,
                              typical_days=settings.return_typical_days)
        if shipment.tracking_at is not None and shipment.tracking_at > leg.started_at:
            leg.scanned(shipment.tracking_status, shipment.tracking_at)
        store.add_leg(uow.conn, leg, uow.now)
        uow.track(leg)
        _watch(uow, leg, shipment, settings)
        started.append(leg)
    return started


def after_scan(uow: UnitOfWork, shipment: Shipment, settings: Settings) -> ReturnLeg | None:
    """The parcel has a new scan: move its way back, and draft a claim when the carrier reports a loss or damage."""
    leg = store.leg_for_shipment(uow.conn, shop_id=shipment.shop_id, shipment_id=shipment.id)
    if leg is None or shipment.tracking_at is None:
        return None
    before = leg.status
    leg.scanned(shipment.tracking_status, shipment.tracking_at)
    store.save_leg(uow.conn, leg, uow.now)
    uow.track(leg)
    if leg.status != before and leg.status in (ReturnStatus.lost, ReturnStatus.damaged):
        kind = ClaimType.loss if leg.status == ReturnStatus.lost else ClaimType.damage
        claims.draft(uow, leg, shipment, kind, loss_fen=claims.goods_value(shipment), settings=settings)
    _watch(uow, leg, shipment, settings)
    return leg


def declare_lost(uow: UnitOfWork, shop_id: str, leg_id: str, *, note: str, settings: Settings) -> tuple[ReturnLeg, str]:
    """A person declares a return lost (stalled for too long, the carrier cannot find it): a loss claim is drafted."""
    leg = store.get_leg(uow.conn, shop_id=shop_id, leg_id=leg_id)
    if leg is None:
        raise NotFound("return", leg_id)
    shipment = uow.shipment(shop_id, leg.shipment_id)
    assert shipment is not None
    leg.declare_lost(uow.now, note=note)
    store.save_leg(uow.conn, leg, uow.now)
    uow.track(leg)
    claim = claims.draft(uow, leg, shipment, ClaimType.loss, loss_fen=claims.goods_value(shipment), settings=settings)
    return leg, claim.id


def check_stalled(uow: UnitOfWork, shop_id: str, leg_id: str, settings: Settings) -> bool:
    """The stall check a leg queued for itself; True when it stalled now."""
    leg = store.get_leg(uow.conn, shop_id=shop_id, leg_id=leg_id)
    if leg is None:
        return False
    shipment = uow.shipment(shop_id, leg.shipment_id)
    assert shipment is not None
    stalled = leg.check_stalled(uow.now, after=stall_after(settings, shipment.carrier))
    if stalled:
        store.save_leg(uow.conn, leg, uow.now)
        uow.track(leg)
    return stalled


@dataclass(frozen=True)
class Received:
    leg: ReturnLeg
    case: AfterSale
    claim_id: str | None


def receive(uow: UnitOfWork, shop_id: str, *, waybill_no: str, inspection: Inspection,
            items: list[ReceivedItem] | None = None, photos: list[str] | None = None, note: str = "",
            damaged_value_fen: int | None = None, settings: Settings) -> Received:
    """The warehouse scanned a returned parcel (its forward waybill or the return's new number) and inspected it.

    Finds the case; records the inspection; a damaged or short parcel drafts a claim; the case counts
    as received once every parcel of it is (settling it under ``on_received``, and telling the platform
    where it listens).
    """
    waybill_no = waybill_no.strip()
    leg = store.leg_by_waybill(uow.conn, shop_id=shop_id, waybill_no=waybill_no)
    if leg is None:  # a parcel that came back without a successful intercept (refused at the door)
        shipment = uow.shipment_by_waybill(shop_id, waybill_no)
        case_ids = repository.case_ids_for_shipment(uow.conn, shop_id=shop_id, shipment_id=shipment.id) \
            if shipment is not None else []
        if shipment is None or not case_ids:
            raise NotFound("return", waybill_no)
        leg = ReturnLeg.start(id=new_id("rt"), shop_id=shop_id, aftersale_id=case_ids[-1], shipment_id=shipment.id,
                              waybill_no=shipment.waybill_no, now=uow.now, typical_days=0)
        store.add_leg(uow.conn, leg, uow.now)
    shipment = uow.shipment(shop_id, leg.shipment_id)
    assert shipment is not None
    expected = {i.sku: i.qty for i in shipment.items}
    given = {i.sku: i for i in items or []}
    unknown = sorted(set(given) - set(expected))
    if unknown:
        raise RuleViolation("items", f"not in parcel {shipment.waybill_no}: {', '.join(unknown)}")
    over = sorted(sku for sku, item in given.items() if item.received > expected[sku] or item.received < 0)
    if over:
        raise RuleViolation("items", f"received counts must be between 0 and what was shipped: {', '.join(over)}")
    counted = [given.get(sku) or ReceivedItem(sku, qty, qty) for sku, qty in expected.items()]
    counted = [ReceivedItem(i.sku, expected[i.sku], i.received) for i in counted]
    leg.receive(uow.now, inspection=inspection, items=counted, photos=list(photos or []), note=note)
    store.save_leg(uow.conn, leg, uow.now)
    uow.track(leg)
    claim_id = None
    if inspection == Inspection.damaged:
        claim_id = claims.draft(uow, leg, shipment, ClaimType.damage, settings=settings,
                                loss_fen=damaged_value_fen or claims.goods_value(shipment)).id
    elif inspection == Inspection.short:
        prices = {i.sku: i.price_fen for i in shipment.items}
        missing = sum((i.expected - i.received) * prices[i.sku] for i in leg.missing_items)
        claim_id = claims.draft(uow, leg, shipment, ClaimType.short, loss_fen=missing, settings=settings).id
    case = commands.load_case(uow, shop_id, leg.aftersale_id)
    legs = {other.shipment_id: other for other in store.legs_of_case(uow.conn, shop_id=shop_id, case_id=case.id)}
    if all(sid in legs and legs[sid].status == ReturnStatus.received for sid in case.shipment_ids):
        case = commands.mark_received(uow, shop_id, case.id)
    return Received(leg, case, claim_id)


def eta(leg: ReturnLeg, now: datetime) -> datetime | None:
    """The estimate shown: the leg's own, or none once it arrived."""
    return None if leg.status in (ReturnStatus.returned, ReturnStatus.received) else leg.eta_at
