"""Behaviour of the case: opening, intercepts, settlement by policy, the unknown path, refunds, closing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from lanjie.domain.errors import IllegalTransition, NotFound, RuleViolation
from lanjie.domain.events import Event
from lanjie.domain.model import AfterSale, Intercept, Refund, Shipment
from lanjie.domain.states import (
    CaseStatus,
    CaseType,
    InterceptReason,
    InterceptStatus,
    InterceptType,
    RefundStatus,
    Resolution,
    SettlementPolicy,
    TrackingStatus,
)

from .factories import (
    CASE_ID,
    NEW_ADDRESS,
    REFUND_FEN,
    SHOP_ID,
    at,
    created,
    event,
    make_shipment,
    moved,
    open_case,
)

RTS = InterceptType.return_to_sender
OTHER_CASE_TYPES = [t for t in CaseType if t != CaseType.refund_only_shipped]


def requested(case: AfterSale, icpt_id: str, shipment: Shipment, type_: InterceptType = RTS) -> Event:
    return event(case, "intercept.requested", "intercept", icpt_id, waybill_no=shipment.waybill_no, type=type_)


def submitted(case: AfterSale, icpt_id: str, task_id: str | None, duplicate: bool = False) -> Event:
    return event(case, "intercept.submitted", "intercept", icpt_id, task_id=task_id, duplicate=duplicate)


def succeeded(case: AfterSale, icpt_id: str, evidence: dict[str, Any]) -> Event:
    return event(case, "intercept.succeeded", "intercept", icpt_id, evidence=evidence)


def pending(case: AfterSale, refund: Refund) -> Event:
    return event(case, "refund.pending", "refund", refund.id, refund_no=refund.refund_no,
                 amount_fen=refund.amount_fen, evidence=refund.evidence)


def expected_refund(n: int, created_at: datetime, evidence: dict[str, Any],
                    status: RefundStatus = RefundStatus.pending) -> Refund:
    return Refund(id=f"{CASE_ID}-r{n}", shop_id=SHOP_ID, aftersale_id=CASE_ID, refund_no=f"LJ7F3KR{n}",
                  amount_fen=REFUND_FEN, created_at=created_at, status=status, evidence=evidence)


def intercepting_case(*shipments: Shipment, policy: SettlementPolicy = SettlementPolicy.on_turned_back,
                      ) -> AfterSale:
    """A case over ``shipments`` with one requested intercept ``icpt_<n>`` per parcel, events cleared."""
    case = open_case(*shipments, policy=policy)
    for n, shipment in enumerate(shipments, start=1):
        case.request_intercept(intercept_id=f"icpt_{n}", shipment=shipment, type=RTS, now=at(n))
    case.events.clear()
    return case


def refunding_case() -> tuple[AfterSale, Refund]:
    """A one-parcel case whose intercept turned back, so refund r1 is pending; events cleared."""
    case = intercepting_case(make_shipment())
    case.intercept_acknowledged("icpt_1", task_id="T1", now=at(10))
    case.intercept_succeeded("icpt_1", now=at(20), evidence={})
    case.events.clear()
    return case, case.refunds[0]


def _state(case: AfterSale) -> tuple[Any, ...]:
    return (case.status, case.resolution, case.received_at, [vars(i).copy() for i in case.intercepts],
            [vars(r).copy() for r in case.refunds], list(case.events))


# ----------------------------------------------------------------- opening
def test_opening_a_case_records_it_as_open_with_nothing_done() -> None:
    case = open_case(make_shipment(1), make_shipment(2))
    assert (case.status, case.resolution, case.intercepts, case.refunds) == (CaseStatus.open, None, [], [])
    assert case.shipment_ids == ["sh_1", "sh_2"]
    assert case.events == [Event("aftersale.created", "aftersale", CASE_ID, {
        "aftersale_id": CASE_ID, "type": CaseType.refund_only_shipped, "refund_fen": REFUND_FEN,
        "order_id": "ord_1", "status": CaseStatus.open})]


@pytest.mark.parametrize("refund_fen", [0, -1, -12_900])
def test_opening_a_case_without_a_positive_refund_is_refused(refund_fen: int) -> None:
    with pytest.raises(RuleViolation) as caught:
        open_case(make_shipment(), refund_fen=refund_fen)
    assert (caught.value.rule, caught.value.detail, caught.value.code) == (
        "refund_fen", "refund_fen must be a positive amount of fen", "rule_violation")


def test_opening_a_refund_only_shipped_case_without_parcels_is_refused() -> None:
    with pytest.raises(RuleViolation) as caught:
        open_case()
    assert (caught.value.rule, caught.value.detail) == (
        "waybill_nos", "a refund-only-after-shipment case needs at least one parcel")


@pytest.mark.parametrize("case_type", OTHER_CASE_TYPES)
def test_cases_that_are_not_intercepted_may_open_without_parcels(case_type: CaseType) -> None:
    case = open_case(case_type=case_type)
    assert (case.status, case.shipment_ids) == (CaseStatus.open, [])
    assert case.events == [created(case)]


# ----------------------------------------------------------------- requesting an intercept
def test_requesting_an_intercept_records_it_and_moves_the_case_to_intercepting() -> None:
    parcel = make_shipment()
    case = open_case(parcel, clear_events=True)
    icpt = case.request_intercept(intercept_id="icpt_1", shipment=parcel, type=RTS, now=at(1))
    assert icpt == Intercept(id="icpt_1", shop_id=SHOP_ID, aftersale_id=CASE_ID, shipment_id="sh_1", type=RTS,
                             created_at=at(1), address=None, status=InterceptStatus.requested, reason=None,
                             message="", task_id=None, attempts=0)
    assert case.intercepts == [icpt]
    assert case.status is CaseStatus.intercepting
    assert case.events == [moved(case, CaseStatus.open, CaseStatus.intercepting), requested(case, "icpt_1", parcel)]


def test_intercepting_a_second_parcel_records_no_second_status_change() -> None:
    a, b = make_shipment(1), make_shipment(2)
    case = open_case(a, b, clear_events=True)
    case.request_intercept(intercept_id="icpt_1", shipment=a, type=RTS, now=at(1))
    case.request_intercept(intercept_id="icpt_2", shipment=b, type=InterceptType.return_to_outlet, now=at(2))
    assert case.status is CaseStatus.intercepting
    assert case.events == [moved(case, CaseStatus.open, CaseStatus.intercepting), requested(case, "icpt_1", a),
                           requested(case, "icpt_2", b, InterceptType.return_to_outlet)]


@pytest.mark.parametrize("case_type", OTHER_CASE_TYPES)
def test_only_refund_only_shipped_cases_are_intercepted(case_type: CaseType) -> None:
    parcel = make_shipment()
    case = open_case(parcel, case_type=case_type)
    before = _state(case)
    with pytest.raises(RuleViolation) as caught:
        case.request_intercept(intercept_id="icpt_1", shipment=parcel, type=RTS, now=at(1))
    assert (caught.value.rule, caught.value.detail) == (
        "case_type", f"only refund_only_shipped cases are intercepted, not {case_type.value}")
    assert _state(case) == before


def test_parcel_outside_the_case_cannot_be_intercepted() -> None:
    case = open_case(make_shipment(1))
    before = _state(case)
    with pytest.raises(RuleViolation) as caught:
        case.request_intercept(intercept_id="icpt_1", shipment=make_shipment(2), type=RTS, now=at(1))
    assert (caught.value.rule, caught.value.detail) == ("waybill_no", "parcel ZT0000000002 is not part of this case")
    assert _state(case) == before


@pytest.mark.parametrize(("tracking", "rule"), [
    (TrackingStatus.delivered, "already_delivered"),
    (TrackingStatus.out_for_delivery, "out_for_delivery"),
    (TrackingStatus.created, "not_picked_up"),
    (TrackingStatus.returning, "already_intercepted"),
    (TrackingStatus.returned, "already_intercepted"),
    (TrackingStatus.lost, "not_supported"),
    (TrackingStatus.damaged, "not_supported"),
    (TrackingStatus.expired, "not_supported"),
])
def test_parcel_the_carrier_can_no_longer_stop_is_refused_with_the_reason(tracking: TrackingStatus, rule: str) -> None:
    parcel = make_shipment(status=tracking)
    case = open_case(parcel)
    before = _state(case)
    with pytest.raises(RuleViolation) as caught:
        case.request_intercept(intercept_id="icpt_1", shipment=parcel, type=RTS, now=at(1))
    assert (caught.value.rule, caught.value.detail) == (
        rule, f"parcel ZT0000000001 is {tracking.value}: cannot be intercepted ({rule})")
    assert _state(case) == before


@pytest.mark.parametrize("tracking", [TrackingStatus.created, TrackingStatus.delivered])
def test_parcel_the_carrier_has_not_reported_on_is_left_to_the_carrier(tracking: TrackingStatus) -> None:
    parcel = make_shipment(status=tracking, tracking_at=None)
    case = open_case(parcel)
    icpt = case.request_intercept(intercept_id="icpt_1", shipment=parcel, type=RTS, now=at(1))
    assert (icpt.status, case.status) == (InterceptStatus.requested, CaseStatus.intercepting)


def _first_intercept_in(case: AfterSale, status: InterceptStatus) -> None:
    icpt = case.intercepts[0]
    if status is InterceptStatus.submitted:
        case.intercept_acknowledged(icpt.id, task_id="T1", now=at(5))
    elif status is InterceptStatus.unknown:
        case.intercept_unknown(icpt.id, at(5), "timed out")
    elif status is InterceptStatus.cancel_requested:
        case.intercept_acknowledged(icpt.id, task_id="T1", now=at(5))
        icpt.move(InterceptStatus.cancel_requested)
    elif status is InterceptStatus.succeeded:
        case.intercept_acknowledged(icpt.id, task_id="T1", now=at(5))
        case.intercept_succeeded(icpt.id, now=at(6), evidence={})
    assert icpt.status is status


@pytest.mark.parametrize("first", [InterceptStatus.requested, InterceptStatus.submitted, InterceptStatus.unknown,
                                   InterceptStatus.cancel_requested])
def test_second_intercept_on_same_waybill_is_refused(first: InterceptStatus) -> None:
    a, b = make_shipment(1), make_shipment(2)  # two parcels: a turned-back first one does not settle the case
    case = intercepting_case(a, b)
    _first_intercept_in(case, first)
    before = _state(case)
    with pytest.raises(RuleViolation) as caught:
        case.request_intercept(intercept_id="icpt_9", shipment=a, type=RTS, now=at(9))
    assert (caught.value.rule, caught.value.detail) == (
        "already_intercepted", "parcel ZT0000000001 already has an intercept")
    assert _state(case) == before


def test_parcel_that_already_turned_back_cannot_be_intercepted_again() -> None:
    a, b = make_shipment(1), make_shipment(2)
    case = intercepting_case(a, b)
    _first_intercept_in(case, InterceptStatus.succeeded)
    assert case.status is CaseStatus.intercepting
    with pytest.raises(RuleViolation) as caught:
        case.request_intercept(intercept_id="icpt_9", shipment=a, type=RTS, now=at(9))
    assert caught.value.rule == "already_intercepted"


def test_parcel_may_be_intercepted_again_after_a_refusal() -> None:
    parcel = make_shipment()
    case = intercepting_case(parcel)
    case.intercept_refused("icpt_1", reason=InterceptReason.rate_limited, message="slow down", now=at(3))
    case.events.clear()
    again = case.request_intercept(intercept_id="icpt_2", shipment=parcel, type=RTS, now=at(4))
    assert [i.status for i in case.intercepts] == [InterceptStatus.refused, InterceptStatus.requested]
    assert case.active_intercept_for("sh_1") is again
    assert case.status is CaseStatus.intercepting
    assert case.events == [moved(case, CaseStatus.needs_attention, CaseStatus.intercepting),
                           requested(case, "icpt_2", parcel)]


def test_redirect_without_address_is_refused() -> None:
    parcel = make_shipment()
    case = open_case(parcel)
    before = _state(case)
    with pytest.raises(RuleViolation) as caught:
        case.request_intercept(intercept_id="icpt_1", shipment=parcel, type=InterceptType.redirect, now=at(1))
    assert (caught.value.rule, caught.value.detail) == ("address", "a redirect needs the new address")
    assert _state(case) == before


def test_redirect_keeps_the_new_address() -> None:
    parcel = make_shipment()
    case = open_case(parcel)
    icpt = case.request_intercept(intercept_id="icpt_1", shipment=parcel, type=InterceptType.redirect, now=at(1),
                                  address=NEW_ADDRESS)
    assert (icpt.type, icpt.address, icpt.status) == (InterceptType.redirect, NEW_ADDRESS, InterceptStatus.requested)


@pytest.mark.parametrize("closing", ["cancel", "reject"])
def test_closed_case_cannot_be_intercepted(closing: str) -> None:
    parcel = make_shipment()
    case = open_case(parcel)
    getattr(case, closing)(at(1))
    before = _state(case)
    with pytest.raises(IllegalTransition) as caught:
        case.request_intercept(intercept_id="icpt_1", shipment=parcel, type=RTS, now=at(2))
    assert (caught.value.entity, caught.value.current, caught.value.target) == (
        "aftersale", case.status, CaseStatus.intercepting)
    assert _state(case) == before


def test_completed_or_refunding_case_cannot_be_intercepted() -> None:
    a, b = make_shipment(1), make_shipment(2)
    case = open_case(a, b)
    refund = case.approve_refund(at(1), resolution=Resolution.refund_without_intercept, evidence={})
    for expected in (CaseStatus.refunding, CaseStatus.completed):
        if expected is CaseStatus.completed:
            case.refund_approved(refund.id)
            case.refund_succeeded(refund.id)
        before = _state(case)
        with pytest.raises(IllegalTransition) as caught:
            case.request_intercept(intercept_id="icpt_1", shipment=a, type=RTS, now=at(2))
        assert (caught.value.current, caught.value.target) == (expected, CaseStatus.intercepting)
        assert _state(case) == before


# ----------------------------------------------------------------- settlement policies (two parcels)
def test_on_accept_refunds_once_every_parcel_is_accepted() -> None:
    a, b = make_shipment(1), make_shipment(2)
    case = intercepting_case(a, b, policy=SettlementPolicy.on_accept)
    case.intercept_acknowledged("icpt_1", task_id="T1", now=at(3))
    assert (case.status, case.refunds, case.resolution) == (CaseStatus.intercepting, [], None)

    case.intercept_acknowledged("icpt_2", task_id="T2", now=at(4))
    refund = expected_refund(1, at(4), {
        "trigger": "intercept_accepted", "policy": SettlementPolicy.on_accept,
        "intercepts": {"icpt_1": InterceptStatus.submitted, "icpt_2": InterceptStatus.submitted},
        "confirmation": {}, "resolution": Resolution.intercepted_refund})
    assert case.refunds == [refund]
    assert (case.status, case.resolution) == (CaseStatus.refunding, Resolution.intercepted_refund)
    assert [(i.status, i.task_id, i.answered_at) for i in case.intercepts] == [
        (InterceptStatus.submitted, "T1", at(3)), (InterceptStatus.submitted, "T2", at(4))]
    assert case.events == [submitted(case, "icpt_1", "T1"), submitted(case, "icpt_2", "T2"),
                           moved(case, CaseStatus.intercepting, CaseStatus.refunding), pending(case, refund)]


def test_parcels_turning_back_after_an_on_accept_refund_create_no_second_refund() -> None:
    parcel = make_shipment()
    case = intercepting_case(parcel, policy=SettlementPolicy.on_accept)
    case.intercept_acknowledged("icpt_1", task_id="T1", now=at(3))
    case.events.clear()
    case.intercept_succeeded("icpt_1", now=at(9), evidence={"scan": "returned"})
    case.mark_received(at(10))
    assert [r.id for r in case.refunds] == [f"{CASE_ID}-r1"]
    assert case.status is CaseStatus.refunding
    assert case.events == [succeeded(case, "icpt_1", {"scan": "returned"}),
                           event(case, "aftersale.received", "aftersale", CASE_ID)]


def test_on_turned_back_refunds_once_every_parcel_turned_back() -> None:
    a, b = make_shipment(1), make_shipment(2)
    case = intercepting_case(a, b)
    case.intercept_acknowledged("icpt_1", task_id="T1", now=at(3))
    case.intercept_acknowledged("icpt_2", task_id="T2", now=at(4))
    case.intercept_succeeded("icpt_1", now=at(5), evidence={"scan": "a back"})
    assert (case.status, case.refunds) == (CaseStatus.intercepting, [])

    case.intercept_succeeded("icpt_2", now=at(6), evidence={"scan": "b back"})
    refund = expected_refund(1, at(6), {
        "trigger": "intercept_succeeded", "policy": SettlementPolicy.on_turned_back,
        "intercepts": {"icpt_1": InterceptStatus.succeeded, "icpt_2": InterceptStatus.succeeded},
        "confirmation": {"scan": "b back"}, "resolution": Resolution.intercepted_refund})
    assert case.refunds == [refund]
    assert [i.outcome_at for i in case.intercepts] == [at(5), at(6)]
    assert (case.status, case.resolution) == (CaseStatus.refunding, Resolution.intercepted_refund)
    assert case.events == [
        submitted(case, "icpt_1", "T1"), submitted(case, "icpt_2", "T2"),
        succeeded(case, "icpt_1", {"scan": "a back"}), succeeded(case, "icpt_2", {"scan": "b back"}),
        moved(case, CaseStatus.intercepting, CaseStatus.refunding), pending(case, refund)]


def test_a_repeated_turned_back_report_is_ignored() -> None:
    case, _ = refunding_case()
    case.intercept_succeeded("icpt_1", now=at(30), evidence={"scan": "again"})
    assert case.intercepts[0].outcome_at == at(20)
    assert (len(case.refunds), case.events) == (1, [])


def test_on_received_waits_for_the_warehouse_after_every_parcel_turned_back() -> None:
    a, b = make_shipment(1), make_shipment(2)
    case = intercepting_case(a, b, policy=SettlementPolicy.on_received)
    case.intercept_acknowledged("icpt_1", task_id="T1", now=at(3))
    case.intercept_acknowledged("icpt_2", task_id="T2", now=at(4))
    case.intercept_succeeded("icpt_1", now=at(5), evidence={})
    assert case.status is CaseStatus.intercepting
    case.intercept_succeeded("icpt_2", now=at(6), evidence={})
    assert (case.status, case.refunds) == (CaseStatus.intercepted, [])
    case.events.clear()

    case.mark_received(at(60))
    refund = expected_refund(1, at(60), {
        "trigger": "received", "policy": SettlementPolicy.on_received,
        "intercepts": {"icpt_1": InterceptStatus.succeeded, "icpt_2": InterceptStatus.succeeded},
        "confirmation": {}, "resolution": Resolution.intercepted_refund})
    assert case.refunds == [refund]
    assert (case.status, case.received_at) == (CaseStatus.refunding, at(60))
    assert case.events == [event(case, "aftersale.received", "aftersale", CASE_ID),
                           moved(case, CaseStatus.intercepted, CaseStatus.refunding), pending(case, refund)]


def test_on_received_records_the_receipt_once() -> None:
    case = intercepting_case(make_shipment(), policy=SettlementPolicy.on_received)
    case.mark_received(at(5))
    case.mark_received(at(6))
    assert (case.received_at, case.status, case.refunds) == (at(5), CaseStatus.intercepting, [])
    assert case.events == [event(case, "aftersale.received", "aftersale", CASE_ID)]


def test_on_received_refunds_when_the_last_parcel_turns_back_after_receipt() -> None:
    a, b = make_shipment(1), make_shipment(2)
    case = intercepting_case(a, b, policy=SettlementPolicy.on_received)
    for n in (1, 2):
        case.intercept_acknowledged(f"icpt_{n}", task_id=f"T{n}", now=at(3))
    case.intercept_succeeded("icpt_1", now=at(5), evidence={})
    case.mark_received(at(6))
    assert (case.status, case.refunds) == (CaseStatus.intercepting, [])
    case.intercept_succeeded("icpt_2", now=at(7), evidence={})
    assert case.status is CaseStatus.refunding
    assert case.refunds[0].evidence["trigger"] == "intercept_succeeded"


@pytest.mark.parametrize(("case_id", "refund_no"), [("as_7f3k", "LJ7F3KR1"), ("case9", "LJCASE9R1"),
                                                    ("as_as_x", "LJAS_XR1")])
def test_refund_id_and_number_are_derived_from_the_case_id(case_id: str, refund_no: str) -> None:
    case = open_case(make_shipment(), case_id=case_id)
    refund = case.approve_refund(at(1), resolution=Resolution.refund_without_intercept, evidence={"by": "ops"})
    assert (refund.id, refund.refund_no, refund.amount_fen) == (f"{case_id}-r1", refund_no, REFUND_FEN)


# ----------------------------------------------------------------- refused, failed, missed
def test_refused_intercept_sends_the_case_to_a_person() -> None:
    case = intercepting_case(make_shipment())
    case.intercept_refused("icpt_1", reason=InterceptReason.not_supported, message="no intercept on this route",
                           now=at(3))
    icpt = case.intercepts[0]
    assert (icpt.status, icpt.reason, icpt.message, icpt.answered_at) == (
        InterceptStatus.refused, InterceptReason.not_supported, "no intercept on this route", at(3))
    assert (case.status, case.refunds, case.resolution) == (CaseStatus.needs_attention, [], None)
    assert case.events == [
        event(case, "intercept.refused", "intercept", "icpt_1", reason=InterceptReason.not_supported,
              message="no intercept on this route"),
        moved(case, CaseStatus.intercepting, CaseStatus.needs_attention)]


def test_refusal_of_one_parcel_sends_the_case_to_a_person_even_if_another_was_accepted() -> None:
    case = intercepting_case(make_shipment(1), make_shipment(2), policy=SettlementPolicy.on_accept)
    case.intercept_acknowledged("icpt_2", task_id="T2", now=at(3))
    case.intercept_refused("icpt_1", reason=InterceptReason.bad_address, message="", now=at(4))
    assert (case.status, case.refunds) == (CaseStatus.needs_attention, [])
    # The accepted parcel still counts; the case waits for a person, not for the carrier.
    case.intercept_succeeded("icpt_2", now=at(5), evidence={})
    assert (case.status, case.refunds) == (CaseStatus.needs_attention, [])


@pytest.mark.parametrize("accepted_as", [InterceptStatus.submitted, InterceptStatus.cancel_requested])
def test_delivered_after_the_carrier_accepted_is_recorded_as_missed(accepted_as: InterceptStatus) -> None:
    case = intercepting_case(make_shipment())
    case.intercept_acknowledged("icpt_1", task_id="T1", now=at(3))
    if accepted_as is InterceptStatus.cancel_requested:
        case.intercepts[0].move(InterceptStatus.cancel_requested)
    case.events.clear()
    case.intercept_failed("icpt_1", reason=InterceptReason.already_delivered, message="signed by buyer", now=at(9))
    icpt = case.intercepts[0]
    assert (icpt.status, icpt.reason, icpt.message, icpt.outcome_at) == (
        InterceptStatus.failed, InterceptReason.missed, "signed by buyer", at(9))
    assert case.status is CaseStatus.needs_attention
    assert case.events == [
        event(case, "intercept.failed", "intercept", "icpt_1", reason=InterceptReason.missed,
              message="signed by buyer"),
        moved(case, CaseStatus.intercepting, CaseStatus.needs_attention)]


def test_failure_for_another_reason_keeps_the_carriers_reason() -> None:
    case = intercepting_case(make_shipment())
    case.intercept_acknowledged("icpt_1", task_id="T1", now=at(3))
    case.intercept_failed("icpt_1", reason=InterceptReason.carrier_error, message="outlet closed", now=at(9))
    assert case.intercepts[0].reason is InterceptReason.carrier_error
    assert case.status is CaseStatus.needs_attention


def test_intercept_that_was_never_accepted_cannot_fail() -> None:
    case = intercepting_case(make_shipment())
    before = _state(case)
    with pytest.raises(IllegalTransition) as caught:
        case.intercept_failed("icpt_1", reason=InterceptReason.already_delivered, message="", now=at(3))
    assert (caught.value.entity, caught.value.current, caught.value.target) == (
        "intercept", InterceptStatus.requested, InterceptStatus.failed)
    assert _state(case) == before


def test_acknowledging_twice_is_refused() -> None:
    case = intercepting_case(make_shipment(1), make_shipment(2))
    case.intercept_acknowledged("icpt_1", task_id="T1", now=at(3))
    before = _state(case)
    with pytest.raises(IllegalTransition):
        case.intercept_acknowledged("icpt_1", task_id="T1", now=at(4), duplicate=True)
    assert _state(case) == before


def test_commands_for_an_intercept_of_another_case_are_refused() -> None:
    case = intercepting_case(make_shipment())
    before = _state(case)
    with pytest.raises(NotFound) as caught:
        case.intercept_acknowledged("icpt_x", task_id="T", now=at(3))
    assert (caught.value.what, caught.value.ident) == ("intercept", "icpt_x")
    assert _state(case) == before


# ----------------------------------------------------------------- the unknown path
def test_starting_an_attempt_counts_it_without_recording_an_event() -> None:
    case = intercepting_case(make_shipment())
    icpt = case.intercept_attempt_started("icpt_1", at(2))
    assert (icpt.status, icpt.attempts, icpt.submit_started_at) == (InterceptStatus.requested, 1, at(2))
    assert case.events == []


def test_second_attempt_without_an_answer_makes_the_outcome_unknown() -> None:
    case = intercepting_case(make_shipment())
    case.intercept_attempt_started("icpt_1", at(2))
    icpt = case.intercept_attempt_started("icpt_1", at(3))
    assert (icpt.status, icpt.attempts, icpt.submit_started_at, icpt.message) == (
        InterceptStatus.unknown, 1, at(2), "previous attempt ended without an answer")
    assert case.status is CaseStatus.intercepting
    assert case.events == [event(case, "intercept.unknown", "intercept", "icpt_1",
                                 message="previous attempt ended without an answer")]


def test_unknown_intercept_the_carrier_never_saw_goes_back_to_requested_counting_the_attempt() -> None:
    case = intercepting_case(make_shipment())
    case.intercept_attempt_started("icpt_1", at(2))
    case.intercept_attempt_started("icpt_1", at(3))
    case.events.clear()
    case.intercept_resubmittable("icpt_1", at(4))
    icpt = case.intercepts[0]
    assert (icpt.status, icpt.attempts, icpt.submit_started_at) == (InterceptStatus.requested, 2, at(4))
    assert case.events == [event(case, "intercept.resubmitted", "intercept", "icpt_1", attempts=2)]


def test_resubmitting_an_intercept_whose_outcome_is_known_is_refused() -> None:
    case = intercepting_case(make_shipment())
    before = _state(case)
    with pytest.raises(IllegalTransition) as caught:
        case.intercept_resubmittable("icpt_1", at(4))
    assert (caught.value.current, caught.value.target) == (InterceptStatus.requested, InterceptStatus.requested)
    assert _state(case) == before


def test_unknown_intercept_the_carrier_knows_is_acknowledged_from_the_query() -> None:
    case = intercepting_case(make_shipment(), policy=SettlementPolicy.on_accept)
    case.intercept_unknown("icpt_1", at(2), "timed out")
    case.intercept_acknowledged("icpt_1", task_id="T1", now=at(3))
    icpt = case.intercepts[0]
    assert (icpt.status, icpt.task_id, icpt.message, icpt.reason) == (InterceptStatus.submitted, "T1", "", None)
    assert case.status is CaseStatus.refunding


def test_request_the_carrier_certainly_did_not_take_may_be_sent_again() -> None:
    case = intercepting_case(make_shipment())
    case.intercept_attempt_started("icpt_1", at(2))
    case.intercept_submit_not_sent("icpt_1")
    icpt = case.intercept_attempt_started("icpt_1", at(3))
    assert (icpt.status, icpt.attempts, icpt.submit_started_at) == (InterceptStatus.requested, 2, at(3))
    assert case.events == []


def test_starting_an_attempt_on_an_answered_intercept_changes_nothing() -> None:
    case = intercepting_case(make_shipment())
    case.intercept_attempt_started("icpt_1", at(2))
    case.intercept_acknowledged("icpt_1", task_id="T1", now=at(3))
    before = _state(case)
    icpt = case.intercept_attempt_started("icpt_1", at(4))
    assert (icpt.status, icpt.attempts) == (InterceptStatus.submitted, 1)
    assert _state(case) == before


# ----------------------------------------------------------------- refunds
def test_refund_approved_then_succeeded_completes_the_case() -> None:
    case, refund = refunding_case()
    case.refund_approved(refund.id)
    case.refund_succeeded(refund.id)
    assert (refund.status, case.status, case.resolution) == (
        RefundStatus.succeeded, CaseStatus.completed, Resolution.intercepted_refund)
    assert case.closed
    assert case.events == [
        event(case, "refund.approved", "refund", f"{CASE_ID}-r1", refund_no="LJ7F3KR1"),
        event(case, "refund.succeeded", "refund", f"{CASE_ID}-r1", refund_no="LJ7F3KR1", amount_fen=REFUND_FEN),
        moved(case, CaseStatus.refunding, CaseStatus.completed),
        event(case, "aftersale.settled", "aftersale", CASE_ID, resolution=Resolution.intercepted_refund,
              refund_no="LJ7F3KR1", amount_fen=REFUND_FEN)]


def test_pending_refund_cannot_succeed_before_it_is_approved() -> None:
    case, refund = refunding_case()
    before = _state(case)
    with pytest.raises(IllegalTransition) as caught:
        case.refund_succeeded(refund.id)
    assert (caught.value.entity, caught.value.current, caught.value.target) == (
        "refund", RefundStatus.pending, RefundStatus.succeeded)
    assert _state(case) == before


def test_failed_refund_sends_the_case_to_a_person_who_can_approve_a_second_one() -> None:
    case, first = refunding_case()
    case.refund_approved(first.id)
    case.refund_failed(first.id, "channel rejected the refund")
    assert (first.status, first.live, case.status, case.live_refund) == (
        RefundStatus.failed, False, CaseStatus.needs_attention, None)

    second = case.approve_refund(at(40), resolution=Resolution.intercepted_refund, evidence={"by": "ops"})
    assert second == expected_refund(2, at(40), {"by": "ops", "resolution": Resolution.intercepted_refund})
    assert (case.status, case.live_refund, case.refunds) == (CaseStatus.refunding, second, [first, second])
    assert case.events == [
        event(case, "refund.approved", "refund", f"{CASE_ID}-r1", refund_no="LJ7F3KR1"),
        event(case, "refund.failed", "refund", f"{CASE_ID}-r1", message="channel rejected the refund"),
        moved(case, CaseStatus.refunding, CaseStatus.needs_attention),
        moved(case, CaseStatus.needs_attention, CaseStatus.refunding),
        pending(case, second)]


@pytest.mark.parametrize("live_as", [RefundStatus.pending, RefundStatus.approved, RefundStatus.succeeded])
def test_approving_a_refund_while_one_is_live_is_refused(live_as: RefundStatus) -> None:
    case, refund = refunding_case()
    if live_as is not RefundStatus.pending:
        case.refund_approved(refund.id)
    if live_as is RefundStatus.succeeded:
        case.refund_succeeded(refund.id)
    before = _state(case)
    with pytest.raises(RuleViolation) as caught:
        case.approve_refund(at(50), resolution=Resolution.refund_without_intercept, evidence={})
    assert (caught.value.rule, caught.value.detail) == (
        "refund_exists", f"case {CASE_ID} already has refund {CASE_ID}-r1")
    assert _state(case) == before


def test_refund_without_intercept_may_be_approved_on_an_open_case() -> None:
    case = open_case(make_shipment(), clear_events=True)
    refund = case.approve_refund(at(1), resolution=Resolution.refund_without_intercept, evidence={"by": "ops"})
    assert refund == expected_refund(1, at(1), {"by": "ops", "resolution": Resolution.refund_without_intercept})
    assert (case.status, case.resolution) == (CaseStatus.refunding, Resolution.refund_without_intercept)
    assert case.events == [moved(case, CaseStatus.open, CaseStatus.refunding), pending(case, refund)]


@pytest.mark.parametrize("closing", ["cancel", "reject"])
def test_closed_case_cannot_be_refunded(closing: str) -> None:
    case = open_case(make_shipment())
    getattr(case, closing)(at(1))
    before = _state(case)
    with pytest.raises(IllegalTransition) as caught:
        case.approve_refund(at(2), resolution=Resolution.refund_without_intercept, evidence={})
    assert (caught.value.current, caught.value.target) == (case.status, CaseStatus.refunding)
    assert _state(case) == before


def test_commands_for_a_refund_of_another_case_are_refused() -> None:
    case, _ = refunding_case()
    before = _state(case)
    with pytest.raises(RuleViolation) as caught:
        case.refund_approved("as_other-r1")
    assert (caught.value.rule, caught.value.detail) == (
        "unknown_refund", f"refund 'as_other-r1' is not part of case '{CASE_ID}'")
    assert _state(case) == before


# ----------------------------------------------------------------- cancel and reject
@pytest.mark.parametrize("reach", [CaseStatus.open, CaseStatus.intercepting, CaseStatus.intercepted,
                                   CaseStatus.needs_attention])
def test_buyer_cancelling_closes_the_case_from_any_undecided_state(reach: CaseStatus) -> None:
    parcel = make_shipment()
    case = open_case(parcel, policy=SettlementPolicy.on_received)
    if reach is not CaseStatus.open:
        case.request_intercept(intercept_id="icpt_1", shipment=parcel, type=RTS, now=at(1))
    if reach is CaseStatus.intercepted:
        case.intercept_acknowledged("icpt_1", task_id="T1", now=at(2))
        case.intercept_succeeded("icpt_1", now=at(3), evidence={})
    if reach is CaseStatus.needs_attention:
        case.intercept_refused("icpt_1", reason=InterceptReason.not_supported, message="", now=at(2))
    assert case.status is reach
    case.events.clear()
    case.cancel(at(9))
    assert (case.status, case.resolution, case.closed) == (CaseStatus.cancelled, Resolution.buyer_cancelled, True)
    assert case.events == [moved(case, reach, CaseStatus.cancelled)]


def test_cancelling_a_cancelled_case_again_changes_nothing() -> None:
    case = open_case(make_shipment())
    case.cancel(at(1))
    before = _state(case)
    case.cancel(at(2))
    assert _state(case) == before


def test_refunding_case_cannot_be_cancelled_or_rejected() -> None:
    case, _ = refunding_case()
    before = _state(case)
    for close in (case.cancel, case.reject):
        with pytest.raises(IllegalTransition) as caught:
            close(at(30))
        assert caught.value.current is CaseStatus.refunding
        assert _state(case) == before


def test_rejecting_closes_an_open_case() -> None:
    case = open_case(make_shipment(), clear_events=True)
    case.reject(at(1))
    assert (case.status, case.resolution) == (CaseStatus.rejected, Resolution.rejected)
    assert case.events == [moved(case, CaseStatus.open, CaseStatus.rejected)]


def test_case_in_flight_cannot_be_rejected_but_one_waiting_on_a_person_can() -> None:
    case = intercepting_case(make_shipment())
    before = _state(case)
    with pytest.raises(IllegalTransition) as caught:
        case.reject(at(2))
    assert (caught.value.current, caught.value.target) == (CaseStatus.intercepting, CaseStatus.rejected)
    assert _state(case) == before
    case.intercept_refused("icpt_1", reason=InterceptReason.out_for_delivery, message="", now=at(3))
    case.reject(at(4))
    assert (case.status, case.resolution) == (CaseStatus.rejected, Resolution.rejected)


def test_rejected_case_cannot_be_cancelled() -> None:
    case = open_case(make_shipment())
    case.reject(at(1))
    before = _state(case)
    with pytest.raises(IllegalTransition):
        case.cancel(at(2))
    assert _state(case) == before


def test_an_accepted_intercept_can_be_withdrawn_and_the_case_goes_to_a_person() -> None:
    case = intercepting_case(make_shipment())
    case.intercept_acknowledged("icpt_1", task_id="T1", now=at(10))
    case.events.clear()
    icpt = case.request_intercept_cancel("icpt_1", at(11))
    assert icpt.status is InterceptStatus.cancel_requested
    case.intercept_cancelled("icpt_1", message="已撤销", now=at(12))
    assert (icpt.status, icpt.message, icpt.outcome_at, case.status) == (
        InterceptStatus.cancelled, "已撤销", at(12), CaseStatus.needs_attention)
    assert [(e.type, e.payload) for e in case.events] == [
        ("intercept.cancel_requested", {"aftersale_id": case.id, "task_id": "T1"}),
        ("intercept.cancelled", {"aftersale_id": case.id, "message": "已撤销"}),
        ("aftersale.status_changed", {"aftersale_id": case.id, "from": CaseStatus.intercepting,
                                      "to": CaseStatus.needs_attention}),
    ]


def test_a_cancel_the_carrier_refuses_leaves_the_intercept_running_to_its_outcome() -> None:
    case = intercepting_case(make_shipment())
    case.intercept_acknowledged("icpt_1", task_id="T1", now=at(10))
    case.request_intercept_cancel("icpt_1", at(11))
    case.events.clear()
    case.intercept_cancel_refused("icpt_1", message="already completed")
    icpt = case.intercept("icpt_1")
    assert (icpt.status, icpt.message, case.status) == (InterceptStatus.cancel_requested, "already completed",
                                                        CaseStatus.intercepting)
    assert [(e.type, e.payload) for e in case.events] == [
        ("intercept.cancel_refused", {"aftersale_id": case.id, "message": "already completed"})]
    case.intercept_succeeded("icpt_1", now=at(20), evidence={})
    assert icpt.status is InterceptStatus.succeeded


@pytest.mark.parametrize("status", [InterceptStatus.requested, InterceptStatus.unknown])
def test_only_an_accepted_intercept_can_be_withdrawn(status: InterceptStatus) -> None:
    case = intercepting_case(make_shipment())
    if status is InterceptStatus.unknown:
        case.intercept_unknown("icpt_1", at(5), "timed out")
    case.events.clear()
    with pytest.raises(IllegalTransition):
        case.request_intercept_cancel("icpt_1", at(6))
    assert case.intercept("icpt_1").status is status and case.events == []
