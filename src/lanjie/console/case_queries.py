"""What the cases pages read: a page of cases with their parcels and intercepts, and one case in full.

The same functions the API's routes call (``case_search``, ``commands``, ``views``, the returns store)
so the console shows exactly what ``GET /v1/aftersales`` and ``GET /v1/aftersales/{id}`` answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from lanjie.api import views
from lanjie.domain.states import CASE_TRANSITIONS, CaseStatus, CaseType
from lanjie.service import case_search, commands
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store import returns as returns_store
from lanjie.store import tables as t

PAGE_SIZE = 50
#: The "deadline soon" choices, in hours.
DEADLINE_HOURS = (6, 24, 48)


@dataclass(frozen=True)
class ListQuery:
    """The case list's filters as the page's form sends them; values the form cannot send are dropped."""

    status: str = ""
    type: str = ""
    carrier: str = ""
    deadline: str = ""  # hours, one of DEADLINE_HOURS
    needs_person: bool = False
    q: str = ""
    page: int = 1

    @classmethod
    def parse(cls, params: Any) -> ListQuery:
        def pick(name: str, allowed: set[str] | None = None, limit: int = 64) -> str:
            value = str(params.get(name, "")).strip()[:limit]
            return value if allowed is None or value in allowed else ""

        page = pick("page", limit=9)
        return cls(status=pick("status", set(CaseStatus)), type=pick("type", set(CaseType)),
                   carrier=pick("carrier", limit=61), deadline=pick("deadline", {str(h) for h in DEADLINE_HOURS}),
                   needs_person=pick("needs_person") in ("true", "on", "1"), q=pick("q"),
                   page=int(page) if page.isdigit() and int(page) > 0 else 1)

    def case_filter(self, now: datetime) -> case_search.CaseFilter:
        return case_search.CaseFilter(
            status=CaseStatus(self.status) if self.status else None,
            type=CaseType(self.type) if self.type else None, carrier=self.carrier or None,
            needs_person=True if self.needs_person else None, q=self.q or None,
            deadline_before=now + timedelta(hours=int(self.deadline)) if self.deadline else None)

    def params(self, **changed: Any) -> dict[str, str]:
        """The query string's fields (without the empty ones), for links and the live fragment."""
        values = {"status": self.status, "type": self.type, "carrier": self.carrier, "deadline": self.deadline,
                  "needs_person": "true" if self.needs_person else "", "q": self.q, "page": str(self.page)}
        values.update({k: str(v) for k, v in changed.items()})
        if values["page"] == "1":
            values["page"] = ""
        return {k: v for k, v in values.items() if v}

    @property
    def filtered(self) -> bool:
        return any((self.status, self.type, self.carrier, self.deadline, self.needs_person, self.q))


@dataclass
class CaseRow:
    id: str
    order_id: str
    type: str
    status: str
    attention: str
    refund_fen: int
    deadline_at: datetime | None
    channel: str
    parcels: list[dict[str, Any]] = field(default_factory=list)  # waybill_no, carrier, tracking_status
    intercepts: list[dict[str, Any]] = field(default_factory=list)  # the newest per parcel: waybill_no, status, reason


@dataclass
class CasePage:
    rows: list[CaseRow]
    total: int
    page: int
    pages: int


