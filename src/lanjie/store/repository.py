"""Data access for shops, shipments and cases: rows in, entities out. Every query filters by shop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from lanjie.domain.events import Event
from lanjie.domain.model import AfterSale, Intercept, Item, Party, Refund, Shipment
from lanjie.domain.states import (
    ArbitrationStatus,
    CaseStatus,
    CaseType,
    ChannelInterceptStatus,
    ClawbackStatus,
    Fallback,
    InterceptReason,
    InterceptStatus,
    InterceptType,
    PlatformStatus,
    RefundStatus,
    Resolution,
    SettlementPolicy,
    TrackingStatus,
)
from lanjie.store import tables as t


class StaleCase(Exception):
    """The case changed under us (compare-and-set on its version failed); retry the command."""


def _party(data: dict[str, Any] | None) -> Party | None:
    return Party(**data) if data else None


# --------------------------------------------------------------------------- shipments
def _shipment_row(s: Shipment) -> dict[str, Any]:
    return {
        "id": s.id, "shop_id": s.shop_id, "carrier": s.carrier, "carrier_code": s.carrier_code,
        "waybill_no": s.waybill_no, "order_id": s.order_id, "items": [asdict(i) for i in s.items],
        "value_fen": s.value_fen, "freight_fen": s.freight_fen, "insured_fen": s.insured_fen,
        "sender": asdict(s.sender), "recipient": asdict(s.recipient), "tracking_status": s.tracking_status,
        "tracking_at": s.tracking_at, "tracking_events": s.tracking_events, "subscription": s.subscription,
        "created_at": s.created_at, "updated_at": s.updated_at or s.created_at,
    }


def _shipment(row: sa.Row[Any]) -> Shipment:
    m = row._mapping
    return Shipment(
        id=m["id"], shop_id=m["shop_id"], carrier=m["carrier"], carrier_code=m["carrier_code"],
        waybill_no=m["waybill_no"], order_id=m["order_id"], items=[Item(**i) for i in m["items"]],
        value_fen=m["value_fen"], freight_fen=m["freight_fen"], insured_fen=m["insured_fen"],
        sender=Party(**m["sender"]), recipient=Party(**m["recipient"]),
        tracking_status=TrackingStatus(m["tracking_status"]), tracking_at=m["tracking_at"],
        tracking_events=m["tracking_events"], subscription=m["subscription"],
        created_at=m["created_at"], updated_at=m["updated_at"],
    )


def add_shipment(conn: sa.Connection, shipment: Shipment) -> None:
    """Insert a new parcel."""
    conn.execute(t.shipments.insert().values(**_shipment_row(shipment)))


def save_shipment(conn: sa.Connection, shipment: Shipment, now: datetime) -> None:
    """Write a parcel's tracking (and a corrected courier code) back."""
    shipment.updated_at = now
    conn.execute(t.shipments.update().where(t.shipments.c.id == shipment.id).values(
        tracking_status=shipment.tracking_status, tracking_at=shipment.tracking_at,
        tracking_events=shipment.tracking_events, subscription=shipment.subscription,
        carrier_code=shipment.carrier_code, updated_at=now))


