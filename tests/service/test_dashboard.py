"""The dashboard's figures against a real database: which rows count in a period, rates, nearest-rank
percentiles in seconds, sums in fen, and never another shop's rows.

``seed_week`` builds one week of a shop's life with the real services at controlled times; the console's
dashboard test renders the same week.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lanjie.bootstrap import Container, bootstrap
from lanjie.domain.model import AfterSale
from lanjie.domain.states import (
    ArbitrationStatus,
    CaseType,
    ClaimStatus,
    Inspection,
    InterceptReason,
    InterceptType,
    Resolution,
    TrackingStatus,
)
from lanjie.service import claims, commands, dashboard, returns
from lanjie.service.dashboard import Breakdown, Outcomes, Spread, Tally
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.settings import Settings
from lanjie.store import tables as t
from tests.service.test_reconciliation import ITEMS, PARTY, intercepted, lost, make_shop, received

T0 = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)  # Monday 2 November 2026, 12:00 in Shanghai
WEEK = (datetime(2026, 10, 31, 16, 0, tzinfo=UTC), datetime(2026, 11, 7, 16, 0, tzinfo=UTC))  # 1–7 Nov, Shanghai
VALUE = sum(i.qty * i.price_fen for i in ITEMS)  # 110.00 yuan of goods per parcel


@dataclass(frozen=True)
class Week:
    shop_id: str
    other_shop_id: str
    cases: dict[str, str]  # name → case id


def scan(at: datetime, status: TrackingStatus) -> dict[str, Any]:
    return {"at": at.isoformat(), "status": status, "code": "", "description": "", "location": ""}


def requested(engine: sa.Engine, shop_id: str, waybill_no: str, at: datetime, *, carrier: str = "kuaidi100",
              courier: str = "zto", scans: list[dict[str, Any]] | None = None) -> tuple[str, str]:
    """A refund-only case opened at ``at`` on a parcel with ``scans`` (newest first), its intercept requested
    at once: (case id, intercept id)."""
    with UnitOfWork(engine, at) as uow:
        shipment = commands.register_shipment(uow, shop_id, commands.NewShipment(
            carrier=carrier, carrier_code=courier, waybill_no=waybill_no, order_id=f"O-{waybill_no}",
            items=list(ITEMS), value_fen=VALUE, freight_fen=1000, sender=PARTY, recipient=PARTY))
        if scans:
            shipment.apply_tracking(TrackingStatus(scans[0]["status"]), datetime.fromisoformat(scans[0]["at"]),
                                    scans)
            uow.save(shipment)
        case = commands.open_case(uow, shop_id, commands.NewCase(
            f"O-{waybill_no}", CaseType.refund_only_shipped, VALUE, [waybill_no]))
        [icpt] = commands.request_intercepts(uow, shop_id, case.id, type=InterceptType.return_to_sender)
        uow.commit()
    return case.id, icpt.id


def step(engine: sa.Engine, shop_id: str, case_id: str, when: datetime, change: Callable[[AfterSale, UnitOfWork],
                                                                                           Any]) -> None:
    """Change a case at ``when``."""
    with UnitOfWork(engine, when) as uow:
        case = commands.load_case(uow, shop_id, case_id)
        change(case, uow)
        uow.save(case)
        uow.commit()


def refund_paid(engine: sa.Engine, shop_id: str, case_id: str, when: datetime) -> None:
    """The case's refund (already decided) went through downstream at ``when``."""
    def pay(case: AfterSale, _: UnitOfWork) -> None:
        refund = case.live_refund
        assert refund is not None
        case.refund_approved(refund.id)
        case.refund_succeeded(refund.id)
    step(engine, shop_id, case_id, when, pay)


def disputed(engine: sa.Engine, case_id: str, status: ArbitrationStatus) -> None:
    with engine.begin() as conn:
        conn.execute(t.aftersales.update().where(t.aftersales.c.id == case_id).values(arbitration=status))


