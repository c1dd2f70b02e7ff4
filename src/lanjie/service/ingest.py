"""A sales platform's after-sale, as its detail API shows it, applied to lanjie's case.

The platform's messages only say *that* something happened; the channel job re-reads the case
(``Channel.fetch_case``) and hands the answer here. The first time, the case is opened on the
parcels the platform names (registered ones, or — when the platform names the courier — registered
now from what the platform says); afterwards its version, status, deadline, arbitration, type and
amount follow the platform, and the platform's own outcome (refunded, closed, rejected) settles it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from lanjie.channels.base import ChannelCase, ChannelParcel
from lanjie.domain.errors import RuleViolation
from lanjie.domain.model import AfterSale, Item, Party, Shipment
from lanjie.domain.states import PlatformStatus
from lanjie.service import autointercept, commands, deadlines, shops
from lanjie.service.carriers import CarrierGateway
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store import repository

log = logging.getLogger("lanjie.ingest")

#: Platform states in which a case lanjie never saw is not worth opening: it is already over.
_OVER = frozenset({PlatformStatus.refunded, PlatformStatus.closed, PlatformStatus.rejected})
#: A platform refund this close after the deadline is taken as the platform's own auto-agree.
_TIMEOUT_SLACK = timedelta(minutes=5)
_UNKNOWN_PARTY = Party(name="(from the sales platform)", phone="0000", address="")


def apply(uow: UnitOfWork, shop_id: str, channel: str, seen: ChannelCase, gateway: CarrierGateway,
          *, can_cancel: bool = True) -> AfterSale | None:
    """Open or update the shop's case for the platform's after-sale ``seen``; None when not worth a case."""
    case_id = repository.case_by_channel_ref(uow.conn, shop_id=shop_id, channel=channel, channel_ref=seen.ref)
    if case_id is None:
        if seen.status in _OVER:
            log.info("%s after-sale %s is already %s: no case opened", channel, seen.ref, seen.status)
            return None
        case = commands.open_case(uow, shop_id, commands.NewCase(
            order_id=seen.order_id, type=seen.type, refund_fen=seen.refund_fen,
            waybill_nos=[s.waybill_no for s in _parcels(uow, shop_id, seen, gateway)], reason=seen.reason[:500],
            channel=channel, channel_ref=seen.ref, channel_version=seen.version, paid_fen=seen.paid_fen,
            deadline_at=seen.deadline_at, parcel_may_be_unknown=True))
    else:
        loaded = uow.case(shop_id, case_id)
        assert loaded is not None
        case = loaded
    before = case.deadline_at
    case.platform_changed(version=seen.version, status=seen.status, type=seen.type, refund_fen=seen.refund_fen,
                          deadline_at=seen.deadline_at, arbitration=seen.arbitration, paid_fen=seen.paid_fen,
                          intercept_status=seen.intercept_status)
    if seen.refunded or seen.status == PlatformStatus.refunded:
        # The platform's own clock says when it paid (its update time); a payment at or after the deadline
        # that lanjie never asked for is the platform agreeing by itself on timeout.
        paid_at = seen.updated_at or uow.now
        deadline = seen.deadline_at or before
        timed_out = case.live_refund is None and deadline is not None and paid_at + _TIMEOUT_SLACK >= deadline
        case.platform_refunded(uow.now, timed_out=timed_out)
    elif seen.status == PlatformStatus.closed and not case.closed and case.live_refund is None:
        uow.save(case)
        commands.cancel_case(uow, shop_id, case.id, can_cancel=lambda plugin: can_cancel and
                             gateway.can_cancel(plugin))
    elif seen.status == PlatformStatus.rejected:
        case.platform_rejected(uow.now)
    uow.save(case)
    if case.deadline_at is not None and (before != case.deadline_at or case_id is None):
        deadlines.schedule(uow, case)
    if case_id is not None and autointercept.needs_evaluation(uow, case):
        autointercept.enqueue_evaluation(uow, case, trigger=f"sync:{seen.version}")
    return case


def _parcels(uow: UnitOfWork, shop_id: str, seen: ChannelCase, gateway: CarrierGateway) -> list[Shipment]:
    """The registered parcels the platform's case is about; unknown ones it names are registered now."""
    if not seen.parcels:  # Taobao's refund names no waybill: the order's parcels are the candidates
        return repository.shipments_of_order(uow.conn, shop_id=shop_id, order_id=seen.order_id)
    found = []
    for parcel in seen.parcels:
        shipment = uow.shipment_by_waybill(shop_id, parcel.waybill_no) or _register(uow, shop_id, seen, parcel,
                                                                                    gateway)
        if shipment is not None:
            found.append(shipment)
    return found


def _register(uow: UnitOfWork, shop_id: str, seen: ChannelCase, parcel: ChannelParcel,
              gateway: CarrierGateway) -> Shipment | None:
    """Register a parcel lanjie did not know from what the platform says, when its courier is known.

    It goes through the courier's own plugin when the shop has an account there, else through the
    aggregator (Kuaidi100). Goods are the platform's: one line worth what the buyer paid.
    """
    if not parcel.courier:
        return None
    plugin = next((name for name, cls in gateway.registry.items()
                   if getattr(cls, "couriers", None) and parcel.courier in cls.couriers
                   and shops.account_for(uow.conn, shop_id, name) is not None), None)
    plugin = plugin or "kuaidi100"
    value = seen.paid_fen or seen.refund_fen
    try:
        return commands.register_shipment(uow, shop_id, commands.NewShipment(
            carrier=plugin, carrier_code=parcel.courier, waybill_no=parcel.waybill_no, order_id=seen.order_id,
            items=[Item(sku=seen.order_id, name="(goods of the platform order)", qty=1, price_fen=value)],
            value_fen=value, freight_fen=0, sender=_UNKNOWN_PARTY, recipient=_UNKNOWN_PARTY))
    except RuleViolation as refused:
        log.warning("could not register %s waybill %s: %s", seen.ref, parcel.waybill_no, refused)
        return None
