"""The dashboard's figures (看板): how the shop's intercepts, refunds, disputes, returns and claims went.

Which rows count, for a period ``[starts_at, ends_at)``:

- intercept outcomes, the time to the carrier's answer and the intercept fees: intercepts *requested* in the
  period (``intercepts.created_at``);
- case figures (disputes, time to refund, goods recovered, claims): cases *opened* in the period
  (``aftersales.created_at``), whenever their refund, return or claim happened;
- returns on their way back: as they stand now, whatever the period.

Outcomes: ``succeeded``; ``refused`` (the carrier said no at once); ``failed`` (accepted, then did not
happen); ``missed`` (a failure because the parcel was delivered first); ``pending`` (no outcome yet:
requested, submitted, unknown, cancel requested); ``cancelled`` (withdrawn by the shop). The success rate
is succeeded over the decided ones (succeeded + refused + failed + missed); pending and cancelled
intercepts are left out of it.

The parcel's *stage* when an intercept was requested is not recorded anywhere: it is derived from the
parcel's scan history (``shipments.tracking_events``), as the status of the newest scan at or before the
request (``created`` when there was none), the way the rules' dry run sees a past case.

Durations are seconds to a tenth; percentiles are nearest-rank (see ``percentile``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from lanjie.domain.states import (
    ArbitrationStatus,
    ClaimStatus,
    Inspection,
    InterceptReason,
    InterceptStatus,
    ReturnStatus,
    TrackingStatus,
)
from lanjie.store import tables as t


class Breakdown(StrEnum):
    carrier = "carrier"  # plugin:courier, e.g. kuaidi100:zto
    stage = "stage"  # the parcel's tracking status when the intercept was requested


_PENDING = frozenset({InterceptStatus.requested, InterceptStatus.submitted, InterceptStatus.unknown,
                      InterceptStatus.cancel_requested})
#: Claims still waiting on the carrier or on the shop.
CLAIM_OPEN = (ClaimStatus.draft, ClaimStatus.filed, ClaimStatus.in_review, ClaimStatus.waiting_on_documents,
              ClaimStatus.approved, ClaimStatus.approved_partial)


def percentile(values: Sequence[float], p: int) -> float | None:
    """The nearest-rank ``p``-th percentile (1 ≤ p ≤ 100) of ``values``: the smallest value with at least p%
    of the values at or below it, i.e. the ⌈p·n/100⌉-th smallest; None when there are none."""
    if not values:
        return None
    if not 1 <= p <= 100:
        raise ValueError("p must be between 1 and 100")
    rank = -(-p * len(values) // 100)  # ceiling, in integers: no float rounding
    return sorted(values)[rank - 1]


@dataclass(frozen=True)
class Spread:
    """How long something took: the number of cases measured, the median and the 95th percentile, in seconds."""

    count: int
    p50_s: float | None
    p95_s: float | None

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Spread:
        return cls(len(seconds), percentile(seconds, 50), percentile(seconds, 95))


@dataclass
class Outcomes:
    """Intercepts requested in the period, by what became of them, for one carrier or stage (or all)."""

    key: str
    requested: int = 0
    succeeded: int = 0
    refused: int = 0
    failed: int = 0
    missed: int = 0
    pending: int = 0
    cancelled: int = 0

    @property
    def decided(self) -> int:
        return self.succeeded + self.refused + self.failed + self.missed

    @property
    def rate(self) -> float | None:
        """Succeeded over decided (0–1), None when nothing is decided yet."""
        return self.succeeded / self.decided if self.decided else None

    def add(self, status: str, reason: str | None, n: int = 1) -> None:
        self.requested += n
        if status == InterceptStatus.succeeded:
            self.succeeded += n
        elif status == InterceptStatus.refused:
            self.refused += n
        elif status == InterceptStatus.failed:
            if reason == InterceptReason.missed:
                self.missed += n
            else:
                self.failed += n
        elif status == InterceptStatus.cancelled:
            self.cancelled += n
        else:
            assert status in _PENDING, status
            self.pending += n


@dataclass(frozen=True)
class Tally:
    count: int = 0
    amount_fen: int = 0


@dataclass(frozen=True)
class Dashboard:
    shop_id: str
    starts_at: datetime  # UTC, inclusive
    ends_at: datetime  # UTC, exclusive
    breakdown: Breakdown
    intercepts: list[Outcomes]  # by carrier or stage, most requested first
    intercepts_total: Outcomes
    to_answer: Spread  # intercept requested → carrier answered (submitted or refused)
    opened_to_refund: Spread  # case opened → refund succeeded
    intercept_to_refund: Spread  # first intercept requested → refund succeeded (cases with an intercept)
    cases: int  # cases opened in the period
    disputed: int  # of which the platform's arbitration was asked for (any ArbitrationStatus but none)
    buyer_won: int
    merchant_won: int
    fees: Tally  # CNY intercept fees the carriers quoted on accepting (count of intercepts, fen)
    fees_other_minor: dict[str, int]  # fees in other currencies, by currency, in its minor unit
    returned_ok: Tally  # parcels received back and inspected ok, with their goods' value
    claim_payouts: Tally  # claims with money paid out, and the amount paid
    claims_open: Tally  # claims not yet paid, rejected or closed, with the amount asked
    returns_in_transit: Tally  # now: returns on their way back (count, goods' value)
    returns_stalled: Tally  # now: returns without a scan for too long
    returns_awaiting_receipt: Tally  # now: signed for at the sender's side, not yet scanned in

    @property
    def dispute_rate(self) -> float | None:
        return self.disputed / self.cases if self.cases else None

    @property
    def recovered_fen(self) -> int:
        """Goods back in good order plus claim payouts."""
        return self.returned_ok.amount_fen + self.claim_payouts.amount_fen


def _seconds(conn: sa.Connection, later: Any, earlier: Any) -> sa.ColumnElement[Any]:
    """``later - earlier`` in seconds, in SQL (each database has its own date arithmetic)."""
    if conn.dialect.name == "sqlite":
        return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0
    as_time = sa.DateTime(timezone=True)
    return sa.extract("epoch", sa.type_coerce(later, as_time) - sa.type_coerce(earlier, as_time))


def _tenths(values: Iterable[Any]) -> list[float]:
    """Seconds to a tenth: a carrier answers in well under a second, which whole seconds would show as 0."""
    return [round(float(v), 1) for v in values if v is not None]


def figures(conn: sa.Connection, shop_id: str, starts_at: datetime, ends_at: datetime,
            breakdown: Breakdown = Breakdown.carrier) -> Dashboard:
    """The shop's dashboard for the period ``[starts_at, ends_at)`` (aware datetimes)."""
    i, a = t.intercepts, t.aftersales
    in_period = sa.and_(i.c.shop_id == shop_id, i.c.created_at >= starts_at, i.c.created_at < ends_at)
    opened = sa.and_(a.c.shop_id == shop_id, a.c.created_at >= starts_at, a.c.created_at < ends_at)

    groups = _by_stage(conn, in_period) if breakdown == Breakdown.stage else _by_carrier(conn, in_period)
    total = Outcomes("total")
    for group in groups:
        for name in ("succeeded", "refused", "failed", "missed", "pending", "cancelled", "requested"):
            setattr(total, name, getattr(total, name) + getattr(group, name))

    answered = conn.execute(sa.select(_seconds(conn, i.c.answered_at, i.c.created_at))
                            .where(in_period, i.c.answered_at.is_not(None))).scalars()
    to_refund, from_intercept = _refund_times(conn, shop_id, opened)
    cases = conn.execute(sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(sa.case((a.c.arbitration != ArbitrationStatus.none, 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((a.c.arbitration == ArbitrationStatus.buyer_won, 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((a.c.arbitration == ArbitrationStatus.merchant_won, 1), else_=0)), 0),
    ).where(opened)).one()
    fees, other = _fees(conn, in_period)
    claim_payouts, claims_open = _claims(conn, opened)
    returns = _returns_now(conn, shop_id)
    return Dashboard(
        shop_id=shop_id, starts_at=starts_at, ends_at=ends_at, breakdown=breakdown,
        intercepts=sorted(groups, key=lambda g: (-g.requested, g.key)) if breakdown == Breakdown.carrier
        else groups,
        intercepts_total=total, to_answer=Spread.of(_tenths(answered)), opened_to_refund=Spread.of(to_refund),
        intercept_to_refund=Spread.of(from_intercept), cases=int(cases[0]), disputed=int(cases[1]),
        buyer_won=int(cases[2]), merchant_won=int(cases[3]), fees=fees, fees_other_minor=other,
        returned_ok=_returned_ok(conn, opened), claim_payouts=claim_payouts, claims_open=claims_open,
        returns_in_transit=returns.get(ReturnStatus.returning, Tally()),
        returns_stalled=returns.get(ReturnStatus.stalled, Tally()),
        returns_awaiting_receipt=returns.get(ReturnStatus.returned, Tally()))


def _by_carrier(conn: sa.Connection, in_period: sa.ColumnElement[bool]) -> list[Outcomes]:
    i, s = t.intercepts, t.shipments
    rows = conn.execute(sa.select(s.c.carrier, s.c.carrier_code, i.c.status, i.c.reason, sa.func.count())
                        .select_from(i).join(s, s.c.id == i.c.shipment_id).where(in_period)
                        .group_by(s.c.carrier, s.c.carrier_code, i.c.status, i.c.reason))
    groups: dict[str, Outcomes] = {}
    for carrier, courier, status, reason, n in rows:
        key = f"{carrier}:{courier}"
        groups.setdefault(key, Outcomes(key)).add(status, reason, int(n))
    return list(groups.values())


def stage_at(history: Sequence[dict[str, Any]] | None, at: datetime) -> TrackingStatus:
    """The parcel's tracking status at ``at``, from its scan history (newest first); ``created`` before any scan."""
    for scan in history or []:
        if datetime.fromisoformat(scan["at"]) <= at:
            return TrackingStatus(scan["status"])
    return TrackingStatus.created


def _by_stage(conn: sa.Connection, in_period: sa.ColumnElement[bool]) -> list[Outcomes]:
    # The stage is not a column: each parcel's scan history is read once, and its intercepts placed by it.
    i, s = t.intercepts, t.shipments
    rows = conn.execute(sa.select(i.c.created_at, i.c.status, i.c.reason, s.c.tracking_events)
                        .select_from(i).join(s, s.c.id == i.c.shipment_id).where(in_period)
                        .execution_options(yield_per=2000))
    groups: dict[TrackingStatus, Outcomes] = {}
    for requested_at, status, reason, history in rows:
        stage = stage_at(history, requested_at)
        groups.setdefault(stage, Outcomes(stage.value)).add(status, reason)
    return [groups[stage] for stage in TrackingStatus if stage in groups]  # in the parcel's journey's order


def _refund_times(conn: sa.Connection, shop_id: str,
                  opened: sa.ColumnElement[bool]) -> tuple[list[int], list[int]]:
    """Seconds from opening to the refund's success, and from the first intercept request to it."""
    a, e, i = t.aftersales, t.events, t.intercepts
    refunded = (sa.select(e.c.aftersale_id, sa.func.min(e.c.created_at).label("at"))
                .join(a, a.c.id == e.c.aftersale_id)
                .where(opened, e.c.type == "refund.succeeded")  # a case's events are its shop's
                .group_by(e.c.aftersale_id).subquery())
    first = (sa.select(i.c.aftersale_id, sa.func.min(i.c.created_at).label("at"))
             .join(a, a.c.id == i.c.aftersale_id).where(opened, i.c.shop_id == shop_id)
             .group_by(i.c.aftersale_id).subquery())
    rows = conn.execute(sa.select(_seconds(conn, refunded.c.at, a.c.created_at),
                                  _seconds(conn, refunded.c.at, first.c.at))
                        .select_from(a).join(refunded, refunded.c.aftersale_id == a.c.id)
                        .outerjoin(first, first.c.aftersale_id == a.c.id).where(opened)).all()
    return _tenths(r[0] for r in rows), _tenths(r[1] for r in rows)


def _fees(conn: sa.Connection, in_period: sa.ColumnElement[bool]) -> tuple[Tally, dict[str, int]]:
    """The fee each intercept's carrier quoted when accepting it (the last acceptance, once per intercept)."""
    i, e = t.intercepts, t.events
    rows = conn.execute(sa.select(e.c.subject_id, e.c.payload)
                        .select_from(i).join(e, sa.and_(e.c.aftersale_id == i.c.aftersale_id, e.c.subject_id == i.c.id))
                        .where(in_period, e.c.type == "intercept.submitted")  # an intercept's events are its shop's
                        .order_by(e.c.id))
    quoted: dict[str, tuple[str, int]] = {}
    for intercept_id, payload in rows:
        fee = payload.get("fee")
        minor = fee.get("amount_minor", fee.get("fee_minor")) if isinstance(fee, dict) else None
        if isinstance(minor, int) and not isinstance(minor, bool):
            quoted[intercept_id] = (str(fee.get("currency") or "CNY"), minor)
    cny = [minor for currency, minor in quoted.values() if currency == "CNY"]
    other: dict[str, int] = {}
    for currency, minor in quoted.values():
        if currency != "CNY":
            other[currency] = other.get(currency, 0) + minor
    return Tally(len(cny), sum(cny)), other


def _returned_ok(conn: sa.Connection, opened: sa.ColumnElement[bool]) -> Tally:
    a, r, s = t.aftersales, t.return_legs, t.shipments
    count, value = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(s.c.value_fen), 0))
                                .select_from(r).join(a, a.c.id == r.c.aftersale_id)
                                .join(s, s.c.id == r.c.shipment_id)
                                .where(opened, r.c.status == ReturnStatus.received,
                                       r.c.inspection == Inspection.ok)).one()
    return Tally(int(count), int(value))


