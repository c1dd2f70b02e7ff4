"""Auto-intercept rules of a shop: stored, checked against a case, acted on, replayed over past cases.

The domain decides (``lanjie.domain.autorules``); this module gathers the facts it decides on, keeps
every decision with its evidence (table ``decisions`` and an ``aftersale.rule_decided`` event), and
carries the verdict out: an intercept now, or a job at the carrier's opening hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from lanjie.domain.autorules import (
    AutoRule,
    CaseFacts,
    Condition,
    Decision,
    ParcelFacts,
    ServiceHours,
    Verdict,
    decide,
)
from lanjie.domain.errors import DomainError, RuleViolation
from lanjie.domain.model import AfterSale, Shipment
from lanjie.domain.states import CaseStatus, CaseType, Fallback, InterceptStatus, InterceptType, TrackingStatus
from lanjie.service import commands, shops
from lanjie.service.carriers import CarrierGateway
from lanjie.service.ids import utcnow
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store import repository
from lanjie.store import tables as t

EVALUATE_RULES = "rules.evaluate"
#: Case statuses a rule may still act on: nothing decided yet.
_UNDECIDED = frozenset({CaseStatus.open})
#: Requests that still ask money back for the goods of a parcel (a refused or withdrawn one does not).
_ASKING = (CaseStatus.open, CaseStatus.intercepting, CaseStatus.intercepted, CaseStatus.needs_attention,
           CaseStatus.awaiting_refusal, CaseStatus.refunding, CaseStatus.completed)
DEFAULT_DEADLINE_MARGIN_MINUTES = 120


# ------------------------------------------------------------------ rules as data
def rule_from_dict(data: dict[str, Any]) -> AutoRule:
    """A rule from its stored or posted form; RuleViolation naming the field at fault."""
    def choice(field: str, kind: Any, value: Any) -> Any:
        try:
            return kind(value)
        except ValueError:
            raise RuleViolation(f"rules.{field}", f"{value!r} is not one of {', '.join(kind)}") from None

    hours = data.get("service_hours") or {}
    try:
        opens = time.fromisoformat(hours.get("opens", "09:00"))
        closes = time.fromisoformat(hours.get("closes", "21:00"))
    except (TypeError, ValueError):
        raise RuleViolation("rules.service_hours", "opens and closes are HH:MM times") from None
    ceiling = data.get("fee_ceiling_fen")
    if ceiling is not None and (not isinstance(ceiling, int) or isinstance(ceiling, bool) or ceiling < 0):
        raise RuleViolation("rules.fee_ceiling_fen", "the fee ceiling is a whole number of fen, 0 or more")
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 100:
        raise RuleViolation("rules.name", "every rule needs a name of 1-100 characters")
    conditions = data.get("conditions")
    return AutoRule(
        name=name, enabled=bool(data.get("enabled", True)),
        channels=frozenset(str(c) for c in data.get("channels") or ()),
        conditions=frozenset(Condition) if conditions is None else frozenset(
            choice("conditions", Condition, c) for c in conditions),
        intercept_type=choice("intercept_type", InterceptType, data.get("intercept_type", "return_to_sender")),
        service_hours=ServiceHours(opens.replace(second=0, microsecond=0), closes.replace(second=0, microsecond=0)),
        fee_ceiling_fen=ceiling, fallback=choice("fallback", Fallback, data.get("fallback", "needs_person")))


def rule_to_dict(rule: AutoRule) -> dict[str, Any]:
    return {"name": rule.name, "enabled": rule.enabled, "channels": sorted(rule.channels),
            "conditions": [c.value for c in Condition if c in rule.conditions],
            "intercept_type": rule.intercept_type.value,
            "service_hours": {"opens": rule.service_hours.opens.strftime("%H:%M"),
                              "closes": rule.service_hours.closes.strftime("%H:%M")},
            "fee_ceiling_fen": rule.fee_ceiling_fen, "fallback": rule.fallback.value}


def load_rules(conn: sa.Connection, shop_id: str) -> list[AutoRule]:
    row = conn.execute(sa.select(t.shop_rules.c.rules).where(t.shop_rules.c.shop_id == shop_id)).first()
    return [rule_from_dict(r) for r in row.rules] if row else []


def deadline_margin_minutes(conn: sa.Connection, shop_id: str) -> int:
    row = conn.execute(sa.select(t.shop_rules.c.deadline_margin_minutes).where(
        t.shop_rules.c.shop_id == shop_id)).first()
    return int(row[0]) if row else DEFAULT_DEADLINE_MARGIN_MINUTES


def save_rules(conn: sa.Connection, shop_id: str, rules: Sequence[AutoRule],
               deadline_margin: int = DEFAULT_DEADLINE_MARGIN_MINUTES) -> None:
    """Replace the shop's rules (first match decides); names must be unique."""
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise RuleViolation("rules.name", "rule names must be unique within the shop")
    now, data = utcnow(), [rule_to_dict(r) for r in rules]
    updated = conn.execute(t.shop_rules.update().where(t.shop_rules.c.shop_id == shop_id).values(
        rules=data, deadline_margin_minutes=deadline_margin, updated_at=now)).rowcount
    if not updated:
        conn.execute(t.shop_rules.insert().values(shop_id=shop_id, rules=data, deadline_margin_minutes=deadline_margin,
                                                  created_at=now, updated_at=now))