def get_shipment(conn: sa.Connection, *, shop_id: str, shipment_id: str, for_update: bool = False) -> Shipment | None:
    """One parcel of the shop by id; ``for_update`` locks its row until the transaction ends (PostgreSQL)."""
    query = sa.select(t.shipments).where(t.shipments.c.shop_id == shop_id, t.shipments.c.id == shipment_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    return _shipment(row) if row else None


def shipment_by_waybill(conn: sa.Connection, *, shop_id: str, waybill_no: str,
                        for_update: bool = False) -> Shipment | None:
    """One parcel of the shop by waybill number; ``for_update`` locks its row (two pushes for one parcel,
    processed at once, must not each write a history without the other's scans).

    The lock is FOR NO KEY UPDATE: it still serialises writers of the parcel, but not a transaction that
    holds the parcel's case and inserts a row referring to the parcel (a return leg's foreign key takes
    KEY SHARE), which a push holding the parcel and waiting for that case would otherwise deadlock."""
    query = sa.select(t.shipments).where(t.shipments.c.shop_id == shop_id, t.shipments.c.waybill_no == waybill_no)
    row = conn.execute(query.with_for_update(key_share=True) if for_update else query).first()
    return _shipment(row) if row else None


def shipments_of_order(conn: sa.Connection, *, shop_id: str, order_id: str) -> list[Shipment]:
    """The shop's parcels of one order, oldest first."""
    rows = conn.execute(sa.select(t.shipments).where(
        t.shipments.c.shop_id == shop_id, t.shipments.c.order_id == order_id).order_by(t.shipments.c.created_at))
    return [_shipment(r) for r in rows]


# --------------------------------------------------------------------------- cases
def _case_row(c: AfterSale) -> dict[str, Any]:
    return {
        "id": c.id, "shop_id": c.shop_id, "order_id": c.order_id, "type": c.type, "status": c.status,
        "refund_fen": c.refund_fen, "reason": c.reason, "channel": c.channel, "channel_ref": c.channel_ref,
        "resolution": c.resolution, "settlement_policy": c.settlement_policy, "received_at": c.received_at,
        "channel_version": c.channel_version, "paid_fen": c.paid_fen, "deadline_at": c.deadline_at,
        "platform_status": c.platform_status, "platform_intercept": c.platform_intercept,
        "arbitration": c.arbitration, "fallback": c.fallback,
        "attention": c.attention, "version": c.version, "created_at": c.created_at,
        "updated_at": c.updated_at or c.created_at,
    }


def _intercept_row(i: Intercept) -> dict[str, Any]:
    return {
        "id": i.id, "shop_id": i.shop_id, "aftersale_id": i.aftersale_id, "shipment_id": i.shipment_id,
        "type": i.type, "address": asdict(i.address) if i.address else None, "status": i.status,
        "reason": i.reason, "message": i.message[:500], "task_id": i.task_id, "attempts": i.attempts,
        "submit_started_at": i.submit_started_at, "answered_at": i.answered_at, "outcome_at": i.outcome_at,
        "created_at": i.created_at,
    }


def _refund_row(r: Refund) -> dict[str, Any]:
    return {
        "id": r.id, "shop_id": r.shop_id, "aftersale_id": r.aftersale_id, "refund_no": r.refund_no,
        "amount_fen": r.amount_fen, "status": r.status, "evidence": r.evidence, "clawback": r.clawback,
        "created_at": r.created_at,
    }


def add_case(conn: sa.Connection, case: AfterSale) -> None:
    """Insert a new case with its parcels."""
    case.version = 1
    conn.execute(t.aftersales.insert().values(**_case_row(case)))
    if case.shipment_ids:
        conn.execute(t.aftersale_parcels.insert(), [
            {"aftersale_id": case.id, "shipment_id": sid, "position": n}
            for n, sid in enumerate(case.shipment_ids)])
    _write_children(conn, case, case.updated_at or case.created_at, {})


def get_case(conn: sa.Connection, *, shop_id: str, case_id: str, for_update: bool = False) -> AfterSale | None:
    """A case with its intercepts and refunds, or None (another shop's case is None too).

    ``for_update`` locks the case row until the transaction ends (PostgreSQL; SQLite transactions
    already hold the database's write lock), so concurrent writers queue instead of failing the
    version check.
    """
    query = sa.select(t.aftersales).where(t.aftersales.c.shop_id == shop_id, t.aftersales.c.id == case_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        return None
    m = row._mapping
    parcels = conn.execute(sa.select(t.aftersale_parcels.c.shipment_id).where(
        t.aftersale_parcels.c.aftersale_id == case_id).order_by(t.aftersale_parcels.c.position)).scalars()
    icpts = conn.execute(sa.select(t.intercepts).where(t.intercepts.c.aftersale_id == case_id)
                         .order_by(t.intercepts.c.created_at, t.intercepts.c.id)).all()
    refunds = conn.execute(sa.select(t.refunds).where(t.refunds.c.aftersale_id == case_id)
                           .order_by(t.refunds.c.created_at, t.refunds.c.id)).all()
    case = AfterSale(
        id=m["id"], shop_id=m["shop_id"], order_id=m["order_id"], type=CaseType(m["type"]),
        refund_fen=m["refund_fen"], shipment_ids=list(parcels),
        settlement_policy=SettlementPolicy(m["settlement_policy"]), created_at=m["created_at"],
        status=CaseStatus(m["status"]), reason=m["reason"], channel=m["channel"], channel_ref=m["channel_ref"],
        resolution=Resolution(m["resolution"]) if m["resolution"] else None, received_at=m["received_at"],
        channel_version=m["channel_version"], paid_fen=m["paid_fen"], deadline_at=m["deadline_at"],
        platform_status=PlatformStatus(m["platform_status"]) if m["platform_status"] else None,
        platform_intercept=ChannelInterceptStatus(m["platform_intercept"]) if m["platform_intercept"] else None,
        arbitration=ArbitrationStatus(m["arbitration"]), fallback=Fallback(m["fallback"]), attention=m["attention"],
        version=m["version"], updated_at=m["updated_at"],
        intercepts=[Intercept(
            id=r.id, shop_id=r.shop_id, aftersale_id=r.aftersale_id, shipment_id=r.shipment_id,
            type=InterceptType(r.type), address=_party(r.address), status=InterceptStatus(r.status),
            reason=InterceptReason(r.reason) if r.reason else None, message=r.message, task_id=r.task_id,
            attempts=r.attempts, submit_started_at=r.submit_started_at, answered_at=r.answered_at,
            outcome_at=r.outcome_at, created_at=r.created_at) for r in icpts],
        refunds=[Refund(id=r.id, shop_id=r.shop_id, aftersale_id=r.aftersale_id, refund_no=r.refund_no,
                        amount_fen=r.amount_fen, status=RefundStatus(r.status), evidence=r.evidence,
                        clawback=ClawbackStatus(r.clawback) if r.clawback else None,
                        created_at=r.created_at) for r in refunds],
    )
    return case


def snapshot(case: AfterSale) -> dict[str, dict[str, Any]]:
    """The rows of a case as loaded, so that saving it writes only what changed."""
    rows = {"case": _case_row(case)}
    rows.update({f"i:{i.id}": _intercept_row(i) for i in case.intercepts})
    rows.update({f"r:{r.id}": _refund_row(r) for r in case.refunds})
    return rows


def save_case(conn: sa.Connection, case: AfterSale, now: datetime,
              loaded: dict[str, dict[str, Any]] | None = None) -> None:
    """Write a loaded case back by compare-and-set on its version; StaleCase when someone else won.

    With ``loaded`` (its ``snapshot`` when read) only changed rows are written, and an unchanged
    case is not written at all.
    """
    if loaded is not None and snapshot(case) == loaded:
        return
    result = conn.execute(t.aftersales.update().where(
        t.aftersales.c.id == case.id, t.aftersales.c.version == case.version,
    ).values(status=case.status, resolution=case.resolution, received_at=case.received_at, type=case.type,
             refund_fen=case.refund_fen, channel_version=case.channel_version, paid_fen=case.paid_fen,
             deadline_at=case.deadline_at, platform_status=case.platform_status,
             platform_intercept=case.platform_intercept, arbitration=case.arbitration,
             fallback=case.fallback, attention=case.attention, version=case.version + 1, updated_at=now))
    if result.rowcount != 1:
        raise StaleCase(case.id)
    case.version += 1
    if loaded is None:
        loaded = {f"i:{i}": {} for i in conn.execute(sa.select(t.intercepts.c.id).where(
            t.intercepts.c.aftersale_id == case.id)).scalars()}
        loaded.update({f"r:{r}": {} for r in conn.execute(sa.select(t.refunds.c.id).where(
            t.refunds.c.aftersale_id == case.id)).scalars()})
    _write_children(conn, case, now, loaded)


def _write_children(conn: sa.Connection, case: AfterSale, now: datetime, loaded: dict[str, dict[str, Any]]) -> None:
    known_i = {k[2:] for k in loaded if k.startswith("i:")}
    known_r = {k[2:] for k in loaded if k.startswith("r:")}
    # Updates first, then inserts: a partial unique index (one active intercept per parcel, one
    # live refund per case) must see the old row leave the set before the new one joins it.
    for i in case.intercepts:
        row = _intercept_row(i)
        if i.id in known_i and row != loaded[f"i:{i.id}"]:
            row.pop("created_at")
            conn.execute(t.intercepts.update().where(t.intercepts.c.id == i.id).values(**row, updated_at=now))
    for r in case.refunds:
        if r.id in known_r and _refund_row(r) != loaded[f"r:{r.id}"]:
            conn.execute(t.refunds.update().where(t.refunds.c.id == r.id).values(
                status=r.status, evidence=r.evidence, clawback=r.clawback, updated_at=now))
    for i in case.intercepts:
        if i.id not in known_i:
            conn.execute(t.intercepts.insert().values(**_intercept_row(i), updated_at=now))
    for r in case.refunds:
        if r.id not in known_r:
            conn.execute(t.refunds.insert().values(**_refund_row(r), updated_at=now))


def case_by_channel_ref(conn: sa.Connection, *, shop_id: str, channel: str, channel_ref: str) -> str | None:
    """The id of the shop's case for a sales channel's own after-sale id."""
    return conn.execute(sa.select(t.aftersales.c.id).where(
        t.aftersales.c.shop_id == shop_id, t.aftersales.c.channel == channel,
        t.aftersales.c.channel_ref == channel_ref)).scalar()


def case_ids_for_shipment(conn: sa.Connection, *, shop_id: str, shipment_id: str) -> list[str]:
    """Open cases that involve this parcel."""
    return list(conn.execute(
        sa.select(t.aftersales.c.id).join(t.aftersale_parcels,
                                          t.aftersale_parcels.c.aftersale_id == t.aftersales.c.id)
        .where(t.aftersales.c.shop_id == shop_id, t.aftersale_parcels.c.shipment_id == shipment_id)
        .order_by(t.aftersales.c.created_at)).scalars())


# --------------------------------------------------------------------------- events
def append_events(conn: sa.Connection, *, shop_id: str, events: Sequence[Event], now: datetime) -> None:
    """Write events in the caller's transaction, in commit order per shop."""
    if not events:
        return
    if conn.dialect.name == "postgresql":
        # Ids come from a sequence at insert time, not at commit: serialise a shop's event writers
        # so a reader resuming from Last-Event-ID never skips a row that commits late.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('lanjie.events:' || :shop))"),
                     {"shop": shop_id})
    conn.execute(t.events.insert(), [
        {"shop_id": shop_id, "aftersale_id": e.payload.get("aftersale_id"), "subject_type": e.subject_type,
         "subject_id": e.subject_id, "type": e.type, "payload": _jsonable(e.payload), "created_at": now}
        for e in events])


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