def seed_week(container: Container, shop_id: str, other_shop_id: str) -> Week:
    """One week (1–7 Nov 2026, Shanghai) of a shop, around it rows that must not count:

    in the week — seven cases, six intercepts:
    - ``a`` kuaidi100:zto, in transit: accepted after 60 s with a ¥3.00 fee, turned back, refund paid 3 h after
      opening, received in good order (goods ¥110.00);
    - ``b`` kuaidi100:zto, in transit: refused after 30 s; the buyer won the platform's arbitration;
    - ``c`` sf:sf, picked up (its in-transit scan came an hour after the request): accepted after 120 s with a
      ¥1.50 fee, then missed (delivered first); the merchant won the arbitration;
    - ``d`` sf:sf, no scan yet: requested, no answer;
    - ``f`` a case with no intercept, refunded 600 s after opening; arbitration in review;
    - ``g`` kuaidi100:zto, in transit: accepted after 60 s, turned back, received damaged → a damage claim,
      ¥25.00 paid out of ¥30.00 asked;
    - ``h`` sf:sf, in transit: accepted after 60 s quoting USD 5.00, turned back, lost → a loss claim (draft,
      ¥30.00 asked).
    around it — ``e`` kuaidi100:zto on 30 Oct (fee ¥9.99; counts nowhere), ``i`` on 20 Oct still on its way
    back, ``j`` on 19 Oct stalled on its way back (both count only as returns now), and the other shop's
    intercepted, disputed case in the week with its return under way.
    """
    engine, settings = container.engine, container.settings
    cny = {"currency": "CNY"}
    cases: dict[str, str] = {}

    a = intercepted(engine, settings, shop_id, "ZT-A", at=T0, fee={"amount_minor": 300, **cny})
    cases["a"] = a.case_id
    refund_paid(engine, shop_id, a.case_id, T0 + timedelta(hours=3))
    received(engine, settings, shop_id, a, T0 + timedelta(days=1), Inspection.ok)

    moving = [scan(T0 - timedelta(hours=3), TrackingStatus.in_transit)]
    cases["b"], b_icpt = requested(engine, shop_id, "ZT-B", T0, scans=moving)
    step(engine, shop_id, cases["b"], T0 + timedelta(seconds=30), lambda case, u: case.intercept_refused(
        b_icpt, reason=InterceptReason.already_delivered, message="delivered", now=u.now))
    disputed(engine, cases["b"], ArbitrationStatus.buyer_won)

    c_at = T0 + timedelta(hours=5)
    cases["c"], c_icpt = requested(engine, shop_id, "SF-C", c_at, carrier="sf", courier="sf", scans=[
        scan(c_at + timedelta(hours=1), TrackingStatus.in_transit), scan(c_at - timedelta(hours=5),
                                                                          TrackingStatus.picked_up)])

    def accept_c(case: AfterSale, u: UnitOfWork) -> None:
        case.intercept_attempt_started(c_icpt, u.now)
        case.intercept_acknowledged(c_icpt, task_id="task-c", now=u.now, fee={"amount_minor": 150, **cny})
    step(engine, shop_id, cases["c"], c_at + timedelta(seconds=120), accept_c)
    step(engine, shop_id, cases["c"], c_at + timedelta(hours=6), lambda case, u: case.intercept_failed(
        c_icpt, reason=InterceptReason.already_delivered, message="signed for", now=u.now))
    disputed(engine, cases["c"], ArbitrationStatus.merchant_won)

    cases["d"], _ = requested(engine, shop_id, "SF-D", T0 + timedelta(days=1), carrier="sf", courier="sf")

    f_at = T0 + timedelta(days=1)
    with UnitOfWork(engine, f_at) as uow:
        commands.register_shipment(uow, shop_id, commands.NewShipment(
            carrier="kuaidi100", carrier_code="zto", waybill_no="ZT-F", order_id="O-ZT-F", items=list(ITEMS),
            value_fen=VALUE, freight_fen=1000, sender=PARTY, recipient=PARTY))
        case = commands.open_case(uow, shop_id, commands.NewCase("O-ZT-F", CaseType.refund_only_shipped, 990,
                                                                 ["ZT-F"]))
        case.approve_refund(uow.now, resolution=Resolution.refund_without_intercept, evidence={})
        uow.save(case)
        uow.commit()
    cases["f"] = case.id
    refund_paid(engine, shop_id, case.id, f_at + timedelta(seconds=600))
    disputed(engine, case.id, ArbitrationStatus.in_review)

    g = intercepted(engine, settings, shop_id, "ZT-G", at=T0 + timedelta(days=2))
    cases["g"] = g.case_id
    claim_id = received(engine, settings, shop_id, g, T0 + timedelta(days=3), Inspection.damaged)
    assert claim_id is not None
    _claim(engine, T0 + timedelta(days=3, hours=1), lambda u: claims.file(u, shop_id, claim_id, via="packet",
                                                                          online=False))
    _claim(engine, T0 + timedelta(days=4), lambda u: claims.carrier_said(u, shop_id, claim_id,
                                                                         ClaimStatus.approved_partial,
                                                                         approved_fen=2500))
    _claim(engine, T0 + timedelta(days=5), lambda u: claims.record_payout(
        u, shop_id, claim_id, amount_fen=2500, reference="BANK-1", paid_at=T0 + timedelta(days=5)))

    h = intercepted(engine, settings, shop_id, "SF-H", at=T0 + timedelta(days=4), carrier="sf", courier="sf",
                    fee={"amount_minor": 500, "currency": "USD"})
    cases["h"] = h.case_id
    lost(engine, settings, shop_id, h, T0 + timedelta(days=5))

    cases["e"] = intercepted(engine, settings, shop_id, "ZT-E", at=T0 - timedelta(days=3),
                             fee={"amount_minor": 999, **cny}, start_leg=False).case_id
    cases["i"] = intercepted(engine, settings, shop_id, "ZT-I", at=T0 - timedelta(days=13)).case_id
    j = intercepted(engine, settings, shop_id, "ZT-J", at=T0 - timedelta(days=14))
    cases["j"] = j.case_id
    with engine.connect() as conn:
        leg_id = conn.execute(sa.select(t.return_legs.c.id).where(t.return_legs.c.shipment_id == j.shipment_id)
                              ).scalar_one()
    _claim(engine, T0 - timedelta(days=7), lambda u: returns.check_stalled(u, shop_id, leg_id, settings))

    other = intercepted(engine, settings, other_shop_id, "ZT-OTHER", at=T0, fee={"amount_minor": 700, **cny})
    disputed(engine, other.case_id, ArbitrationStatus.buyer_won)
    return Week(shop_id, other_shop_id, cases)