def has_rules(conn: sa.Connection, shop_id: str) -> bool:
    return any(r.enabled for r in load_rules(conn, shop_id))


def wants_fee(conn: sa.Connection, shop_id: str) -> bool:
    """Whether an enabled rule has a fee ceiling: the carriers that quote fees are asked before deciding."""
    return any(r.enabled and r.fee_ceiling_fen is not None and Condition.fee_ceiling in r.conditions
               for r in load_rules(conn, shop_id))


# ------------------------------------------------------------------ facts
def _goods(s: Shipment) -> int:
    return sum(i.qty * i.price_fen for i in s.items)


def requested_on(conn: sa.Connection, shop_id: str, shipment_ids: Sequence[str]) -> int:
    """What the requests that still stand on these parcels ask back, each request once."""
    if not shipment_ids:
        return 0
    cases = sa.select(t.aftersale_parcels.c.aftersale_id).where(
        t.aftersale_parcels.c.shipment_id.in_(shipment_ids)).distinct().scalar_subquery()
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(t.aftersales.c.refund_fen), 0)).where(
        t.aftersales.c.shop_id == shop_id, t.aftersales.c.id.in_(cases),
        t.aftersales.c.status.in_(_ASKING))).scalar_one())


def tracking_at_time(s: Shipment, at: datetime) -> tuple[TrackingStatus, datetime | None]:
    """The parcel's status as it stood at ``at``, from its scan history (newest first)."""
    for scan in s.tracking_events or []:
        scanned = datetime.fromisoformat(scan["at"])
        if scanned <= at:
            return TrackingStatus(scan["status"]), scanned
    return TrackingStatus.created, None


def facts_of(conn: sa.Connection, case: AfterSale, parcels: Sequence[Shipment], gateway: CarrierGateway, *,
             as_of: datetime | None = None, fees: dict[str, int | None] | None = None) -> CaseFacts:
    """What the rules see of a case: now, or (``as_of``) as it stood then, for a dry run."""
    seen = []
    for s in parcels:
        status, at = tracking_at_time(s, as_of) if as_of is not None else (s.tracking_status, s.tracking_at)
        seen.append(ParcelFacts(waybill_no=s.waybill_no, carrier=f"{s.carrier}:{s.carrier_code}",
                                tracking_status=status, tracking_at=at, goods_fen=_goods(s),
                                intercept_types=gateway.offered_types(s.carrier),
                                fee_fen=(fees or {}).get(s.id)))
    return CaseFacts(channel=case.channel, type=case.type, refund_fen=case.refund_fen, paid_fen=case.paid_fen,
                     parcels=tuple(seen), requested_fen=requested_on(conn, case.shop_id, [s.id for s in parcels]))


# ------------------------------------------------------------------ deciding and acting
def needs_evaluation(uow: UnitOfWork, case: AfterSale) -> bool:
    """Whether a rule may act on this case now (undecided, refund-only, shop has rules)."""
    return (case.status in _UNDECIDED and case.type == CaseType.refund_only_shipped and bool(case.shipment_ids)
            and has_rules(uow.conn, case.shop_id))


def enqueue_evaluation(uow: UnitOfWork, case: AfterSale, *, trigger: str, run_at: datetime | None = None) -> None:
    """Queue a rule check of the case (once per trigger)."""
    uow.enqueue(EVALUATE_RULES, {"shop_id": case.shop_id, "case_id": case.id, "trigger": trigger},
                key=f"rules:{case.id}:{trigger}", shop_id=case.shop_id, run_at=run_at)


