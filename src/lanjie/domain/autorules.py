"""Auto-intercept rules: small declarative condition sets that decide without a click.

A shop has a list of rules; the first enabled rule whose channels match the case decides. Every
condition is checked and kept as evidence, whether the rule requires it or not, together with the
tracking state seen, so a decision can be explained (and replayed in a dry run) later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from lanjie.domain.rules import interceptability
from lanjie.domain.states import CaseType, Fallback, InterceptType, TrackingStatus


class Condition(StrEnum):
    refund_only_shipped = "refund_only_shipped"  # the request is refund-only after shipment (发货后仅退款)
    full_amount = "full_amount"  # the refund equals what the buyer paid (a partial refund is compensation)
    in_transit = "in_transit"  # collected and not yet out for delivery
    not_shared = "not_shared"  # no other unrefunded items travel in the same parcel (合包)
    carrier_supports = "carrier_supports"  # the parcel's carrier (or its aggregator) can send this intercept
    service_hours = "service_hours"  # inside the carrier's service hours, shop time
    fee_ceiling = "fee_ceiling"  # the quoted fee is under the ceiling


class Verdict(StrEnum):
    intercept = "intercept"  # send the intercept now
    wait = "wait"  # everything holds but the hour: go at opening
    skip = "skip"  # a required condition does not hold (or no rule applies)


@dataclass(frozen=True)
class ServiceHours:
    """Daily opening hours in the shop's time zone; ``opens == closes`` means all day."""

    opens: time = time(9, 0)
    closes: time = time(21, 0)

    def contains(self, local: time) -> bool:
        if self.opens == self.closes:
            return True
        if self.opens < self.closes:
            return self.opens <= local < self.closes
        return local >= self.opens or local < self.closes  # open across midnight

    def next_opening(self, now_local: datetime) -> datetime:
        """The next moment the hours open, after ``now_local`` (aware, the shop's zone)."""
        today = now_local.replace(hour=self.opens.hour, minute=self.opens.minute, second=0, microsecond=0)
        return today if today > now_local else today + timedelta(days=1)


@dataclass(frozen=True)
class AutoRule:
    name: str
    enabled: bool = True
    channels: frozenset[str] = frozenset()  # empty: cases from every channel
    conditions: frozenset[Condition] = frozenset(Condition)  # the ones that must hold
    intercept_type: InterceptType = InterceptType.return_to_sender
    service_hours: ServiceHours = field(default_factory=ServiceHours)
    fee_ceiling_fen: int | None = None  # None: no ceiling (an unquoted fee passes)
    fallback: Fallback = Fallback.needs_person  # what a refused or missed intercept of this rule leads to

    def applies_to(self, channel: str) -> bool:
        return self.enabled and (not self.channels or channel in self.channels)


@dataclass(frozen=True)
class ParcelFacts:
    """One parcel of the case as lanjie sees it at the moment of deciding."""

    waybill_no: str
    carrier: str  # plugin:courier
    tracking_status: TrackingStatus
    tracking_at: datetime | None  # None: the carrier has reported nothing yet
    goods_fen: int  # the value of all the goods in the parcel
    intercept_types: frozenset[InterceptType]  # what its carrier can send
    fee_fen: int | None = None  # the carrier's quote, when it gives one


@dataclass(frozen=True)
class CaseFacts:
    channel: str
    type: CaseType
    refund_fen: int
    paid_fen: int | None  # None: the channel did not say; the parcels' goods value stands in
    parcels: tuple[ParcelFacts, ...]
    requested_fen: int  # what the open requests on these parcels (this one included) ask back, together