def _claims(conn: sa.Connection, opened: sa.ColumnElement[bool]) -> tuple[Tally, Tally]:
    """(claims paid out: count and fen paid; claims open: count and fen asked) of the period's cases."""
    a, c = t.aftersales, t.claims
    paid, paid_fen, open_, open_fen = conn.execute(sa.select(
        sa.func.coalesce(sa.func.sum(sa.case((c.c.paid_fen > 0, 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(c.c.paid_fen), 0),
        sa.func.coalesce(sa.func.sum(sa.case((c.c.status.in_(CLAIM_OPEN), 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((c.c.status.in_(CLAIM_OPEN), c.c.amount_fen), else_=0)), 0),
    ).select_from(c).join(a, a.c.id == c.c.aftersale_id).where(opened)).one()
    return Tally(int(paid), int(paid_fen)), Tally(int(open_), int(open_fen))


def _returns_now(conn: sa.Connection, shop_id: str) -> dict[str, Tally]:
    r, s = t.return_legs, t.shipments
    rows = conn.execute(sa.select(r.c.status, sa.func.count(), sa.func.coalesce(sa.func.sum(s.c.value_fen), 0))
                        .join(s, s.c.id == r.c.shipment_id)
                        .where(r.c.shop_id == shop_id, r.c.status.in_(
                            (ReturnStatus.returning, ReturnStatus.stalled, ReturnStatus.returned)))
                        .group_by(r.c.status))
    return {status: Tally(int(n), int(value)) for status, n, value in rows}