def evaluate(uow: UnitOfWork, case: AfterSale, gateway: CarrierGateway, *, trigger: str,
             fees: dict[str, int | None] | None = None) -> Decision | None:
    """Decide the case by the shop's rules and act on the verdict; None when there was nothing to decide."""
    if not needs_evaluation(uow, case):
        return None
    parcels = [s for s in (uow.shipment(case.shop_id, sid) for sid in case.shipment_ids) if s is not None]
    facts = facts_of(uow.conn, case, parcels, gateway, fees=fees)
    shop = shops.get_shop(uow.conn, case.shop_id)
    assert shop is not None
    decision = decide(load_rules(uow.conn, case.shop_id), facts, uow.now, ZoneInfo(shop.timezone))
    uow.conn.execute(t.decisions.insert().values(
        shop_id=case.shop_id, aftersale_id=case.id, rule=decision.rule, verdict=decision.verdict,
        reason=decision.reason, evidence=decision.record(facts), trigger=trigger[:64], created_at=uow.now))
    case.rule_decided(verdict=decision.verdict, rule=decision.rule, reason=decision.reason, trigger=trigger,
                      fallback=decision.fallback, wait_until=decision.wait_until)
    uow.save(case)
    if decision.verdict == Verdict.intercept:
        assert decision.intercept_type is not None
        try:
            commands.request_intercepts(uow, case.shop_id, case.id, type=decision.intercept_type,
                                        offered=gateway.offered_types)
        except DomainError as refused:  # the domain's own guards are the last word
            uow.conn.execute(t.decisions.insert().values(
                shop_id=case.shop_id, aftersale_id=case.id, rule=decision.rule, verdict=Verdict.skip,
                reason=getattr(refused, "rule", "refused")[:64], evidence={"refused": str(refused)},
                trigger=trigger[:64], created_at=uow.now))
    elif decision.verdict == Verdict.wait and decision.wait_until is not None:
        enqueue_evaluation(uow, case, trigger=f"opening:{decision.wait_until:%Y%m%dT%H%M}", run_at=decision.wait_until)
    return decision


def decisions_of(conn: sa.Connection, shop_id: str, case_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(t.decisions).where(t.decisions.c.shop_id == shop_id,
                                                     t.decisions.c.aftersale_id == case_id)
                        .order_by(t.decisions.c.id)).all()
    return [{"id": r.id, "rule": r.rule, "verdict": r.verdict, "reason": r.reason, "trigger": r.trigger,
             "evidence": r.evidence, "created_at": r.created_at} for r in rows]


# ------------------------------------------------------------------ dry run
def dry_run(conn: sa.Connection, shop_id: str, rules: Sequence[AutoRule], gateway: CarrierGateway, *,
            since: datetime | None = None, until: datetime | None = None, limit: int = 500) -> dict[str, Any]:
    """Replay ``rules`` over the shop's past cases, each as it stood when it was opened; nothing is written."""
    shop = shops.get_shop(conn, shop_id)
    assert shop is not None
    zone = ZoneInfo(shop.timezone)
    query = sa.select(t.aftersales.c.id).where(t.aftersales.c.shop_id == shop_id)
    if since is not None:
        query = query.where(t.aftersales.c.created_at >= since)
    if until is not None:
        query = query.where(t.aftersales.c.created_at < until)
    newest_first = query.order_by(t.aftersales.c.created_at.desc(), t.aftersales.c.id.desc()).limit(limit)
    ids = list(conn.execute(newest_first).scalars())
    rows, verdicts, reasons = [], {v.value: 0 for v in Verdict}, {}
    agree = 0
    for case_id in ids:
        case = repository.get_case(conn, shop_id=shop_id, case_id=case_id)
        assert case is not None
        parcels = [s for s in (repository.get_shipment(conn, shop_id=shop_id, shipment_id=sid)
                               for sid in case.shipment_ids) if s is not None]
        facts = facts_of(conn, case, parcels, gateway, as_of=case.created_at)
        decision = decide(rules, facts, case.created_at, zone)
        intercepted = any(i.status not in (InterceptStatus.refused,) for i in case.intercepts)
        verdicts[decision.verdict] += 1
        if decision.reason:
            reasons[decision.reason] = reasons.get(decision.reason, 0) + 1
        agree += (decision.verdict != Verdict.skip) == intercepted
        rows.append({"case_id": case.id, "order_id": case.order_id, "channel": case.channel,
                     "created_at": case.created_at, "verdict": decision.verdict, "rule": decision.rule,
                     "reason": decision.reason, "wait_until": decision.wait_until,
                     "checks": decision.record(facts)["checks"],
                     "actual": {"status": case.status, "resolution": case.resolution, "intercepted": intercepted}})
    return {"summary": {"cases": len(rows), "verdicts": verdicts, "reasons": reasons,
                        "agreed_with_what_happened": agree},
            "cases": rows}