@dataclass(frozen=True)
class Check:
    condition: Condition
    held: bool
    required: bool
    detail: str


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    rule: str | None
    reason: str  # the first required condition that failed, "" when none did
    checks: tuple[Check, ...] = ()
    wait_until: datetime | None = None
    intercept_type: InterceptType | None = None
    fallback: Fallback | None = None

    def record(self, facts: CaseFacts) -> dict[str, Any]:
        """The decision and what it saw, as stored evidence."""
        return {
            "verdict": self.verdict, "rule": self.rule, "reason": self.reason,
            "wait_until": self.wait_until.isoformat() if self.wait_until else None,
            "intercept_type": self.intercept_type,
            "checks": [{"condition": c.condition, "held": c.held, "required": c.required, "detail": c.detail}
                       for c in self.checks],
            "seen": {"type": facts.type, "refund_fen": facts.refund_fen, "paid_fen": facts.paid_fen,
                     "requested_fen": facts.requested_fen,
                     "parcels": [{"waybill_no": p.waybill_no, "carrier": p.carrier,
                                  "tracking_status": p.tracking_status,
                                  "tracking_at": p.tracking_at.isoformat() if p.tracking_at else None,
                                  "goods_fen": p.goods_fen, "fee_fen": p.fee_fen}
                                 for p in facts.parcels]},
        }


def decide(rules: Sequence[AutoRule], facts: CaseFacts, now: datetime, zone: ZoneInfo) -> Decision:
    """What the shop's rules say to do with this case now."""
    rule = next((r for r in rules if r.applies_to(facts.channel)), None)
    if rule is None:
        return Decision(Verdict.skip, None, "no_rule")
    local = now.astimezone(zone)
    checks = tuple(Check(cond, held, cond in rule.conditions, detail)
                   for cond, (held, detail) in _evaluate(rule, facts, local).items())
    failed = [c for c in checks if c.required and not c.held]
    if failed and failed[0].condition != Condition.service_hours:
        return Decision(Verdict.skip, rule.name, failed[0].condition, checks)
    if failed:  # only the hour is wrong: the intercept waits for opening
        opening = rule.service_hours.next_opening(local)
        return Decision(Verdict.wait, rule.name, Condition.service_hours, checks,
                        wait_until=opening.astimezone(now.tzinfo), intercept_type=rule.intercept_type,
                        fallback=rule.fallback)
    return Decision(Verdict.intercept, rule.name, "", checks, intercept_type=rule.intercept_type,
                    fallback=rule.fallback)


def _evaluate(rule: AutoRule, facts: CaseFacts, local: datetime) -> dict[Condition, tuple[bool, str]]:
    parcels = facts.parcels
    goods = sum(p.goods_fen for p in parcels)
    paid = facts.paid_fen if facts.paid_fen is not None else goods
    paid_from = "paid" if facts.paid_fen is not None else "goods value"
    blocked = [(p.waybill_no, "no scan yet" if p.tracking_at is None else interceptability(p.tracking_status))
               for p in parcels]
    blocked = [(w, why) for w, why in blocked if why is not None]
    requested = facts.requested_fen
    unsupported = [p.waybill_no for p in parcels if rule.intercept_type not in p.intercept_types]
    fees = [p.fee_fen for p in parcels]
    fee = sum(f for f in fees if f is not None) if any(f is not None for f in fees) else None
    hours = rule.service_hours
    return {
        Condition.refund_only_shipped: (facts.type == CaseType.refund_only_shipped, f"type {facts.type}"),
        Condition.full_amount: (bool(parcels) and facts.refund_fen == paid and paid > 0,
                                f"refund {facts.refund_fen} fen, {paid_from} {paid} fen"),
        Condition.in_transit: (bool(parcels) and not blocked,
                               "; ".join(f"{w}: {why}" for w, why in blocked) or
                               ", ".join(f"{p.waybill_no}: {p.tracking_status}" for p in parcels) or "no parcel"),
        Condition.not_shared: (bool(parcels) and requested >= goods,
                               f"goods {goods} fen in the parcel(s), requests on them {requested} fen"),
        Condition.carrier_supports: (bool(parcels) and not unsupported,
                                     f"{rule.intercept_type} not offered for {', '.join(unsupported)}" if unsupported
                                     else f"{rule.intercept_type} offered"),
        Condition.service_hours: (hours.contains(local.time()),
                                  f"{local:%H:%M} {local.tzname()}, hours {hours.opens:%H:%M}-{hours.closes:%H:%M}"),
        Condition.fee_ceiling: (rule.fee_ceiling_fen is None or fee is None or fee <= rule.fee_ceiling_fen,
                                f"fee {'not quoted' if fee is None else f'{fee} fen'}, ceiling "
                                f"{'none' if rule.fee_ceiling_fen is None else f'{rule.fee_ceiling_fen} fen'}"),
    }
