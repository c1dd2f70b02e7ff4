"""Auto-intercept rules against a real database: when they are asked, what they do, what they keep."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lanjie.bootstrap import Container, bootstrap
from lanjie.domain.model import Item, Party
from lanjie.domain.states import CaseType, InterceptType, TrackingStatus
from lanjie.service import autointercept, commands, deadlines, shops
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.settings import Settings
from lanjie.store import tables as t

NOON = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
PARTY = Party("A", "13800001234", "Somewhere")
ALL_DAY = {"opens": "00:00", "closes": "00:00"}


@pytest.fixture
def shop(database_url: str, tmp_path: Path) -> Iterator[tuple[Container, str]]:
    container = bootstrap(Settings(data_dir=tmp_path, database_url=database_url), run_migrations=False)
    created, _ = shops.create_shop(container.engine, "Shop")
    with container.engine.begin() as conn:
        shops.upsert_carrier_account(conn, created.id, "kuaidi100", {"key": "k", "customer": "c", "secret": "s",
                                                                      "salt": "x" * 32})
    yield container, created.id
    container.engine.dispose()


def rules(container: Container, shop_id: str, *given: dict[str, Any], margin: int = 120) -> None:
    with container.engine.begin() as conn:
        autointercept.save_rules(conn, shop_id, [autointercept.rule_from_dict(r) for r in given], margin)


def open_case(container: Container, shop_id: str, n: int, *, at: datetime = NOON, price: int = 900,
              refund: int = 900, tracking: TrackingStatus | None = TrackingStatus.in_transit,
              deadline: datetime | None = None) -> str:
    with UnitOfWork(container.engine, at) as uow:
        shipment = commands.register_shipment(uow, shop_id, commands.NewShipment(
            carrier="kuaidi100", carrier_code="zto", waybill_no=f"ZT{n:06d}", order_id=f"O{n}",
            items=[Item("S", "n", 1, price)], value_fen=price, freight_fen=100, sender=PARTY, recipient=PARTY))
        if tracking is not None:
            shipment.apply_tracking(tracking, at - timedelta(hours=1), [
                {"at": (at - timedelta(hours=1)).isoformat(), "status": tracking, "code": "0", "description": "",
                 "location": ""}])
            uow.save(shipment)
        case = commands.open_case(uow, shop_id, commands.NewCase(
            f"O{n}", CaseType.refund_only_shipped, refund, [f"ZT{n:06d}"], deadline_at=deadline))
        uow.commit()
    return case.id


def jobs_of(container: Container, kind: str) -> list[tuple[str, datetime]]:
    with container.engine.connect() as conn:
        return [(r.key, r.run_at) for r in conn.execute(
            sa.select(t.jobs.c.key, t.jobs.c.run_at).where(t.jobs.c.kind == kind).order_by(t.jobs.c.id))]


def evaluate(container: Container, shop_id: str, case_id: str, at: datetime = NOON,
             fees: dict[str, int | None] | None = None) -> Any:
    with UnitOfWork(container.engine, at) as uow:
        case = commands.load_case(uow, shop_id, case_id)
        decision = autointercept.evaluate(uow, case, container.gateway, trigger="test", fees=fees)
        uow.commit()
    return decision


def state(container: Container, shop_id: str, case_id: str) -> tuple[Any, ...]:
    with UnitOfWork(container.engine, NOON, read_only=True) as uow:
        case = commands.load_case(uow, shop_id, case_id)
    with container.engine.connect() as conn:
        decisions = conn.execute(sa.select(t.decisions.c.verdict, t.decisions.c.reason, t.decisions.c.rule)
                                 .where(t.decisions.c.aftersale_id == case_id).order_by(t.decisions.c.id)).all()
    return case.status, [i.status for i in case.intercepts], [tuple(d) for d in decisions], case.fallback


def test_a_shop_without_rules_queues_no_rule_check_and_records_no_decision(shop: Any) -> None:
    container, shop_id = shop
    case_id = open_case(container, shop_id, 1)
    assert jobs_of(container, autointercept.EVALUATE_RULES) == []
    assert evaluate(container, shop_id, case_id) is None
    assert state(container, shop_id, case_id) == ("open", [], [], "needs_person")


def test_a_matching_rule_intercepts_and_keeps_its_decision_and_fallback(shop: Any) -> None:
    container, shop_id = shop
    rules(container, shop_id, {"name": "all", "service_hours": ALL_DAY, "fallback": "refund_on_refusal"})
    case_id = open_case(container, shop_id, 2)
    assert [key for key, _ in jobs_of(container, autointercept.EVALUATE_RULES)] == [f"rules:{case_id}:opened"]
    decision = evaluate(container, shop_id, case_id)
    assert (decision.verdict, decision.intercept_type) == ("intercept", InterceptType.return_to_sender)
    assert state(container, shop_id, case_id) == (
        "intercepting", ["requested"], [("intercept", "", "all")], "refund_on_refusal")
    assert evaluate(container, shop_id, case_id) is None  # decided: a second check does nothing


def test_outside_service_hours_the_check_comes_back_at_opening(shop: Any) -> None:
    container, shop_id = shop
    rules(container, shop_id, {"name": "day"})
    late = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    case_id = open_case(container, shop_id, 3, at=late)
    decision = evaluate(container, shop_id, case_id, at=late)
    opening = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    assert (decision.verdict, decision.wait_until) == ("wait", opening)
    assert jobs_of(container, autointercept.EVALUATE_RULES)[-1] == (f"rules:{case_id}:opening:20261128T0100", opening)
    assert state(container, shop_id, case_id) == ("open", [], [("wait", "service_hours", "day")], "needs_person")
    assert evaluate(container, shop_id, case_id, at=opening).verdict == "intercept"


def test_a_quoted_fee_over_the_ceiling_is_skipped_with_the_fee_it_saw(shop: Any) -> None:
    container, shop_id = shop
    rules(container, shop_id, {"name": "cheap", "service_hours": ALL_DAY, "fee_ceiling_fen": 500})
    case_id = open_case(container, shop_id, 4)
    with UnitOfWork(container.engine, NOON, read_only=True) as uow:
        shipment_id = commands.load_case(uow, shop_id, case_id).shipment_ids[0]
    assert evaluate(container, shop_id, case_id, fees={shipment_id: 800}).reason == "fee_ceiling"
    with container.engine.connect() as conn:
        evidence = conn.execute(sa.select(t.decisions.c.evidence)).scalar_one()
    assert evidence["seen"]["parcels"][0]["fee_fen"] == 800
    assert next(c for c in evidence["checks"] if c["condition"] == "fee_ceiling")["detail"] == \
        "fee 800 fen, ceiling 500 fen"


def test_a_partial_refund_and_a_shared_parcel_are_not_intercepted(shop: Any) -> None:
    container, shop_id = shop
    rules(container, shop_id, {"name": "all", "service_hours": ALL_DAY})
    partial = open_case(container, shop_id, 5, price=900, refund=300)
    assert evaluate(container, shop_id, partial).reason == "full_amount"
    rules(container, shop_id, {"name": "all", "service_hours": ALL_DAY,
                               "conditions": ["refund_only_shipped", "in_transit", "not_shared"]})
    assert evaluate(container, shop_id, partial).reason == "not_shared"  # goods of 900, requests of 300


def test_a_parcel_without_a_scan_is_skipped_and_looked_at_again_when_its_tracking_moves(shop: Any) -> None:
    from lanjie.carriers.base import TrackingEvent, TrackingSnapshot
    from lanjie.service.tracking_jobs import apply_tracking

    container, shop_id = shop
    rules(container, shop_id, {"name": "all", "service_hours": ALL_DAY})
    case_id = open_case(container, shop_id, 6, tracking=None)
    assert evaluate(container, shop_id, case_id).reason == "in_transit"
    with UnitOfWork(container.engine, NOON) as uow:
        apply_tracking(uow, shop_id, TrackingSnapshot(
            carrier_code="zto", waybill_no="ZT000006", status=TrackingStatus.picked_up,
            events=(TrackingEvent(NOON, TrackingStatus.picked_up, "1", "已揽收", "杭州"),)), trigger="inbox9")
        uow.commit()
    assert [key for key, _ in jobs_of(container, autointercept.EVALUATE_RULES)][-1] == \
        f"rules:{case_id}:tracking:inbox9"
    assert evaluate(container, shop_id, case_id).verdict == "intercept"


def test_a_dry_run_replays_past_cases_as_they_stood_and_writes_nothing(shop: Any) -> None:
    container, shop_id = shop
    early = open_case(container, shop_id, 7, at=NOON - timedelta(days=1))
    partial = open_case(container, shop_id, 8, refund=100)

    def counts() -> dict[str, int]:
        with container.engine.connect() as conn:
            return {table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                    for table in (t.aftersales, t.decisions, t.events, t.jobs, t.intercepts)}

    before = counts()
    with container.engine.connect() as conn:
        report = autointercept.dry_run(conn, shop_id, [autointercept.rule_from_dict({"name": "try",
                                                                                       "service_hours": ALL_DAY})],
                                       container.gateway)
    assert counts() == before
    assert [(c["case_id"], c["verdict"], c["reason"]) for c in report["cases"]] == [
        (partial, "skip", "full_amount"), (early, "intercept", "")]
    assert report["summary"] == {"cases": 2, "verdicts": {"intercept": 1, "wait": 0, "skip": 1},
                                 "reasons": {"full_amount": 1}, "agreed_with_what_happened": 1}


def test_the_deadline_watch_approves_an_accepted_intercept_and_alerts_otherwise(shop: Any) -> None:
    container, shop_id = shop
    deadline = NOON + timedelta(hours=48)
    accepted = open_case(container, shop_id, 9, deadline=deadline)
    idle = open_case(container, shop_id, 10, deadline=deadline)
    assert [run_at for _, run_at in jobs_of(container, deadlines.WATCH_DEADLINE)] == [
        deadline - timedelta(hours=2)] * 2
    with UnitOfWork(container.engine, NOON) as uow:
        commands.request_intercepts(uow, shop_id, accepted, type=InterceptType.return_to_sender)
        case = commands.load_case(uow, shop_id, accepted)
        case.intercept_attempt_started(case.intercepts[0].id, NOON)
        case.intercept_acknowledged(case.intercepts[0].id, task_id="T1", now=NOON)
        uow.save(case)
        uow.commit()
    outcomes = []
    for case_id in (accepted, idle):
        with UnitOfWork(container.engine, deadline - timedelta(hours=2)) as uow:
            outcomes.append(deadlines.act(uow, commands.load_case(uow, shop_id, case_id), deadline))
            uow.commit()
    assert outcomes == ["refund_approved", "alerted"]
    with UnitOfWork(container.engine, NOON, read_only=True) as uow:
        a, b = (commands.load_case(uow, shop_id, c) for c in (accepted, idle))
        assert (a.status, a.refunds[0].evidence["trigger"]) == ("refunding", "deadline")
        assert (b.status, b.attention) == ("needs_attention", "deadline")
        assert deadlines.act(uow, b, deadline + timedelta(hours=1)) == "moved"
