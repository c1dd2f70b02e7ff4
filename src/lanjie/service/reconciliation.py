"""Reconciliation (对账): per carrier plugin and month, what was claimed, approved, paid and rejected,
which claims are still open and for how long, and what the carriers charged for intercepts.

A month is a calendar month in the shop's time zone. Each figure is dated by the moment it happened:

- filed: the claim's ``filed_at``; amount = what the shop asked (``amount_fen``);
- approved / rejected: the ``claim.approved`` / ``claim.approved_partial`` / ``claim.rejected`` event;
  approved amount = what the carrier granted, rejected amount = what had been asked;
- paid: each payout by its own ``paid_at`` (the date on the bank transfer, not when it was typed in);
- open by age: claims drafted and not yet rejected, paid or closed at the end of the month (or now, for the
  current month), by days since drafting: 0–7, 8–30, 31–90, over 90;
- intercept fees: the fee the carrier quoted when it accepted an intercept (``intercept.submitted`` events
  whose payload has ``fee: {amount_minor, currency}``), once per intercept; CNY in fen, other currencies
  apart in their minor unit.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from lanjie.domain.errors import NotFound, RuleViolation
from lanjie.service import shops
from lanjie.store import tables as t

_MONTH = re.compile(r"^([12]\d{3})-(0[1-9]|1[0-2])$")
_APPROVED = ("claim.approved", "claim.approved_partial")
_ENDED = ("claim.rejected", "claim.paid", "claim.closed")  # a claim is open until one of these
#: Age buckets of open claims: (name, most days), the last one open-ended.
BUCKETS = (("days_0_7", 7), ("days_8_30", 30), ("days_31_90", 90), ("days_over_90", None))


@dataclass
class Tally:
    count: int = 0
    amount_fen: int = 0

    def add(self, amount_fen: int) -> None:
        self.count += 1
        self.amount_fen += amount_fen


@dataclass
class OpenByAge:
    days_0_7: Tally = field(default_factory=Tally)
    days_8_30: Tally = field(default_factory=Tally)
    days_31_90: Tally = field(default_factory=Tally)
    days_over_90: Tally = field(default_factory=Tally)

    def add(self, age_days: int, amount_fen: int) -> None:
        name = next(name for name, most in BUCKETS if most is None or age_days <= most)
        getattr(self, name).add(amount_fen)


@dataclass
class Fees:
    count: int = 0
    amount_fen: int = 0  # CNY
    other_minor: dict[str, int] = field(default_factory=dict)  # other currencies, minor units (UPS: USD cents)


@dataclass
class CarrierLine:
    carrier: str  # plugin name, or "total"
    filed: Tally = field(default_factory=Tally)
    approved: Tally = field(default_factory=Tally)
    paid: Tally = field(default_factory=Tally)
    rejected: Tally = field(default_factory=Tally)
    open_by_age: OpenByAge = field(default_factory=OpenByAge)
    intercept_fees: Fees = field(default_factory=Fees)


@dataclass(frozen=True)
class Month:
    name: str  # YYYY-MM
    time_zone: str
    starts_at: datetime  # UTC, inclusive
    ends_at: datetime  # UTC, exclusive


def month_of(month: str | None, time_zone: str, now: datetime) -> Month:
    """The calendar month ``YYYY-MM`` (default: the one ``now`` falls in) in ``time_zone``, as UTC bounds."""
    zone = ZoneInfo(time_zone)
    if month is None:
        month = now.astimezone(zone).strftime("%Y-%m")
    match = _MONTH.match(month)
    if match is None:
        raise RuleViolation("month", f"month must be YYYY-MM, not {month!r}")
    year, number = int(match[1]), int(match[2])
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return Month(month, time_zone, start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC")))


def _plugin(carrier: str) -> str:
    return carrier.partition(":")[0]


def _when(value: Any) -> datetime | None:
    """A payout's ``paid_at`` (ISO text in the claim's JSON) as an aware datetime, or None when unreadable."""
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def report(conn: sa.Connection, shop_id: str, *, month: str | None, carrier: str | None,
           now: datetime) -> dict[str, Any]:
    """The shop's reconciliation for one month, per carrier plugin (``carrier`` narrows it to one), with totals."""
    shop = shops.get_shop(conn, shop_id)
    if shop is None:
        raise NotFound("shop", shop_id)
    window = month_of(month, shop.timezone, now)
    lines: dict[str, CarrierLine] = {}

    def line(plugin: str) -> CarrierLine:
        return lines.setdefault(plugin, CarrierLine(plugin))

    def within(at: datetime | None) -> bool:
        return at is not None and window.starts_at <= at < window.ends_at

    c, e = t.claims, t.events
    claims = [r for r in conn.execute(sa.select(c.c.id, c.c.carrier, c.c.amount_fen, c.c.filed_at, c.c.payouts,
                                                c.c.created_at).where(c.c.shop_id == shop_id))
              if carrier is None or _plugin(r.carrier) == carrier]
    by_id = {r.id: r for r in claims}
    events = conn.execute(sa.select(e.c.subject_id, e.c.type, e.c.payload, e.c.created_at).where(
        e.c.shop_id == shop_id, e.c.subject_type == "claim", e.c.type.in_((*_APPROVED, *_ENDED)),
        e.c.created_at < window.ends_at).order_by(e.c.id)).all()

    approvals: dict[str, int] = {}  # claim id → approved fen, by the last approval within the month
    rejections: set[str] = set()
    ended: dict[str, datetime] = {}  # claim id → when it stopped being open (first ending event)
    for ev in events:
        if ev.subject_id not in by_id:
            continue
        if ev.type in _ENDED:
            ended.setdefault(ev.subject_id, ev.created_at)
        if not within(ev.created_at):
            continue
        if ev.type in _APPROVED:
            approvals[ev.subject_id] = int(ev.payload.get("approved_fen") or 0)
        elif ev.type == "claim.rejected":
            rejections.add(ev.subject_id)

    as_of = min(now, window.ends_at)
    for row in claims:
        entry = line(_plugin(row.carrier))
        if within(row.filed_at):
            entry.filed.add(row.amount_fen)
        if row.id in approvals:
            entry.approved.add(approvals[row.id])
        if row.id in rejections:
            entry.rejected.add(row.amount_fen)
        for payout in row.payouts:
            if within(_when(payout.get("paid_at"))):
                entry.paid.add(int(payout["amount_fen"]))
        still_open = row.id not in ended or ended[row.id] >= as_of
        if row.created_at < as_of and still_open:
            entry.open_by_age.add((as_of - row.created_at).days, row.amount_fen)

    for plugin, fee in _intercept_fees(conn, shop_id, window):
        if carrier is not None and plugin != carrier:
            continue
        fees = line(plugin).intercept_fees
        currency, minor = str(fee["currency"]), int(fee["amount_minor"])
        fees.count += 1
        if currency == "CNY":
            fees.amount_fen += minor
        else:
            fees.other_minor[currency] = fees.other_minor.get(currency, 0) + minor

    ordered = [lines[name] for name in sorted(lines) if lines[name] != CarrierLine(name)]  # nothing to show: left out
    return {"month": window.name, "time_zone": window.time_zone, "from": window.starts_at.isoformat(),
            "to": window.ends_at.isoformat(), "open_as_of": as_of.isoformat(), "carrier": carrier,
            "carriers": [asdict(entry) for entry in ordered], "total": asdict(_total(ordered))}


