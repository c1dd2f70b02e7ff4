"""The way back and the claim: every move of a return leg, the claim amount under each contract rule,
and the claim's life from draft to closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lanjie.domain.claims import CarrierContract, Claim, claim_amount
from lanjie.domain.errors import IllegalTransition, RuleViolation
from lanjie.domain.returns import ReceivedItem, ReturnLeg
from lanjie.domain.states import ClaimStatus, ClaimType, Inspection, PayoutRule, ReturnStatus, TrackingStatus

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def leg() -> ReturnLeg:
    return ReturnLeg.start(id="rt_1", shop_id="s", aftersale_id="as_1", shipment_id="sh_1", waybill_no="SF1",
                           now=T0, typical_days=4)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_a_leg_starts_returning_with_an_estimate_and_follows_the_scans() -> None:
    r = leg()
    assert (r.status, r.eta_at, [e.type for e in r.events]) == (ReturnStatus.returning, T0 + timedelta(days=4),
                                                                 ["return.started"])
    r.scanned(TrackingStatus.returning, at(5))
    r.scanned(TrackingStatus.returned, at(30))
    assert (r.status, r.returned_at, r.last_scan_at) == (ReturnStatus.returned, at(30), at(30))
    r.scanned(TrackingStatus.returning, at(10))  # a late, older scan moves nothing back
    assert r.status is ReturnStatus.returned
    assert [e.type for e in r.events] == ["return.started", "return.returned"]


def test_no_scan_for_too_long_stalls_a_leg_and_the_next_scan_takes_it_back() -> None:
    r = leg()
    assert r.check_stalled(at(71), after=timedelta(hours=72)) is False
    assert r.check_stalled(at(73), after=timedelta(hours=72)) is True
    assert r.events[-1].payload == {"aftersale_id": "as_1", "waybill_no": "SF1", "from": ReturnStatus.returning,
                                    "last_scan_at": T0.isoformat(), "hours_without_scan": 73.0}
    r.scanned(TrackingStatus.in_transit, at(74))
    assert r.status is ReturnStatus.returning


def test_an_exception_scan_stalls_the_leg_and_loss_or_damage_end_it() -> None:
    r = leg()
    r.scanned(TrackingStatus.exception, at(2))
    assert r.status is ReturnStatus.stalled
    r.scanned(TrackingStatus.lost, at(3))
    assert (r.status, r.open) == (ReturnStatus.lost, False)
    damaged = leg()
    damaged.scanned(TrackingStatus.damaged, at(2))
    assert damaged.status is ReturnStatus.damaged


def test_receiving_records_the_inspection_and_refuses_contradictions() -> None:
    r = leg()
    with pytest.raises(RuleViolation, match="names the items that are missing"):
        r.receive(at(40), inspection=Inspection.short, items=[ReceivedItem("A", 2, 2)], photos=[])
    with pytest.raises(RuleViolation, match="inspection is short"):
        r.receive(at(40), inspection=Inspection.ok, items=[ReceivedItem("A", 2, 1)], photos=[])
    r.receive(at(40), inspection=Inspection.short, items=[ReceivedItem("A", 2, 1)], photos=["ef_1"], note="1 missing")
    assert (r.status, r.inspection, r.missing_items, r.photos) == (
        ReturnStatus.received, Inspection.short, [ReceivedItem("A", 2, 1)], ["ef_1"])
    with pytest.raises(RuleViolation, match="received already"):
        r.receive(at(41), inspection=Inspection.ok, items=[], photos=[])


@pytest.mark.parametrize(("contract", "loss", "insured", "freight", "amount", "rule"), [
    (CarrierContract("sf"), 20_000, None, 1_200, 3_600, PayoutRule.capped_actual_loss),  # 3× freight
    (CarrierContract("sf"), 2_000, None, 1_200, 2_000, PayoutRule.capped_actual_loss),  # the loss, under the cap
    (CarrierContract("sf"), 20_000, 15_000, 1_200, 15_000, PayoutRule.insured_value),  # up to the insured value
    (CarrierContract("sf"), 9_000, 15_000, 1_200, 9_000, PayoutRule.insured_value),  # no more than the loss
    (CarrierContract("sf", rule=PayoutRule.goods_value), 20_000, None, 1_200, 20_000, PayoutRule.goods_value),
    (CarrierContract("sf", cap_fen=5_000), 20_000, None, 1_200, 5_000, PayoutRule.capped_actual_loss),
    (CarrierContract("sf", cap_multiple=5), 20_000, None, 1_200, 6_000, PayoutRule.capped_actual_loss),
])
def test_the_claim_amount_follows_the_contract(contract: CarrierContract, loss: int, insured: int | None,
                                               freight: int, amount: int, rule: PayoutRule) -> None:
    result = claim_amount(contract, loss_fen=loss, insured_fen=insured, freight_fen=freight)
    assert (result.fen, result.basis["rule"]) == (amount, rule)


def test_filing_windows_default_per_carrier() -> None:
    assert CarrierContract("ups").filing_window() == timedelta(days=90)
    assert CarrierContract("sf").filing_window() == timedelta(days=30)
    assert CarrierContract("sf", filing_days=7).filing_window() == timedelta(days=7)


def claim() -> Claim:
    return Claim.draft(id="clm_1", shop_id="s", aftersale_id="as_1", return_id="rt_1", shipment_id="sh_1",
                       carrier="sf:sf", waybill_no="SF1", type=ClaimType.loss, amount_fen=3_600,
                       basis={"rule": "capped_actual_loss"}, filing_deadline_at=at(24 * 30), created_at=T0)


def test_a_claim_goes_from_draft_to_closed_through_the_carriers_review_and_a_payout() -> None:
    c = claim()
    assert c.overdue(at(24 * 31)) is True and c.overdue(at(1)) is False
    c.file(at(1), via="packet", carrier_ref="SFC-9")
    assert c.carrier_said(ClaimStatus.waiting_on_documents, documents=["发票 invoice"]) is True
    c.documents_sent(at(2), ["ef_9"])
    assert c.carrier_said(ClaimStatus.in_review) is False  # already there
    c.carrier_said(ClaimStatus.approved_partial, approved_fen=3_000, message="部分赔付")
    c.payout(amount_fen=3_000, reference="TX-1", paid_at=at(100))
    c.close(note="done")
    assert (c.status, c.approved_fen, c.paid_fen, c.payouts) == (
        ClaimStatus.closed, 3_000, 3_000, [{"amount_fen": 3_000, "reference": "TX-1", "paid_at": at(100).isoformat()}])
    assert [e.type for e in c.events] == ["claim.drafted", "claim.filed", "claim.waiting_on_documents",
                                          "claim.in_review", "claim.approved_partial", "claim.payout_recorded",
                                          "claim.paid", "claim.closed"]


def test_evidence_is_added_once_per_file_at_any_status_before_the_claim_is_closed() -> None:
    c = claim()
    assert c.add_evidence(at(1), ["ef_1", "ef_2", "ef_1"], note="dents") == ["ef_1", "ef_2"]
    assert c.add_evidence(at(2), ["ef_2", "ef_3"]) == ["ef_3"]
    assert c.add_evidence(at(3), ["ef_3"]) == []
    assert c.status is ClaimStatus.draft
    assert c.evidence["files"] == [{"file_id": "ef_1", "added_at": at(1).isoformat(), "note": "dents"},
                                   {"file_id": "ef_2", "added_at": at(1).isoformat(), "note": "dents"},
                                   {"file_id": "ef_3", "added_at": at(2).isoformat(), "note": ""}]
    assert [(e.type, e.payload["files"]) for e in c.events[1:]] == [("claim.evidence_added", ["ef_1", "ef_2"]),
                                                                    ("claim.evidence_added", ["ef_3"])]
    c.close()
    with pytest.raises(RuleViolation, match="is closed"):
        c.add_evidence(at(4), ["ef_4"])


def test_an_approval_of_the_whole_amount_is_approved_and_a_payout_needs_an_approval_first() -> None:
    c = claim()
    with pytest.raises(IllegalTransition):
        c.payout(amount_fen=1, reference="X", paid_at=T0)
    c.file(T0, via="online", carrier_ref="K100-1")
    c.carrier_said(ClaimStatus.approved_partial, approved_fen=3_600)
    assert c.status is ClaimStatus.approved
    c.payout(amount_fen=3_600, reference="X", paid_at=T0)
    with pytest.raises(RuleViolation, match="recorded already"):
        c.payout(amount_fen=3_600, reference="X", paid_at=T0)
    with pytest.raises(RuleViolation, match="filed online or as a packet"):
        claim().file(T0, via="fax")


def test_filing_a_claim_past_filed_is_refused_and_keeps_its_filing() -> None:
    c = claim()
    c.file(at(1), via="online", carrier_ref="K100-1", message="sent")
    c.carrier_said(ClaimStatus.rejected, message="no proof")
    events = list(c.events)
    with pytest.raises(IllegalTransition):
        c.file(at(2), via="packet", carrier_ref="SFC-2")
    assert (c.status, c.filed_via, c.carrier_ref, c.filed_at, c.message) == (
        ClaimStatus.rejected, "online", "K100-1", at(1), "no proof")
    assert c.events == events


def test_a_partial_approval_revised_to_the_whole_amount_afterwards_is_ignored_and_changes_nothing() -> None:
    c = claim()
    c.file(at(1), via="online", carrier_ref="K100-1")
    c.carrier_said(ClaimStatus.approved_partial, approved_fen=3_000, message="部分赔付")
    events = list(c.events)
    assert c.carrier_said(ClaimStatus.approved_partial, approved_fen=3_600, message="全额") is False
    assert (c.status, c.approved_fen, c.message) == (ClaimStatus.approved_partial, 3_000, "部分赔付")
    assert c.events == events