def _claim(engine: sa.Engine, when: datetime, change: Callable[[UnitOfWork], Any]) -> None:
    with UnitOfWork(engine, when) as uow:
        change(uow)
        uow.commit()


# ----------------------------------------------------------------------------------------------- fixtures
@pytest.fixture
def week(database_url: str, tmp_path: Path) -> Iterator[tuple[Container, Week]]:
    container = bootstrap(Settings(data_dir=tmp_path, database_url=database_url), run_migrations=False)
    shop_id, _ = make_shop(container.engine)
    other_id, _ = make_shop(container.engine, "Other shop")
    yield container, seed_week(container, shop_id, other_id)
    container.engine.dispose()


def figures(container: Container, shop_id: str, period: tuple[datetime, datetime] = WEEK,
            breakdown: Breakdown = Breakdown.carrier) -> dashboard.Dashboard:
    with container.for_shop(shop_id, read_only=True).connect() as conn:
        return dashboard.figures(conn, shop_id, *period, breakdown)


# ----------------------------------------------------------------------------------------------- tests
def test_percentiles_are_nearest_rank() -> None:
    twenty = list(range(20, 0, -1))  # 1..20, unsorted
    assert dashboard.percentile(twenty, 50) == 10  # rank ⌈0.50 × 20⌉ = 10
    assert dashboard.percentile(twenty, 95) == 19  # rank ⌈0.95 × 20⌉ = 19
    assert dashboard.percentile(twenty, 100) == 20
    assert dashboard.percentile([7, 3, 5], 50) == 5  # rank ⌈1.5⌉ = 2
    assert dashboard.percentile([7, 3, 5], 95) == 7  # rank ⌈2.85⌉ = 3
    assert dashboard.percentile([42], 50) == dashboard.percentile([42], 95) == 42
    assert dashboard.percentile([], 50) is None
    assert Spread.of([600, 10800]) == Spread(2, 600, 10800)
    with pytest.raises(ValueError):
        dashboard.percentile([1], 0)


def test_intercept_outcomes_by_carrier_count_the_periods_requests_only(week: tuple[Container, Week]) -> None:
    container, w = week
    seen = figures(container, w.shop_id)
    assert seen.intercepts == [
        Outcomes("kuaidi100:zto", requested=3, succeeded=2, refused=1),  # a, g; b
        Outcomes("sf:sf", requested=3, succeeded=1, missed=1, pending=1),  # h; c; d
    ]
    assert [g.rate for g in seen.intercepts] == [2 / 3, 0.5]
    assert seen.intercepts_total == Outcomes("total", requested=6, succeeded=3, refused=1, missed=1, pending=1)
    assert seen.intercepts_total.rate == 0.6  # 3 of the 5 decided; d has no outcome yet


