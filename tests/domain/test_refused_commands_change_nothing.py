"""A command the case refuses leaves it exactly as it was, and a live refund always finishes.

A case with a live refund has asked for money already: only that refund's success or failure moves it on,
so a person's queue (``needs_person``, the deadline alert) is refused until then. Every refusal is checked
before anything changes: no event, no refund status, no ``attention`` is left behind by a refused command.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from lanjie.domain.errors import IllegalTransition
from lanjie.domain.model import AfterSale, Refund
from lanjie.domain.states import CaseStatus, RefundStatus, Resolution

from .factories import CASE_ID, REFUND_FEN, at, event, make_shipment, moved, open_case


def _refunding(approved: bool) -> tuple[AfterSale, Refund]:
    """A case a person refunded; the refund pending, or approved downstream; events cleared."""
    case = open_case(make_shipment())
    refund = case.refund_by_decision(at(1), note="agreed on the phone")
    if approved:
        case.refund_approved(refund.id)
    case.events.clear()
    return case, refund


def _closed(status: CaseStatus) -> AfterSale:
    case = open_case(make_shipment())
    if status is CaseStatus.completed:
        refund = case.refund_by_decision(at(1), note="")
        case.refund_approved(refund.id)
        case.refund_succeeded(refund.id)
    elif status is CaseStatus.rejected:
        case.reject(at(1))
    else:
        case.cancel(at(1))
    case.events.clear()
    return case


def _refused_without_change(case: AfterSale, command: Callable[[], Any],
                            current: CaseStatus, target: CaseStatus) -> None:
    before = copy.deepcopy((case, case.events))
    with pytest.raises(IllegalTransition) as caught:
        command()
    assert (caught.value.entity, caught.value.current, caught.value.target) == ("aftersale", current, target)
    assert (case, case.events) == before


# ----------------------------------------------------------------- a live refund finishes first
@pytest.mark.parametrize("approved", [False, True], ids=["pending", "approved"])
def test_needs_person_is_refused_while_a_refund_is_live(approved: bool) -> None:
    case, _ = _refunding(approved)
    _refused_without_change(case, lambda: case.needs_person("reject_failed"),
                            CaseStatus.refunding, CaseStatus.needs_attention)
    assert (case.status, case.attention) == (CaseStatus.refunding, "")


@pytest.mark.parametrize("approved", [False, True], ids=["pending", "approved"])
def test_deadline_alert_is_refused_while_a_refund_is_live_and_records_nothing(approved: bool) -> None:
    case, _ = _refunding(approved)
    _refused_without_change(case, lambda: case.deadline_alert(at(100)),
                            CaseStatus.refunding, CaseStatus.needs_attention)


def test_a_live_refund_completes_the_case_after_a_refused_deadline_alert() -> None:
    case, refund = _refunding(approved=True)
    with pytest.raises(IllegalTransition):
        case.deadline_alert(at(100))
    case.refund_succeeded(refund.id)
    assert (refund.status, case.status, case.resolution, case.attention) == (
        RefundStatus.succeeded, CaseStatus.completed, Resolution.refund_without_intercept, "")
    assert case.events == [
        event(case, "refund.succeeded", "refund", f"{CASE_ID}-r1", refund_no="LJ7F3KR1", amount_fen=REFUND_FEN),
        moved(case, CaseStatus.refunding, CaseStatus.completed),
        event(case, "aftersale.settled", "aftersale", CASE_ID, resolution=Resolution.refund_without_intercept,
              refund_no="LJ7F3KR1", amount_fen=REFUND_FEN)]


def test_a_failed_refund_still_sends_the_case_to_a_person() -> None:
    case, refund = _refunding(approved=True)
    case.refund_failed(refund.id, "channel said no")
    assert (refund.status, case.status, case.attention, case.resolution) == (
        RefundStatus.failed, CaseStatus.needs_attention, "refund_failed", None)
    assert case.events == [event(case, "refund.failed", "refund", f"{CASE_ID}-r1", message="channel said no"),
                           moved(case, CaseStatus.refunding, CaseStatus.needs_attention)]


# ----------------------------------------------------------------- closed cases
@pytest.mark.parametrize("status", [CaseStatus.completed, CaseStatus.rejected, CaseStatus.cancelled])
def test_deadline_alert_on_a_closed_case_is_refused_and_records_nothing(status: CaseStatus) -> None:
    case = _closed(status)
    _refused_without_change(case, lambda: case.deadline_alert(at(100)), status, CaseStatus.needs_attention)


@pytest.mark.parametrize("status", [CaseStatus.completed, CaseStatus.rejected, CaseStatus.cancelled])
def test_needs_person_on_a_closed_case_keeps_its_attention_unset(status: CaseStatus) -> None:
    case = _closed(status)
    _refused_without_change(case, lambda: case.needs_person("reject_failed"), status, CaseStatus.needs_attention)
    assert case.attention == ""


# ----------------------------------------------------------------- the case is checked before the refund moves
# A case stored before the live-refund guard existed may sit in needs_attention with a live refund; a refund
# command the case cannot follow must not move the refund alone.
def test_a_refund_that_cannot_complete_the_case_stays_approved_and_records_nothing() -> None:
    case, refund = _refunding(approved=True)
    case.status = CaseStatus.needs_attention
    _refused_without_change(case, lambda: case.refund_succeeded(refund.id),
                            CaseStatus.needs_attention, CaseStatus.completed)
    assert refund.status is RefundStatus.approved


def test_a_refund_failure_the_case_cannot_follow_leaves_the_refund_live_and_records_nothing() -> None:
    case, refund = _refunding(approved=True)
    case.status = CaseStatus.cancelled
    _refused_without_change(case, lambda: case.refund_failed(refund.id, "channel said no"),
                            CaseStatus.cancelled, CaseStatus.needs_attention)
    assert (refund.status, refund.live) == (RefundStatus.approved, True)
