"""How entities look in API responses. Buyer phone numbers are masked."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from lanjie.domain.model import AfterSale, Intercept, Party, Refund, Shipment
from lanjie.store import tables as t


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _mask(p: Party) -> dict[str, str]:
    return {"name": p.name, "phone": ("*" * max(0, len(p.phone) - 4)) + p.phone[-4:], "address": p.address}


def shipment(s: Shipment) -> dict[str, Any]:
    return {
        "id": s.id, "carrier": f"{s.carrier}:{s.carrier_code}", "waybill_no": s.waybill_no, "order_id": s.order_id,
        "items": [asdict(i) for i in s.items], "value_fen": s.value_fen, "freight_fen": s.freight_fen,
        "insured_fen": s.insured_fen, "sender": _mask(s.sender), "recipient": _mask(s.recipient),
        "tracking_status": s.tracking_status, "tracking_at": _ts(s.tracking_at),
        "tracking_events": s.tracking_events, "subscription": s.subscription, "created_at": _ts(s.created_at),
    }


def intercept(i: Intercept, waybill_no: str | None = None) -> dict[str, Any]:
    return {
        "id": i.id, "aftersale_id": i.aftersale_id, "shipment_id": i.shipment_id, "waybill_no": waybill_no,
        "type": i.type, "status": i.status, "reason": i.reason, "message": i.message, "task_id": i.task_id,
        "attempts": i.attempts, "address": _mask(i.address) if i.address else None,
        "created_at": _ts(i.created_at), "answered_at": _ts(i.answered_at), "outcome_at": _ts(i.outcome_at),
    }


def refund(r: Refund) -> dict[str, Any]:
    return {"id": r.id, "refund_no": r.refund_no, "amount_fen": r.amount_fen, "status": r.status,
            "evidence": r.evidence, "clawback": r.clawback, "created_at": _ts(r.created_at)}


def case_summary(c: AfterSale) -> dict[str, Any]:
    return {
        "id": c.id, "order_id": c.order_id, "type": c.type, "status": c.status, "refund_fen": c.refund_fen,
        "reason": c.reason, "channel": c.channel, "channel_ref": c.channel_ref, "resolution": c.resolution,
        "settlement_policy": c.settlement_policy, "created_at": _ts(c.created_at), "updated_at": _ts(c.updated_at),
        "deadline_at": _ts(c.deadline_at), "attention": c.attention, "arbitration": c.arbitration,
        "platform_status": c.platform_status, "platform_intercept": c.platform_intercept,
        "channel_version": c.channel_version, "paid_fen": c.paid_fen,
        "fallback": c.fallback,
    }


def case_detail(conn: sa.Connection, c: AfterSale, parcels: list[Shipment]) -> dict[str, Any]:
    waybills = {s.id: s.waybill_no for s in parcels}
    live = c.live_refund
    return {
        **case_summary(c),
        "parcels": [shipment(s) for s in parcels],
        "intercepts": [intercept(i, waybills.get(i.shipment_id)) for i in c.intercepts],
        "refund": refund(live) if live else None,
        "refunds": [refund(r) for r in c.refunds],
        "timeline": timeline(conn, c.shop_id, c.id, [s.id for s in parcels]),
        "carrier_exchanges": exchanges(conn, c.shop_id, c.id, [s.id for s in parcels], c.created_at),
        "decisions": decisions(conn, c.shop_id, c.id),
    }


def decisions(conn: sa.Connection, shop_id: str, case_id: str) -> list[dict[str, Any]]:
    """What the auto-intercept rules decided on the case, each with the conditions checked and what they saw."""
    d = t.decisions
    rows = conn.execute(sa.select(d).where(d.c.shop_id == shop_id, d.c.aftersale_id == case_id).order_by(d.c.id))
    return [{"id": r.id, "rule": r.rule, "verdict": r.verdict, "reason": r.reason, "trigger": r.trigger,
             "evidence": r.evidence, "at": _ts(r.created_at)} for r in rows]


def event(row: Any) -> dict[str, Any]:
    return {"id": row.id, "type": row.type, "subject_type": row.subject_type, "subject_id": row.subject_id,
            "aftersale_id": row.aftersale_id, "payload": row.payload, "at": _ts(row.created_at)}


def timeline(conn: sa.Connection, shop_id: str, case_id: str, shipment_ids: list[str]) -> list[dict[str, Any]]:
    """The case's events and its parcels' tracking changes since the case opened, oldest first."""
    e = t.events
    opened = sa.select(sa.func.min(e.c.id)).where(e.c.shop_id == shop_id, e.c.aftersale_id == case_id)
    rows = conn.execute(sa.select(e).where(e.c.shop_id == shop_id, sa.or_(
        e.c.aftersale_id == case_id,
        sa.and_(e.c.subject_type == "shipment", e.c.subject_id.in_(shipment_ids),
                e.c.type == "shipment.tracking_updated", e.c.id > opened.scalar_subquery())),
    ).order_by(e.c.id)).all()
    return [event(r) for r in rows]


def exchanges(conn: sa.Connection, shop_id: str, case_id: str, shipment_ids: list[str],
              opened_at: datetime) -> list[dict[str, Any]]:
    """The case's carrier calls, and its parcels' tracking calls (subscribe, polls) since it opened."""
    x = t.carrier_exchanges
    rows = conn.execute(sa.select(x).where(x.c.shop_id == shop_id, sa.or_(
        x.c.aftersale_id == case_id,
        sa.and_(x.c.aftersale_id.is_(None), x.c.subject_id.in_(shipment_ids), x.c.created_at >= opened_at)),
    ).order_by(x.c.id)).all()
    return [{"id": r.id, "carrier": r.carrier, "operation": r.operation, "method": r.method, "url": r.url,
             "request_body": r.request_body, "status_code": r.status_code, "response_body": r.response_body,
             "duration_ms": round(r.duration_ms, 1), "error": r.error, "at": _ts(r.created_at)} for r in rows]


def return_leg(leg: Any) -> dict[str, Any]:
    return {"id": leg.id, "aftersale_id": leg.aftersale_id, "shipment_id": leg.shipment_id,
            "waybill_no": leg.waybill_no, "return_waybill_no": leg.return_waybill_no, "status": leg.status,
            "started_at": _ts(leg.started_at), "last_scan_at": _ts(leg.last_scan_at),
            "eta_at": _ts(leg.eta_at) if leg.status in ("returning", "stalled") else None,
            "returned_at": _ts(leg.returned_at), "received_at": _ts(leg.received_at),
            "inspection": leg.inspection, "inspection_note": leg.inspection_note,
            "items": [{"sku": i.sku, "expected": i.expected, "received": i.received} for i in leg.items],
            "photos": list(leg.photos)}


def claim(c: Any) -> dict[str, Any]:
    return {"id": c.id, "aftersale_id": c.aftersale_id, "return_id": c.return_id, "shipment_id": c.shipment_id,
            "carrier": c.carrier, "waybill_no": c.waybill_no, "type": c.type, "status": c.status,
            "amount_fen": c.amount_fen, "basis": c.basis, "filing_deadline_at": _ts(c.filing_deadline_at),
            "filed_via": c.filed_via, "carrier_ref": c.carrier_ref, "filed_at": _ts(c.filed_at),
            "approved_fen": c.approved_fen, "paid_fen": c.paid_fen, "payouts": c.payouts,
            "documents_requested": c.documents_requested, "message": c.message, "created_at": _ts(c.created_at)}