def test_by_stage_takes_the_parcels_status_at_the_request_from_its_scans(week: tuple[Container, Week]) -> None:
    container, w = week
    seen = figures(container, w.shop_id, breakdown=Breakdown.stage)
    assert seen.breakdown == Breakdown.stage
    assert seen.intercepts == [
        Outcomes("created", requested=1, pending=1),  # d: no scan before the request
        Outcomes("picked_up", requested=1, missed=1),  # c: its in-transit scan came after the request
        Outcomes("in_transit", requested=4, succeeded=3, refused=1),  # a, g, h; b
    ]
    assert [g.rate for g in seen.intercepts] == [None, 0.0, 0.75]
    assert seen.intercepts_total == figures(container, w.shop_id).intercepts_total


def test_times_to_the_carriers_answer_and_to_the_refund_in_seconds(week: tuple[Container, Week]) -> None:
    container, w = week
    seen = figures(container, w.shop_id)
    # answers: b 30, a 60, g 60, h 60, c 120 (d none yet): median rank 3, p95 rank 5
    assert seen.to_answer == Spread(5, 60, 120)
    # refunds paid: f 600 s and a 3 h after opening; only a had an intercept (requested as it opened)
    assert seen.opened_to_refund == Spread(2, 600, 10800)
    assert seen.intercept_to_refund == Spread(1, 10800, 10800)


def test_disputes_fees_recovered_value_and_claims_of_the_periods_cases(week: tuple[Container, Week]) -> None:
    container, w = week
    seen = figures(container, w.shop_id)
    assert (seen.cases, seen.disputed, seen.buyer_won, seen.merchant_won) == (7, 3, 1, 1)
    assert seen.dispute_rate == 3 / 7
    assert seen.fees == Tally(2, 450)  # a ¥3.00 + c ¥1.50; e's ¥9.99 was requested before the week
    assert seen.fees_other_minor == {"USD": 500}
    assert seen.returned_ok == Tally(1, VALUE)  # a; g came back damaged
    assert seen.claim_payouts == Tally(1, 2500)  # g
    assert seen.claims_open == Tally(1, 3000)  # h's loss claim: 3 × the ¥10.00 freight
    assert seen.recovered_fen == VALUE + 2500


def test_returns_under_way_are_counted_now_whatever_the_period(week: tuple[Container, Week]) -> None:
    container, w = week
    seen = figures(container, w.shop_id)
    assert (seen.returns_in_transit, seen.returns_stalled, seen.returns_awaiting_receipt) == (
        Tally(1, VALUE), Tally(1, VALUE), Tally())  # i; j — not the other shop's
    earlier = figures(container, w.shop_id, (WEEK[0] - timedelta(days=30), WEEK[0] - timedelta(days=20)))
    assert (earlier.returns_in_transit, earlier.returns_stalled) == (Tally(1, VALUE), Tally(1, VALUE))


def test_another_period_and_another_shop_see_only_their_own_rows(week: tuple[Container, Week]) -> None:
    container, w = week
    before = figures(container, w.shop_id, (WEEK[0] - timedelta(days=7), WEEK[0]))  # 25–31 Oct
    assert before.intercepts == [Outcomes("kuaidi100:zto", requested=1, succeeded=1)]  # e
    assert (before.cases, before.fees, before.to_answer) == (1, Tally(1, 999), Spread(1, 60, 60))
    other = figures(container, w.other_shop_id)
    assert other.intercepts == [Outcomes("kuaidi100:zto", requested=1, succeeded=1)]
    assert (other.cases, other.disputed, other.fees, other.returns_in_transit, other.returns_stalled) == (
        1, 1, Tally(1, 700), Tally(1, VALUE), Tally())
    assert other.claims_open == other.claim_payouts == other.returned_ok == Tally()


def test_an_empty_period_has_no_rates_and_no_times(week: tuple[Container, Week]) -> None:
    container, w = week
    empty = figures(container, w.shop_id, (WEEK[1] + timedelta(days=30), WEEK[1] + timedelta(days=37)))
    assert (empty.intercepts, empty.intercepts_total.rate, empty.cases, empty.dispute_rate) == ([], None, 0, None)
    assert empty.to_answer == empty.opened_to_refund == Spread(0, None, None)
    assert (empty.fees, empty.fees_other_minor, empty.recovered_fen) == (Tally(), {}, 0)
