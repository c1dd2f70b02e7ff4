"""The platform's side of a case: fallbacks, 拒签后退款, clawbacks, deadlines, the platform's own outcome."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lanjie.domain.errors import RuleViolation
from lanjie.domain.model import AfterSale
from lanjie.domain.states import (
    ArbitrationStatus,
    CaseStatus,
    CaseType,
    ClawbackStatus,
    Fallback,
    InterceptReason,
    InterceptType,
    PlatformStatus,
    RefundStatus,
    Resolution,
    SettlementPolicy,
    TrackingStatus,
)

from .factories import T0, at, event, make_shipment, open_case


def accepted_case(fallback: Fallback, policy: SettlementPolicy = SettlementPolicy.on_turned_back) -> AfterSale:
    shipment = make_shipment()
    case = open_case(shipment, policy=policy, clear_events=True)
    case.fallback = fallback
    case.request_intercept(intercept_id="icp_1", shipment=shipment, type=InterceptType.return_to_sender, now=at(1))
    case.intercept_acknowledged("icp_1", task_id="T1", now=at(2))
    case.events.clear()
    return case


def test_refusal_fallback_waits_for_the_buyer_to_refuse_and_then_refunds() -> None:
    case = accepted_case(Fallback.refund_on_refusal)
    case.intercept_failed("icp_1", reason=InterceptReason.carrier_error, message="网点未拦截", now=at(3))
    assert (case.status, case.attention) == (CaseStatus.awaiting_refusal, "")
    case.parcel_refused(at(4), waybill_no="ZT0000000001", tracking_status=TrackingStatus.delivery_failed)
    assert (case.status, case.resolution, case.live_refund.amount_fen) == (  # type: ignore[union-attr]
        CaseStatus.refunding, Resolution.refund_on_refusal, 12_900)
    assert [e.type for e in case.events] == ["intercept.failed", "aftersale.status_changed", "aftersale.fallback",
                                             "aftersale.status_changed", "refund.pending"]


def test_refusal_fallback_sends_a_delivered_parcel_to_a_person() -> None:
    case = accepted_case(Fallback.refund_on_refusal)
    case.intercept_failed("icp_1", reason=InterceptReason.carrier_error, message="网点未拦截", now=at(3))
    case.parcel_delivered_while_awaiting_refusal(waybill_no="ZT0000000001")
    assert (case.status, case.attention, case.refunds) == (CaseStatus.needs_attention, "delivered", [])


def test_a_missed_intercept_is_never_refunded_on_refusal_the_buyer_signed_for_it() -> None:
    case = accepted_case(Fallback.refund_on_refusal)
    case.intercept_failed("icp_1", reason=InterceptReason.already_delivered, message="已签收", now=at(3))
    assert (case.status, case.attention) == (CaseStatus.needs_attention, "missed")


def test_keep_waiting_leaves_the_case_where_it_is_and_says_so() -> None:
    case = accepted_case(Fallback.keep_waiting)
    case.intercept_failed("icp_1", reason=InterceptReason.carrier_error, message="x", now=at(3))
    assert case.status is CaseStatus.intercepting
    assert case.events[-1] == event(case, "aftersale.fallback", "aftersale", case.id, fallback=Fallback.keep_waiting,
                                    why="intercept_failed")


def test_a_refund_paid_on_acceptance_then_missed_opens_a_clawback() -> None:
    case = accepted_case(Fallback.needs_person, SettlementPolicy.on_accept)
    refund = case.live_refund
    assert refund is not None
    case.refund_approved(refund.id)
    case.refund_succeeded(refund.id)
    case.events.clear()
    case.intercept_failed("icp_1", reason=InterceptReason.already_delivered, message="已签收", now=at(9))
    assert (case.status, refund.status, refund.clawback, case.attention) == (
        CaseStatus.completed, RefundStatus.succeeded, ClawbackStatus.open, "clawback")
    assert case.events[-1] == event(case, "refund.clawback_opened", "refund", refund.id, refund_no=refund.refund_no,
                                    amount_fen=12_900, intercept_id="icp_1", refund_status=RefundStatus.succeeded)
    case.resolve_clawback(ClawbackStatus.recovered, "buyer paid back")
    assert (refund.clawback, case.attention) == (ClawbackStatus.recovered, "")
    with pytest.raises(RuleViolation, match="no open clawback"):
        case.resolve_clawback(ClawbackStatus.written_off)


def test_platform_changes_are_taken_and_recorded_one_event_each() -> None:
    case = open_case(make_shipment(), clear_events=True)
    deadline = T0 + timedelta(hours=48)
    changed = case.platform_changed(version="1700000001", status=PlatformStatus.awaiting_merchant,
                                    type=CaseType.return_refund, refund_fen=12_900, deadline_at=deadline,
                                    arbitration=ArbitrationStatus.requested, paid_fen=12_900)
    assert changed == ["deadline", "arbitration", "type", "platform_status"]
    assert (case.channel_version, case.type, case.deadline_at, case.paid_fen) == (
        "1700000001", CaseType.return_refund, deadline, 12_900)
    assert case.events[0] == event(case, "aftersale.deadline_changed", "aftersale", case.id, **{
        "from": None, "to": deadline.isoformat(), "version": "1700000001"})
    assert case.platform_changed(version="1700000002", status=PlatformStatus.awaiting_merchant,
                                 type=CaseType.return_refund, refund_fen=12_900, deadline_at=deadline,
                                 arbitration=ArbitrationStatus.requested) == []


def test_a_platform_refund_after_the_deadline_is_recorded_as_a_timeout_refund() -> None:
    case = open_case(make_shipment(), clear_events=True)
    refund = case.platform_refunded(at(5), timed_out=True)
    assert refund is not None
    assert (case.status, case.resolution, refund.status) == (
        CaseStatus.completed, Resolution.timeout_refund, RefundStatus.succeeded)
    assert "aftersale.timed_out" in [e.type for e in case.events]


def test_a_platform_refund_completes_lanjies_own_pending_refund_without_a_second_one() -> None:
    case = accepted_case(Fallback.needs_person, SettlementPolicy.on_accept)
    case.platform_refunded(at(5), timed_out=False)
    assert [(r.status, r.evidence["resolution"]) for r in case.refunds] == [
        (RefundStatus.succeeded, Resolution.intercepted_refund)]


def test_the_deadline_alert_puts_the_case_before_a_person() -> None:
    case = open_case(make_shipment(), clear_events=True)
    case.deadline_alert(at(100))
    assert (case.status, case.attention) == (CaseStatus.needs_attention, "deadline")
    assert case.events[0] == event(case, "aftersale.deadline_alert", "aftersale", case.id,
                                   deadline_at=at(100).isoformat(), status=CaseStatus.open)


def test_a_platform_case_without_a_known_parcel_opens_for_a_person() -> None:
    case = AfterSale.open(parcel_may_be_unknown=True, id="as_x", shop_id="shop_1", order_id="o", channel="douyin",
                          type=CaseType.refund_only_shipped, refund_fen=100, shipment_ids=[],
                          settlement_policy=SettlementPolicy.on_accept, created_at=T0)
    assert (case.status, case.attention) == (CaseStatus.needs_attention, "parcel_unknown")