def list_cases(engine: sa.Engine, shop_id: str, query: ListQuery, now: datetime) -> CasePage:
    """One page of the shop's cases matching ``query``, newest first, each with its parcels and intercepts."""
    found = case_search.case_query(shop_id, query.case_filter(now))
    with engine.connect() as conn:
        total = case_search.count(conn, found)
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(query.page, pages)
        cases = conn.execute(case_search.newest_first(found).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
        rows = {c.id: CaseRow(c.id, c.order_id, c.type, c.status, c.attention, c.refund_fen, c.deadline_at, c.channel)
                for c in cases}
        p, s, i = t.aftersale_parcels, t.shipments, t.intercepts
        parcels = conn.execute(
            sa.select(p.c.aftersale_id, s.c.id, s.c.waybill_no, s.c.carrier, s.c.carrier_code, s.c.tracking_status)
            .join(s, s.c.id == p.c.shipment_id)
            .where(s.c.shop_id == shop_id, p.c.aftersale_id.in_(rows)).order_by(p.c.aftersale_id, p.c.position)).all()
        intercepts = conn.execute(
            sa.select(i.c.aftersale_id, i.c.shipment_id, i.c.status, i.c.reason)
            .where(i.c.shop_id == shop_id, i.c.aftersale_id.in_(rows)).order_by(i.c.created_at, i.c.id)).all()
    newest = {(x.aftersale_id, x.shipment_id): x for x in intercepts}  # later rows win
    for x in parcels:
        rows[x.aftersale_id].parcels.append({"waybill_no": x.waybill_no, "carrier": f"{x.carrier}:{x.carrier_code}",
                                             "tracking_status": x.tracking_status})
        last = newest.get((x.aftersale_id, x.id))
        if last is not None:
            rows[x.aftersale_id].intercepts.append({"waybill_no": x.waybill_no, "status": last.status,
                                                    "reason": last.reason})
    return CasePage(list(rows.values()), total, page, pages)


def carriers(engine: sa.Engine, shop_id: str) -> list[str]:
    """The carriers of the shop's parcels (``kuaidi100:zto``), for the filter's choices."""
    s = t.shipments
    with engine.connect() as conn:
        found = conn.execute(sa.select(s.c.carrier, s.c.carrier_code).where(s.c.shop_id == shop_id).distinct()).all()
    return sorted(f"{r.carrier}:{r.carrier_code}" for r in found)


def case_view(engine: sa.Engine, shop_id: str, case_id: str, now: datetime) -> dict[str, Any] | None:
    """The case as ``GET /v1/aftersales/{id}`` shows it, plus its return legs, claims and whether (and which
    parcels) it can be intercepted now; None when the shop has no such case."""
    with UnitOfWork(engine, now, read_only=True) as uow:
        case = uow.case(shop_id, case_id)
        if case is None:
            return None
        parcels = [s for s in (uow.shipment(shop_id, sid) for sid in case.shipment_ids) if s is not None]
        detail = views.case_detail(uow.conn, case, parcels)
        preview = commands.preview_intercepts(uow, shop_id, case_id)
        legs = returns_store.legs_of_case(uow.conn, shop_id=shop_id, case_id=case_id)
        claims = returns_store.claims_of_case(uow.conn, shop_id=shop_id, case_id=case_id)
    detail["returns"] = [views.return_leg(leg) for leg in legs]
    detail["claims"] = [views.claim(c) for c in claims]
    detail["interceptable"] = [p["waybill_no"] for p in preview if p["can_intercept"]]
    detail["blocked"] = _blocked(detail, preview)
    detail["fees"] = {e["subject_id"]: e["payload"]["fee"]["amount_minor"] for e in detail["timeline"]
                      if e["type"] == "intercept.submitted" and isinstance(e["payload"].get("fee"), dict)
                      and e["payload"]["fee"].get("currency") == "CNY"}
    return detail


def _blocked(detail: dict[str, Any], preview: list[dict[str, Any]]) -> tuple[str, dict[str, str]] | None:
    """Why the 拦截 button is off, as a message key and its fields; None when a parcel can be intercepted."""
    if detail["type"] != CaseType.refund_only_shipped:
        return ("case.intercept.blocked_type", {})
    status = CaseStatus(detail["status"])
    if status != CaseStatus.intercepting and CaseStatus.intercepting not in CASE_TRANSITIONS[status]:
        return ("case.intercept.blocked_status", {"status": status})
    reasons = [p["reason"] for p in preview if not p["can_intercept"]]
    if len(reasons) == len(preview):
        return ("case.intercept.blocked", {"reason": reasons[0]}) if reasons else ("case.intercept.blocked_none", {})
    return None
