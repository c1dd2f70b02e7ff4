"""Every edge of every transition table is allowed, every other pair is refused, terminal states are final.

The tables: case, intercept and refund (the intercept-to-refund core), return leg and claim (the way back).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Any

import pytest

from lanjie.domain.claims import Claim
from lanjie.domain.errors import DomainError, IllegalTransition
from lanjie.domain.events import Event
from lanjie.domain.model import Intercept, Refund
from lanjie.domain.returns import ReturnLeg
from lanjie.domain.states import (
    ACTIVE_INTERCEPT_STATUSES,
    CASE_TRANSITIONS,
    CLAIM_TRANSITIONS,
    INTERCEPT_TRANSITIONS,
    LIVE_REFUND_STATUSES,
    REFUND_TRANSITIONS,
    RETURN_TRANSITIONS,
    CaseStatus,
    ClaimStatus,
    ClaimType,
    InterceptStatus,
    InterceptType,
    RefundStatus,
    ReturnStatus,
    advance,
    is_terminal,
)

from .factories import CASE_ID, REFUND_FEN, SHOP_ID, T0, make_shipment, moved, open_case

TABLES: list[tuple[str, Mapping[Any, frozenset[Any]], type[StrEnum]]] = [
    ("aftersale", CASE_TRANSITIONS, CaseStatus),
    ("intercept", INTERCEPT_TRANSITIONS, InterceptStatus),
    ("refund", REFUND_TRANSITIONS, RefundStatus),
    ("return", RETURN_TRANSITIONS, ReturnStatus),
    ("claim", CLAIM_TRANSITIONS, ClaimStatus),
]


def _allowed(only: str | None = None) -> Iterator[Any]:
    for entity, table, _ in TABLES:
        if only in (None, entity):
            for current, targets in table.items():
                for target in sorted(targets):
                    yield pytest.param(entity, table, current, target, id=f"{entity}:{current}->{target}")


def _refused(only: str | None = None) -> Iterator[Any]:
    for entity, table, statuses in TABLES:
        if only in (None, entity):
            for current in statuses:
                for target in statuses:
                    if target not in table[current]:
                        yield pytest.param(entity, table, current, target, id=f"{entity}:{current}-x->{target}")


def _intercept(status: InterceptStatus) -> Intercept:
    return Intercept(id="icpt_1", shop_id=SHOP_ID, aftersale_id=CASE_ID, shipment_id="sh_1",
                     type=InterceptType.return_to_sender, created_at=T0, status=status)


def _refund(status: RefundStatus) -> Refund:
    return Refund(id=f"{CASE_ID}-r1", shop_id=SHOP_ID, aftersale_id=CASE_ID, refund_no="LJ7F3KR1",
                  amount_fen=REFUND_FEN, created_at=T0, status=status)


def _return_leg(status: ReturnStatus) -> ReturnLeg:
    return ReturnLeg(id="rt_1", shop_id=SHOP_ID, aftersale_id=CASE_ID, shipment_id="sh_1",
                     waybill_no="ZT0000000001", started_at=T0, status=status)


def _claim(status: ClaimStatus) -> Claim:
    return Claim(id="cl_1", shop_id=SHOP_ID, aftersale_id=CASE_ID, return_id="rt_1", shipment_id="sh_1",
                 carrier="kuaidi100:zto", waybill_no="ZT0000000001", type=ClaimType.loss, amount_fen=REFUND_FEN,
                 basis={}, filing_deadline_at=T0, created_at=T0, status=status)


#: How a return leg or a claim in a given status is built (their moves go through ``_move``, like the case's).
WAY_BACK: dict[str, Any] = {"return": _return_leg, "claim": _claim}


# ----------------------------------------------------------------- the tables themselves
@pytest.mark.parametrize(("entity", "table", "statuses"), TABLES, ids=[t[0] for t in TABLES])
def test_table_has_one_row_per_status_and_targets_only_its_own_statuses(
        entity: str, table: Mapping[Any, frozenset[Any]], statuses: type[StrEnum]) -> None:
    assert set(table) == set(statuses)
    for current, targets in table.items():
        assert targets <= set(statuses), current
        assert current not in targets, f"{entity} row {current} loops onto itself"


def test_terminal_states_are_exactly_the_closed_ends_of_each_machine() -> None:
    assert {s for s in CaseStatus if is_terminal(CASE_TRANSITIONS, s)} == {
        CaseStatus.completed, CaseStatus.rejected, CaseStatus.cancelled}
    assert {s for s in InterceptStatus if is_terminal(INTERCEPT_TRANSITIONS, s)} == {
        InterceptStatus.succeeded, InterceptStatus.failed, InterceptStatus.refused, InterceptStatus.cancelled}
    assert {s for s in RefundStatus if is_terminal(REFUND_TRANSITIONS, s)} == {
        RefundStatus.succeeded, RefundStatus.failed}
    assert {s for s in ReturnStatus if is_terminal(RETURN_TRANSITIONS, s)} == {ReturnStatus.received}
    assert {s for s in ClaimStatus if is_terminal(CLAIM_TRANSITIONS, s)} == {ClaimStatus.closed}


def test_case_table_is_pinned_edge_by_edge() -> None:
    cs = CaseStatus
    assert dict(CASE_TRANSITIONS) == {
        cs.open: {cs.intercepting, cs.refunding, cs.needs_attention, cs.awaiting_refusal, cs.rejected, cs.cancelled},
        cs.intercepting: {cs.intercepted, cs.needs_attention, cs.awaiting_refusal, cs.refunding, cs.cancelled},
        cs.intercepted: {cs.refunding, cs.needs_attention, cs.awaiting_refusal, cs.cancelled},
        cs.needs_attention: {cs.intercepting, cs.refunding, cs.awaiting_refusal, cs.rejected, cs.cancelled},
        cs.awaiting_refusal: {cs.intercepting, cs.refunding, cs.needs_attention, cs.rejected, cs.cancelled},
        cs.refunding: {cs.completed, cs.needs_attention},
        cs.completed: set(), cs.rejected: set(), cs.cancelled: set(),
    }


def test_intercept_table_is_pinned_edge_by_edge() -> None:
    i = InterceptStatus
    assert dict(INTERCEPT_TRANSITIONS) == {
        i.requested: {i.submitted, i.refused, i.unknown},
        i.unknown: {i.submitted, i.refused, i.requested, i.succeeded, i.failed},
        i.submitted: {i.succeeded, i.failed, i.cancel_requested},
        i.cancel_requested: {i.cancelled, i.succeeded, i.failed},
        i.succeeded: set(), i.failed: set(), i.refused: set(), i.cancelled: set(),
    }


def test_refund_table_is_pinned_edge_by_edge() -> None:
    r = RefundStatus
    assert dict(REFUND_TRANSITIONS) == {
        r.pending: {r.approved, r.failed}, r.approved: {r.succeeded, r.failed},
        r.succeeded: set(), r.failed: set(),
    }


def test_return_table_is_pinned_edge_by_edge() -> None:
    r = ReturnStatus
    assert dict(RETURN_TRANSITIONS) == {
        r.returning: {r.stalled, r.returned, r.received, r.lost, r.damaged},
        r.stalled: {r.returning, r.returned, r.received, r.lost, r.damaged},
        r.returned: {r.received, r.lost, r.damaged},
        r.damaged: {r.returned, r.received},
        r.lost: {r.returning, r.returned, r.received},
        r.received: set(),
    }


def test_claim_table_is_pinned_edge_by_edge() -> None:
    c = ClaimStatus
    decided = {c.approved, c.approved_partial, c.rejected}
    assert dict(CLAIM_TRANSITIONS) == {
        c.draft: {c.filed, c.closed},
        c.filed: {c.in_review, c.waiting_on_documents, *decided, c.closed},
        c.in_review: {c.waiting_on_documents, *decided, c.closed},
        c.waiting_on_documents: {c.in_review, *decided, c.closed},
        c.approved: {c.paid, c.closed}, c.approved_partial: {c.paid, c.closed},
        c.rejected: {c.closed}, c.paid: {c.closed}, c.closed: set(),
    }


def test_live_refunds_are_pending_approved_or_succeeded() -> None:
    assert {RefundStatus.pending, RefundStatus.approved, RefundStatus.succeeded} == LIVE_REFUND_STATUSES


def test_active_intercepts_are_those_that_may_still_take_effect_or_already_did() -> None:
    assert {InterceptStatus.requested, InterceptStatus.submitted, InterceptStatus.unknown,
            InterceptStatus.cancel_requested, InterceptStatus.succeeded} == ACTIVE_INTERCEPT_STATUSES


# ----------------------------------------------------------------- advance
@pytest.mark.parametrize(("entity", "table", "current", "target"), list(_allowed()))
def test_advance_returns_the_target_of_every_allowed_transition(
        entity: str, table: Mapping[Any, frozenset[Any]], current: StrEnum, target: StrEnum) -> None:
    assert advance(entity, table, current, target) is target


@pytest.mark.parametrize(("entity", "table", "current", "target"), list(_refused()))
def test_advance_refuses_every_pair_outside_the_table(
        entity: str, table: Mapping[Any, frozenset[Any]], current: StrEnum, target: StrEnum) -> None:
    with pytest.raises(IllegalTransition) as caught:
        advance(entity, table, current, target)
    err = caught.value
    assert isinstance(err, DomainError)
    assert (err.entity, err.current, err.target, err.code) == (entity, current, target, "illegal_transition")
    assert str(err) == f"{entity} cannot go from '{current}' to '{target}'"


@pytest.mark.parametrize(("entity", "table", "statuses"), TABLES, ids=[t[0] for t in TABLES])
def test_no_transition_leaves_a_terminal_state(
        entity: str, table: Mapping[Any, frozenset[Any]], statuses: type[StrEnum]) -> None:
    for terminal in (s for s in statuses if is_terminal(table, s)):
        for target in statuses:
            with pytest.raises(IllegalTransition):
                advance(entity, table, terminal, target)


# ----------------------------------------------------------------- Intercept.move
@pytest.mark.parametrize(("entity", "table", "current", "target"), list(_allowed("intercept")))
def test_intercept_moves_along_every_edge_of_its_table(
        entity: str, table: Mapping[Any, frozenset[Any]], current: InterceptStatus, target: InterceptStatus) -> None:
    icpt = _intercept(current)
    icpt.move(target)
    assert icpt.status is target


@pytest.mark.parametrize(("entity", "table", "current", "target"), list(_refused("intercept")))
def test_intercept_refuses_every_move_outside_its_table_and_keeps_its_status(
        entity: str, table: Mapping[Any, frozenset[Any]], current: InterceptStatus, target: InterceptStatus) -> None:
    icpt = _intercept(current)
    with pytest.raises(IllegalTransition) as caught:
        icpt.move(target)
    assert (caught.value.entity, caught.value.current, caught.value.target) == ("intercept", current, target)
    assert icpt == _intercept(current)


# ----------------------------------------------------------------- Refund.move
@pytest.mark.parametrize(("entity", "table", "current", "target"), list(_allowed("refund")))
def test_refund_moves_along_every_edge_of_its_table(
        entity: str, table: Mapping[Any, frozenset[Any]], current: RefundStatus, target: RefundStatus) -> None:
    refund = _refund(current)
    refund.move(target)
    assert refund.status is target
    assert refund.live is (target in LIVE_REFUND_STATUSES)


@pytest.mark.parametrize(("entity", "table", "current", "target"), list(_refused("refund")))
def test_refund_refuses_every_move_outside_its_table_and_keeps_its_status(
        entity: str, table: Mapping[Any, frozenset[Any]], current: RefundStatus, target: RefundStatus) -> None:
    refund = _refund(current)
    with pytest.raises(IllegalTransition) as caught:
        refund.move(target)
    assert (caught.value.entity, caught.value.current, caught.value.target) == ("refund", current, target)
    assert refund == _refund(current)


# ----------------------------------------------------------------- AfterSale status changes
# AfterSale has no public ``move``: its commands change status through ``_move``, which is what these pin.
@pytest.mark.parametrize(("entity", "table", "current", "target"), list(_allowed("aftersale")))
def test_case_moves_along_every_edge_and_records_one_status_change(
        entity: str, table: Mapping[Any, frozenset[Any]], current: CaseStatus, target: CaseStatus) -> None:
    case = open_case(make_shipment(), clear_events=True)
    case.status = current
    case._move(target)
    assert case.status is target
    assert case.closed is is_terminal(CASE_TRANSITIONS, target)
    assert case.events == [moved(case, current, target)]


@pytest.mark.parametrize(("entity", "table", "current", "target"), list(_refused("aftersale")))
def test_case_refuses_every_change_outside_its_table_without_recording(
        entity: str, table: Mapping[Any, frozenset[Any]], current: CaseStatus, target: CaseStatus) -> None:
    case = open_case(make_shipment(), clear_events=True)
    case.status = current
    if target is current:
        # Staying put is not a transition: the case ignores it (this is what makes cancel() idempotent).
        case._move(target)
    else:
        with pytest.raises(IllegalTransition) as caught:
            case._move(target)
        assert (caught.value.entity, caught.value.current, caught.value.target) == ("aftersale", current, target)
    assert case.status is current
    assert case.events == []


@pytest.mark.parametrize("status", list(InterceptStatus))
def test_intercept_is_active_while_it_may_still_take_effect_and_accepted_once_the_carrier_took_it(
        status: InterceptStatus) -> None:
    icpt = _intercept(status)
    assert icpt.active is (status in ACTIVE_INTERCEPT_STATUSES)
    assert icpt.accepted is (status in {InterceptStatus.submitted, InterceptStatus.cancel_requested,
                                        InterceptStatus.succeeded})


# ----------------------------------------------------------------- ReturnLeg and Claim status changes
# Like the case, a return leg and a claim change status only through ``_move``, which records the move.
def _way_back_edges(allowed: bool) -> list[Any]:
    return [p for entity in WAY_BACK for p in (_allowed(entity) if allowed else _refused(entity))]


@pytest.mark.parametrize(("entity", "table", "current", "target"), _way_back_edges(allowed=True))
def test_return_and_claim_move_along_every_edge_and_record_one_event(
        entity: str, table: Mapping[Any, frozenset[Any]], current: StrEnum, target: StrEnum) -> None:
    item = WAY_BACK[entity](current)
    item._move(target)
    assert item.status is target
    assert item.events == [Event(f"{entity}.{target}", entity, item.id, {
        "aftersale_id": CASE_ID, "waybill_no": "ZT0000000001", "from": current})]


@pytest.mark.parametrize(("entity", "table", "current", "target"), _way_back_edges(allowed=False))
def test_return_and_claim_refuse_every_change_outside_their_table_without_recording(
        entity: str, table: Mapping[Any, frozenset[Any]], current: StrEnum, target: StrEnum) -> None:
    item = WAY_BACK[entity](current)
    if target is current:
        item._move(target)  # staying put is not a transition: nothing happens
    else:
        with pytest.raises(IllegalTransition) as caught:
            item._move(target)
        assert (caught.value.entity, caught.value.current, caught.value.target) == (entity, current, target)
    assert item == WAY_BACK[entity](current)
    assert item.events == []
