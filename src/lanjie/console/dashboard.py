"""The console's dashboard (看板): the shop's figures over a chosen period, as tiles, server-drawn SVG charts
and the same figures in tables.

The period is two dates in the shop's time zone, both included (default: the last 7 days, today among
them). The figures come from ``lanjie.service.dashboard``; this module only reads the form, formats and
draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import anyio
from fastapi import APIRouter, Depends, Query, Request
from markupsafe import Markup
from starlette.responses import HTMLResponse

from lanjie.console import charts
from lanjie.console.messages import Translator
from lanjie.console.vocab import carrier_label
from lanjie.console.web import Formats, engine_for, language, render, signed_in
from lanjie.service import dashboard as service
from lanjie.service.console_users import ConsoleSession, Role
from lanjie.service.ids import utcnow

router = APIRouter(include_in_schema=False)
Reader = Annotated[ConsoleSession, Depends(signed_in(Role.owner, Role.agent))]
DEFAULT_DAYS = 7
LONGEST_DAYS = 366


@dataclass(frozen=True)
class Period:
    first: date  # shop-local, included
    last: date  # shop-local, included
    starts_at: datetime  # UTC bounds of the days: [starts_at, ends_at)
    ends_at: datetime
    error: str = ""  # message key when the dates asked for could not be used


def period_of(first: str, last: str, zone: ZoneInfo, now: datetime) -> Period:
    """The days ``first``..``last`` (YYYY-MM-DD, shop-local, both included); the last 7 days when not given
    or not usable (``error`` says why)."""
    today = now.astimezone(zone).date()
    default = (today - timedelta(days=DEFAULT_DAYS - 1), today)
    error = ""
    if not first and not last:
        chosen = default
    else:
        try:
            chosen = (date.fromisoformat(first) if first else default[0], date.fromisoformat(last) if last else today)
        except ValueError:
            chosen, error = default, "dashboard.error.date"
        else:
            if chosen[0] > chosen[1]:
                chosen, error = default, "dashboard.error.order"
            elif (chosen[1] - chosen[0]).days >= LONGEST_DAYS:
                chosen, error = default, "dashboard.error.span"
    start = datetime.combine(chosen[0], time(), zone)
    end = datetime.combine(chosen[1] + timedelta(days=1), time(), zone)
    return Period(chosen[0], chosen[1], start, end, error)


def duration(t: Translator, seconds: float | None) -> str:
    """A duration as people read it: 0.4 秒, 45 秒, 2 分 5 秒, 3 小时 0 分, 2 天 4 小时."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return t("dashboard.dur.s", s=f"{seconds:.1f}")
    seconds = round(seconds)
    if seconds < 60:
        return t("dashboard.dur.s", s=seconds)
    if seconds < 3600:
        return t("dashboard.dur.m", m=seconds // 60, s=seconds % 60)
    if seconds < 86400:
        return t("dashboard.dur.h", h=seconds // 3600, m=seconds % 3600 // 60)
    return t("dashboard.dur.d", d=seconds // 86400, h=seconds % 86400 // 3600)


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _group_label(t: Translator, breakdown: service.Breakdown, key: str) -> str:
    if breakdown == service.Breakdown.stage:
        return t(f"dashboard.stage.{key}")
    plugin, _, courier = key.rpartition(":")
    return f"{carrier_label(t, key)} ({plugin})" if plugin and plugin != courier else carrier_label(t, key)


def _success_chart(t: Translator, figures: service.Dashboard) -> Markup:
    by = t(f"dashboard.chart.success.by.{figures.breakdown}")
    bars, rows = [], []
    for group in figures.intercepts:
        label = _group_label(t, figures.breakdown, group.key)
        bad = group.refused + group.failed + group.missed
        bars.append(charts.Bar(label, (charts.Part(group.succeeded, "seg-ok"), charts.Part(bad, "seg-bad"),
                                       charts.Part(group.pending, "seg-pending")), percent(group.rate)))
        rows.append(t("dashboard.chart.success.row", label=label, ok=group.succeeded, bad=bad,
                      pending=group.pending, rate=percent(group.rate)))
    legend = [(t("dashboard.legend.ok"), "seg-ok"), (t("dashboard.legend.bad"), "seg-bad"),
              (t("dashboard.legend.pending"), "seg-pending")]
    return charts.bar_chart("chart-success", t("dashboard.chart.success", by=by),
                            t("dashboard.chart.success.desc", rows=" ".join(rows)), bars, legend)


def _money_chart(t: Translator, figures: service.Dashboard, money: Any) -> Markup:
    fees, goods, payouts = figures.fees.amount_fen, figures.returned_ok.amount_fen, figures.claim_payouts.amount_fen
    bars = [charts.Bar(t("dashboard.money.fees"), (charts.Part(fees, "seg-bad"),), money(fees)),
            charts.Bar(t("dashboard.money.goods"), (charts.Part(goods, "seg-ok"),), money(goods)),
            charts.Bar(t("dashboard.money.payouts"), (charts.Part(payouts, "seg-ok"),), money(payouts))]
    return charts.bar_chart("chart-money", t("dashboard.chart.money"), t(
        "dashboard.chart.money.desc", fees=money(fees), goods=money(goods), payouts=money(payouts)), bars)


def _returns_chart(t: Translator, figures: service.Dashboard) -> Markup:
    moving, stalled = figures.returns_in_transit.count, figures.returns_stalled.count
    awaiting = figures.returns_awaiting_receipt.count
    bars = [charts.Bar(t("dashboard.returns.in_transit"), (charts.Part(moving, "seg-pending"),), str(moving)),
            charts.Bar(t("dashboard.returns.stalled"), (charts.Part(stalled, "seg-warn"),), str(stalled)),
            charts.Bar(t("dashboard.returns.awaiting"), (charts.Part(awaiting, "seg-ok"),), str(awaiting))]
    return charts.bar_chart("chart-returns", t("dashboard.chart.returns"), t(
        "dashboard.chart.returns.desc", moving=moving, stalled=stalled, awaiting=awaiting), bars)


def _figures(request: Request, session: ConsoleSession, period: Period,
             breakdown: service.Breakdown) -> service.Dashboard:
    with engine_for(request, session, read_only=True).connect() as conn:
        return service.figures(conn, session.user.shop_id, period.starts_at, period.ends_at, breakdown)


@router.get("/console/dashboard", response_class=HTMLResponse)
async def dashboard_page(request: Request, session: Reader, first: Annotated[str, Query(alias="from")] = "",
                         last: Annotated[str, Query(alias="to")] = "", breakdown: str = "") -> HTMLResponse:
    formats = Formats(session.timezone)
    period = period_of(first.strip()[:20], last.strip()[:20], formats.zone, utcnow())
    chosen = service.Breakdown(breakdown) if breakdown in set(service.Breakdown) else service.Breakdown.carrier
    figures = await anyio.to_thread.run_sync(_figures, request, session, period, chosen)
    t = Translator(language(request))
    times = [("answer", figures.to_answer), ("opened_refund", figures.opened_to_refund),
             ("intercept_refund", figures.intercept_to_refund)]
    return render(request, session, "dashboard.html", {
        "period": period, "zone": formats.zone.key, "breakdown": chosen, "breakdowns": list(service.Breakdown),
        "f": figures, "times": times, "duration": lambda s: duration(t, s), "percent": percent,
        "group_label": lambda key: _group_label(t, chosen, key),
        "empty": figures.cases == 0 and figures.intercepts_total.requested == 0,
        "success_chart": _success_chart(t, figures) if figures.intercepts else None,
        "money_chart": _money_chart(t, figures, formats.money), "returns_chart": _returns_chart(t, figures),
    }, section="dashboard")
