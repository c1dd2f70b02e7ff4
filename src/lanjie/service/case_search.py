"""Finding a shop's cases: the filters the case list offers (API and console alike), newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from lanjie.domain.states import CaseStatus, CaseType
from lanjie.store import tables as t

#: Cases no longer waiting on anyone: their deadline no longer matters.
DECIDED = (CaseStatus.completed, CaseStatus.rejected, CaseStatus.cancelled)


@dataclass(frozen=True)
class CaseFilter:
    status: CaseStatus | None = None
    type: CaseType | None = None
    carrier: str | None = None  # "kuaidi100:zto" or "zto"
    waybill_no: str | None = None
    channel: str | None = None
    needs_person: bool | None = None  # status needs_attention, an open clawback or a dead job
    deadline_before: datetime | None = None  # undecided cases whose platform deadline falls before it
    q: str | None = None  # an order id or waybill number, or the start of one (any case)


def case_query(shop_id: str, f: CaseFilter) -> sa.Select[tuple[object, ...]]:
    """The shop's cases matching ``f`` (unordered; callers page with ``newest_first``)."""
    a, p, s = t.aftersales, t.aftersale_parcels, t.shipments
    query = sa.select(a).where(a.c.shop_id == shop_id)
    if f.status:
        query = query.where(a.c.status == f.status)
    if f.type:
        query = query.where(a.c.type == f.type)
    if f.channel:
        query = query.where(a.c.channel == f.channel)
    if f.needs_person is not None:
        # A reason without that status: an open clawback, a dead job (the case's status stays put).
        flagged = sa.or_(a.c.status == CaseStatus.needs_attention, a.c.attention.in_(("clawback", "job_dead")))
        query = query.where(flagged if f.needs_person else sa.not_(flagged))
    if f.deadline_before is not None:
        query = query.where(a.c.deadline_at.is_not(None), a.c.deadline_at < f.deadline_before,
                            a.c.status.not_in(DECIDED))
    parcels = sa.select(p.c.aftersale_id).join(s, s.c.id == p.c.shipment_id).where(s.c.shop_id == shop_id)
    if f.carrier or f.waybill_no:
        narrowed = parcels
        if f.waybill_no:
            narrowed = narrowed.where(s.c.waybill_no == f.waybill_no)
        if f.carrier:
            plugin, _, code = f.carrier.rpartition(":")
            narrowed = narrowed.where(s.c.carrier_code == code)
            if plugin:
                narrowed = narrowed.where(s.c.carrier == plugin)
        query = query.where(a.c.id.in_(narrowed))
    if f.q:
        # Case-insensitive on both databases (SQLite's LIKE already is; PostgreSQL's is not).
        prefix = f.q.strip().lower()
        query = query.where(sa.or_(
            sa.func.lower(a.c.order_id).startswith(prefix, autoescape=True),
            a.c.id.in_(parcels.where(sa.func.lower(s.c.waybill_no).startswith(prefix, autoescape=True)))))
    return query


def newest_first(query: sa.Select[tuple[object, ...]]) -> sa.Select[tuple[object, ...]]:
    a = t.aftersales
    return query.order_by(a.c.created_at.desc(), a.c.id.desc())


def count(conn: sa.Connection, query: sa.Select[tuple[object, ...]]) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one())