def _intercept_fees(conn: sa.Connection, shop_id: str, window: Month) -> list[tuple[str, dict[str, Any]]]:
    """(carrier plugin, fee) of each intercept accepted within the month with a quoted fee, once per intercept."""
    e, i, s = t.events, t.intercepts, t.shipments
    rows = conn.execute(sa.select(e.c.subject_id, e.c.payload, s.c.carrier)
                        .join(i, sa.and_(i.c.id == e.c.subject_id, i.c.shop_id == e.c.shop_id))
                        .join(s, s.c.id == i.c.shipment_id)
                        .where(e.c.shop_id == shop_id, e.c.type == "intercept.submitted",
                               e.c.created_at >= window.starts_at, e.c.created_at < window.ends_at)
                        .order_by(e.c.id))
    fees: dict[str, tuple[str, dict[str, Any]]] = {}
    for row in rows:
        fee = row.payload.get("fee")
        # workflows records {amount_minor, currency}; fee_minor (the carrier ack's own name) is read too.
        minor = fee.get("amount_minor", fee.get("fee_minor")) if isinstance(fee, dict) else None
        if isinstance(minor, int) and not isinstance(minor, bool):
            fees[row.subject_id] = (row.carrier, {"amount_minor": minor, "currency": fee.get("currency") or "CNY"})
    return list(fees.values())  # an intercept acknowledged twice counts once: the last


def _total(lines: list[CarrierLine]) -> CarrierLine:
    total = CarrierLine("total")
    for entry in lines:
        for name in ("filed", "approved", "paid", "rejected"):
            part, into = getattr(entry, name), getattr(total, name)
            into.count, into.amount_fen = into.count + part.count, into.amount_fen + part.amount_fen
        for name, _ in BUCKETS:
            part, into = getattr(entry.open_by_age, name), getattr(total.open_by_age, name)
            into.count, into.amount_fen = into.count + part.count, into.amount_fen + part.amount_fen
        fees = total.intercept_fees
        fees.count += entry.intercept_fees.count
        fees.amount_fen += entry.intercept_fees.amount_fen
        for currency, minor in entry.intercept_fees.other_minor.items():
            fees.other_minor[currency] = fees.other_minor.get(currency, 0) + minor
    return total


#: The CSV's columns: a line per carrier plugin, then the total.
CSV_COLUMNS = ("month", "carrier", "filed_count", "filed_fen", "approved_count", "approved_fen", "paid_count",
               "paid_fen", "rejected_count", "rejected_fen",
               *(f"open_{name.removeprefix('days_')}_{part}" for name, _ in BUCKETS for part in ("count", "fen")),
               "intercept_fee_count", "intercept_fees_fen", "intercept_fees_other")


def as_csv(answer: dict[str, Any]) -> bytes:
    """The report as CSV (UTF-8 with a BOM, so spreadsheet programs read the Chinese right)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in (*answer["carriers"], answer["total"]):
        tallies = [entry[name][part] for name in ("filed", "approved", "paid", "rejected")
                   for part in ("count", "amount_fen")]
        ages = [entry["open_by_age"][name][part] for name, _ in BUCKETS for part in ("count", "amount_fen")]
        fees = entry["intercept_fees"]
        other = " ".join(f"{currency}:{minor}" for currency, minor in sorted(fees["other_minor"].items()))
        writer.writerow([answer["month"], entry["carrier"], *tallies, *ages, fees["count"], fees["amount_fen"],
                         other])
    return ("\ufeff" + out.getvalue()).encode("utf-8")

