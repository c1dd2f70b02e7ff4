"""Rules that decide without side effects: which parcels can be intercepted, when a refund is due."""

from __future__ import annotations

import pytest

from lanjie.domain.rules import interceptability, refund_due
from lanjie.domain.states import InterceptReason, SettlementPolicy, TrackingStatus

#: Collected and not yet out for delivery (or stuck at an outlet): the carrier can still stop it.
EXPECTED_INTERCEPTABILITY: dict[TrackingStatus, InterceptReason | None] = {
    TrackingStatus.created: InterceptReason.not_picked_up,
    TrackingStatus.picked_up: None,
    TrackingStatus.in_transit: None,
    TrackingStatus.at_destination: None,
    TrackingStatus.out_for_delivery: InterceptReason.out_for_delivery,
    TrackingStatus.delivered: InterceptReason.already_delivered,
    TrackingStatus.delivery_failed: None,
    TrackingStatus.exception: None,
    TrackingStatus.returning: InterceptReason.already_intercepted,
    TrackingStatus.returned: InterceptReason.already_intercepted,
    TrackingStatus.lost: InterceptReason.not_supported,
    TrackingStatus.damaged: InterceptReason.not_supported,
    TrackingStatus.expired: InterceptReason.not_supported,
}


def test_expected_interceptability_covers_every_tracking_status() -> None:
    assert set(EXPECTED_INTERCEPTABILITY) == set(TrackingStatus)


@pytest.mark.parametrize(("status", "reason"), EXPECTED_INTERCEPTABILITY.items(),
                         ids=[str(s) for s in EXPECTED_INTERCEPTABILITY])
def test_interceptability_names_the_reason_a_parcel_cannot_be_stopped(
        status: TrackingStatus, reason: InterceptReason | None) -> None:
    assert interceptability(status) is reason


P = SettlementPolicy
# policy, accepted, turned_back, received -> refund due
REFUND_DUE_TABLE: list[tuple[SettlementPolicy, bool, bool, bool, bool]] = [
    (P.on_accept, False, False, False, False),
    (P.on_accept, False, False, True, False),
    (P.on_accept, False, True, False, False),
    (P.on_accept, False, True, True, False),
    (P.on_accept, True, False, False, True),
    (P.on_accept, True, False, True, True),
    (P.on_accept, True, True, False, True),
    (P.on_accept, True, True, True, True),
    (P.on_turned_back, False, False, False, False),
    (P.on_turned_back, False, False, True, False),
    (P.on_turned_back, False, True, False, True),
    (P.on_turned_back, False, True, True, True),
    (P.on_turned_back, True, False, False, False),
    (P.on_turned_back, True, False, True, False),
    (P.on_turned_back, True, True, False, True),
    (P.on_turned_back, True, True, True, True),
    (P.on_received, False, False, False, False),
    (P.on_received, False, False, True, False),
    (P.on_received, False, True, False, False),
    (P.on_received, False, True, True, True),
    (P.on_received, True, False, False, False),
    (P.on_received, True, False, True, False),
    (P.on_received, True, True, False, False),
    (P.on_received, True, True, True, True),
]


def test_refund_due_table_covers_every_policy_and_flag_combination() -> None:
    assert {row[:4] for row in REFUND_DUE_TABLE} == {
        (p, a, t, r) for p in P for a in (False, True) for t in (False, True) for r in (False, True)}


@pytest.mark.parametrize(("policy", "accepted", "turned_back", "received", "due"), REFUND_DUE_TABLE,
                         ids=[f"{p}-acc{int(a)}-back{int(t)}-recv{int(r)}" for p, a, t, r, _ in REFUND_DUE_TABLE])
def test_refund_due_follows_the_settlement_policy(
        policy: SettlementPolicy, accepted: bool, turned_back: bool, received: bool, due: bool) -> None:
    assert refund_due(policy, accepted=accepted, turned_back=turned_back, received=received) is due
