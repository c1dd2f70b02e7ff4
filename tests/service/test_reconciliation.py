"""Reconciliation per carrier and month: each figure dated by its own moment, in the shop's calendar month.

The helpers at the top build real state with the real services (a parcel registered, a case opened, an
intercept requested and made to succeed, its way back started); the receiving and CLI tests use them too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lanjie.bootstrap import Container, bootstrap
from lanjie.domain.errors import RuleViolation
from lanjie.domain.model import Item, Party
from lanjie.domain.returns import ReceivedItem
from lanjie.domain.states import CaseType, ClaimStatus, Inspection, InterceptType, SettlementPolicy, TrackingStatus
from lanjie.service import claims, commands, reconciliation, returns, shops
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.settings import Settings
from lanjie.store import tables as t

T0 = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)  # 12:00 on 2 November in Shanghai
PARTY = Party("Lin", "13800001234", "Hangzhou")
#: Goods worth 110.00 yuan; uninsured, freight 10.00: a claim is capped at 3 × 10.00 = 30.00 (Postal Law).
ITEMS = (Item("TEA", "Oolong tea", 2, 4500), Item("CUP", "Tea cup", 1, 2000))


@dataclass(frozen=True)
class Parcel:
    case_id: str
    waybill_no: str
    shipment_id: str
    intercept_id: str


def make_shop(engine: sa.Engine, name: str = "Tea house",
              policy: SettlementPolicy = SettlementPolicy.on_turned_back) -> tuple[str, str]:
    """A shop with kuaidi100 and sf accounts: (shop id, API key)."""
    shop, key = shops.create_shop(engine, name, policy)
    with engine.begin() as conn:
        shops.upsert_carrier_account(conn, shop.id, "kuaidi100", {"key": "k", "customer": "c", "secret": "s",
                                                                  "salt": "x" * 32})
        shops.upsert_carrier_account(conn, shop.id, "sf", {"partner_id": "p", "check_word": "w"})
    return shop.id, key


def intercepted(engine: sa.Engine, settings: Settings, shop_id: str, waybill_no: str, *, at: datetime = T0,
                carrier: str = "kuaidi100", courier: str = "zto", fee: dict[str, Any] | None = None,
                items: tuple[Item, ...] = ITEMS, start_leg: bool = True) -> Parcel:
    """A refund-only case whose parcel the carrier stopped (accepted at ``at`` + 1 min, quoting ``fee``, turned
    back at ``at`` + 2 h) and whose way back has started."""
    value = sum(i.qty * i.price_fen for i in items)
    with UnitOfWork(engine, at) as uow:
        shipment = commands.register_shipment(uow, shop_id, commands.NewShipment(
            carrier=carrier, carrier_code=courier, waybill_no=waybill_no, order_id=f"O-{waybill_no}",
            items=list(items), value_fen=value, freight_fen=1000, sender=PARTY, recipient=PARTY))
        shipment.apply_tracking(TrackingStatus.in_transit, at - timedelta(hours=3), [
            {"at": (at - timedelta(hours=3)).isoformat(), "status": "in_transit", "code": "0", "description": "",
             "location": ""}])
        uow.save(shipment)
        case = commands.open_case(uow, shop_id, commands.NewCase(
            f"O-{waybill_no}", CaseType.refund_only_shipped, value, [waybill_no]))
        [icpt] = commands.request_intercepts(uow, shop_id, case.id, type=InterceptType.return_to_sender)
        uow.commit()
    with UnitOfWork(engine, at + timedelta(minutes=1)) as uow:
        case = commands.load_case(uow, shop_id, case.id)
        case.intercept_attempt_started(icpt.id, uow.now)
        case.intercept_acknowledged(icpt.id, task_id=f"task-{waybill_no}", now=uow.now, fee=fee)
        uow.save(case)
        uow.commit()
    with UnitOfWork(engine, at + timedelta(hours=2)) as uow:
        case = commands.load_case(uow, shop_id, case.id)
        case.intercept_succeeded(icpt.id, now=uow.now, evidence={"tracking_status": "returning"})
        uow.save(case)
        if start_leg:
            returns.start_legs(uow, case, settings)
        uow.commit()
    return Parcel(case.id, waybill_no, shipment.id, icpt.id)


def received(engine: sa.Engine, settings: Settings, shop_id: str, parcel: Parcel, at: datetime,
             inspection: Inspection, items: list[ReceivedItem] | None = None) -> str | None:
    """The warehouse received the parcel at ``at``: the id of the claim it drafted, if any."""
    with UnitOfWork(engine, at) as uow:
        done = returns.receive(uow, shop_id, waybill_no=parcel.waybill_no, inspection=inspection, items=items,
                               settings=settings)
        uow.commit()
    return done.claim_id


def lost(engine: sa.Engine, settings: Settings, shop_id: str, parcel: Parcel, at: datetime) -> str:
    """The carrier reported the returning parcel lost at ``at``: the id of the loss claim drafted."""
    with UnitOfWork(engine, at) as uow:
        shipment = uow.shipment(shop_id, parcel.shipment_id)
        assert shipment is not None
        shipment.apply_tracking(TrackingStatus.lost, at, [*shipment.tracking_events, {
            "at": at.isoformat(), "status": "lost", "code": "", "description": "丢失", "location": ""}])
        uow.save(shipment)
        returns.after_scan(uow, shipment, settings)
        uow.commit()
    with engine.connect() as conn:
        return str(conn.execute(sa.select(t.claims.c.id).where(t.claims.c.shipment_id == parcel.shipment_id))
                   .scalar_one())


def at(engine: sa.Engine, when: datetime, step: Any) -> None:
    """Run one claim step (a function of the unit of work) at ``when``."""
    with UnitOfWork(engine, when) as uow:
        step(uow)
        uow.commit()


def day(month: int, day_: int, hour: int = 4) -> datetime:
    return datetime(2026, month, day_, hour, 0, tzinfo=UTC)


# ----------------------------------------------------------------------------------------------- fixtures
@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[tuple[Container, str]]:
    container = bootstrap(Settings(data_dir=tmp_path, database_url=database_url), run_migrations=False)
    shop_id, _ = make_shop(container.engine)
    yield container, shop_id
    container.engine.dispose()


def report(container: Container, shop_id: str, month: str | None, *, now: datetime,
           carrier: str | None = None) -> dict[str, Any]:
    with container.for_shop(shop_id, read_only=True).connect() as conn:
        return reconciliation.report(conn, shop_id, month=month, carrier=carrier, now=now)


def tally(count: int = 0, amount_fen: int = 0) -> dict[str, int]:
    return {"count": count, "amount_fen": amount_fen}


def ages(**given: dict[str, int]) -> dict[str, dict[str, int]]:
    return {name: given.get(name, tally()) for name, _ in reconciliation.BUCKETS}


def line(carrier: str, **given: Any) -> dict[str, Any]:
    return {"carrier": carrier, "filed": tally(), "approved": tally(), "paid": tally(), "rejected": tally(),
            "open_by_age": ages(), "intercept_fees": {"count": 0, "amount_fen": 0, "other_minor": {}}, **given}


@pytest.fixture
def history(world: tuple[Container, str]) -> tuple[Container, str, dict[str, str]]:
    """Three claims with their lives spread over October to December 2026 (times UTC; Shanghai is +8):

    - ``damage`` (kuaidi100): received damaged 2 Nov, filed 3 Nov, approved 25.00 10 Nov, paid 25.00 on
      1 Dec at 09:00 Shanghai (recorded 2 Dec);
    - ``short`` (kuaidi100): one cup missing 5 Nov, filed 6 Nov, rejected 20 Nov;
    - ``loss`` (sf): lost 30 Oct, filed 1 Nov 00:30 Shanghai (31 Oct 16:30 UTC), still in review.
    """
    container, shop_id = world
    engine, settings = container.engine, container.settings
    fee = {"amount_minor": 300, "currency": "CNY"}
    damaged = intercepted(engine, settings, shop_id, "ZT1001", at=day(10, 30), fee=fee)
    short = intercepted(engine, settings, shop_id, "ZT1002", at=day(11, 1), fee=fee)
    gone = intercepted(engine, settings, shop_id, "SF1003", at=day(10, 28), carrier="sf", courier="sf",
                       fee={"amount_minor": 2000, "currency": "CNY"})
    ids = {"damage": received(engine, settings, shop_id, damaged, day(11, 2), Inspection.damaged) or "",
           "short": received(engine, settings, shop_id, short, day(11, 5), Inspection.short,
                             [ReceivedItem("CUP", 1, 0)]) or "",
           "loss": lost(engine, settings, shop_id, gone, day(10, 30))}
    at(engine, day(11, 3), lambda u: claims.file(u, shop_id, ids["damage"], via="packet", online=False))
    at(engine, day(11, 10), lambda u: claims.carrier_said(u, shop_id, ids["damage"], ClaimStatus.approved_partial,
                                                          approved_fen=2500))
    at(engine, day(12, 2), lambda u: claims.record_payout(u, shop_id, ids["damage"], amount_fen=2500,
                                                          reference="BANK-77", paid_at=day(12, 1, hour=1)))
    at(engine, day(11, 6), lambda u: claims.file(u, shop_id, ids["short"], via="packet", online=False))
    at(engine, day(11, 20), lambda u: claims.carrier_said(u, shop_id, ids["short"], ClaimStatus.rejected,
                                                          message="no proof of packing"))
    at(engine, datetime(2026, 10, 31, 16, 30, tzinfo=UTC),
       lambda u: claims.file(u, shop_id, ids["loss"], via="packet", online=False))
    return container, shop_id, ids


# ----------------------------------------------------------------------------------------------- tests
def test_each_figure_counts_in_the_shops_calendar_month_it_happened(history: Any) -> None:
    container, shop_id, _ = history
    november = report(container, shop_id, "2026-11", now=day(12, 15))
    assert (november["month"], november["time_zone"], november["from"], november["to"], november["open_as_of"]) == (
        "2026-11", "Asia/Shanghai", "2026-10-31T16:00:00+00:00", "2026-11-30T16:00:00+00:00",
        "2026-11-30T16:00:00+00:00")
    # Amounts asked: damage 30.00 (3 × freight), short 20.00 (the cup), loss 30.00 (3 × freight).
    # Open at the end of November: the damage claim (approved, not yet paid; drafted 2 Nov 04:00 UTC: 28 days)
    # and the loss claim (drafted 30 Oct 04:00 UTC: 31 days).
    assert november["carriers"] == [
        line("kuaidi100", filed=tally(2, 5000), approved=tally(1, 2500), rejected=tally(1, 2000),
             open_by_age=ages(days_8_30=tally(1, 3000)),
             intercept_fees={"count": 1, "amount_fen": 300, "other_minor": {}}),  # ZT1002's, accepted 1 Nov
        line("sf", filed=tally(1, 3000), open_by_age=ages(days_31_90=tally(1, 3000))),
    ]
    assert november["total"] == line(
        "total", filed=tally(3, 8000), approved=tally(1, 2500), rejected=tally(1, 2000),
        open_by_age=ages(days_8_30=tally(1, 3000), days_31_90=tally(1, 3000)),
        intercept_fees={"count": 1, "amount_fen": 300, "other_minor": {}})

    december = report(container, shop_id, "2026-12", now=day(12, 15))
    assert december["open_as_of"] == day(12, 15).isoformat()
    assert december["carriers"] == [
        line("kuaidi100", paid=tally(1, 2500)),  # paid 1 Dec 09:00 Shanghai, typed in a day later
        line("sf", open_by_age=ages(days_31_90=tally(1, 3000))),  # 46 days since drafting
    ]


def test_october_has_the_fees_of_its_accepted_intercepts_and_the_claims_open_at_its_end(history: Any) -> None:
    container, shop_id, ids = history
    october = report(container, shop_id, "2026-10", now=day(12, 15))
    assert october["carriers"] == [
        line("kuaidi100", intercept_fees={"count": 1, "amount_fen": 300, "other_minor": {}}),  # ZT1001, 30 Oct
        line("sf", open_by_age=ages(days_0_7=tally(1, 3000)),
             intercept_fees={"count": 1, "amount_fen": 2000, "other_minor": {}}),
    ]
    assert [c["filed"] for c in october["carriers"]] == [tally(), tally()]  # the 00:30 Shanghai filing is November's


def test_the_default_month_is_the_current_one_in_the_shops_time_zone(history: Any) -> None:
    container, shop_id, _ = history
    just_after_midnight = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)  # 1 Nov 00:30 in Shanghai
    answer = report(container, shop_id, None, now=just_after_midnight)
    assert (answer["month"], answer["open_as_of"]) == ("2026-11", just_after_midnight.isoformat())
    assert answer["total"]["filed"] == tally(3, 8000)  # the whole month, the filings to come included
    assert answer["total"]["open_by_age"] == ages(days_0_7=tally(1, 3000))  # open now: only the loss claim


def test_carrier_narrows_the_report_and_another_shops_claims_never_appear(history: Any) -> None:
    container, shop_id, _ = history
    other_id, _ = make_shop(container.engine, "Other")
    parcel = intercepted(container.engine, container.settings, other_id, "ZT9001", at=day(11, 1),
                         fee={"amount_minor": 500, "currency": "CNY"})
    received(container.engine, container.settings, other_id, parcel, day(11, 2), Inspection.damaged)
    only_sf = report(container, shop_id, "2026-11", now=day(12, 15), carrier="sf")
    assert only_sf["carrier"] == "sf"
    assert [c["carrier"] for c in only_sf["carriers"]] == ["sf"]
    assert only_sf["total"] == {**only_sf["carriers"][0], "carrier": "total"}
    other = report(container, other_id, "2026-11", now=day(12, 15))
    assert other["carriers"] == [line("kuaidi100", open_by_age=ages(days_8_30=tally(1, 3000)),
                                      intercept_fees={"count": 1, "amount_fen": 500, "other_minor": {}})]


def test_a_fee_in_another_currency_is_kept_apart_and_an_intercept_without_a_fee_counts_nothing(world: Any) -> None:
    container, shop_id = world
    engine, settings = container.engine, container.settings
    intercepted(engine, settings, shop_id, "SF2001", at=day(11, 3), carrier="sf", courier="sf",
                fee={"amount_minor": 1250, "currency": "USD"})
    intercepted(engine, settings, shop_id, "ZT2002", at=day(11, 3))  # the carrier quoted no fee
    assert report(container, shop_id, "2026-11", now=day(11, 20))["carriers"] == [
        line("sf", intercept_fees={"count": 1, "amount_fen": 0, "other_minor": {"USD": 1250}})]


def test_the_csv_has_a_line_per_carrier_then_the_total_in_utf8_with_a_bom(history: Any) -> None:
    container, shop_id, _ = history
    data = reconciliation.as_csv(report(container, shop_id, "2026-11", now=day(12, 15)))
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").split("\r\n") == [
        "month,carrier,filed_count,filed_fen,approved_count,approved_fen,paid_count,paid_fen,rejected_count,"
        "rejected_fen,open_0_7_count,open_0_7_fen,open_8_30_count,open_8_30_fen,open_31_90_count,open_31_90_fen,"
        "open_over_90_count,open_over_90_fen,intercept_fee_count,intercept_fees_fen,intercept_fees_other",
        "2026-11,kuaidi100,2,5000,1,2500,0,0,1,2000,0,0,1,3000,0,0,0,0,1,300,",
        "2026-11,sf,1,3000,0,0,0,0,0,0,0,0,0,0,1,3000,0,0,0,0,",
        "2026-11,total,3,8000,1,2500,0,0,1,2000,0,0,1,3000,1,3000,0,0,1,300,",
        "",
    ]


def test_an_empty_month_has_no_carrier_lines_and_a_zero_total(world: Any) -> None:
    container, shop_id = world
    answer = report(container, shop_id, "2026-01", now=day(11, 20))
    assert (answer["carriers"], answer["total"]) == ([], line("total"))
    assert reconciliation.as_csv(answer).decode("utf-8-sig").split("\r\n")[1:] == [
        "2026-01,total,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,", ""]


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-11", "2026-11-01", ""])
def test_a_malformed_month_is_refused_naming_the_field(month: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        reconciliation.month_of(month, "Asia/Shanghai", T0)
    assert refused.value.rule == "month"


def test_december_ends_at_the_first_of_january_in_the_shops_zone() -> None:
    window = reconciliation.month_of("2026-12", "Asia/Shanghai", T0)
    assert (window.starts_at, window.ends_at) == (datetime(2026, 11, 30, 16, tzinfo=UTC),
                                                  datetime(2026, 12, 31, 16, tzinfo=UTC))
