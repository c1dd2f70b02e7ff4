"""Business rules that decide without side effects: can a parcel be intercepted, is the refund due."""

from __future__ import annotations

from lanjie.domain.states import InterceptReason, SettlementPolicy, TrackingStatus

#: Why a parcel in a given tracking status cannot be intercepted; absent means it can.
_BLOCKED_BY_TRACKING: dict[TrackingStatus, InterceptReason] = {
    TrackingStatus.created: InterceptReason.not_picked_up,  # cancel the order instead
    TrackingStatus.out_for_delivery: InterceptReason.out_for_delivery,
    TrackingStatus.delivered: InterceptReason.already_delivered,
    TrackingStatus.returning: InterceptReason.already_intercepted,
    TrackingStatus.returned: InterceptReason.already_intercepted,
    TrackingStatus.lost: InterceptReason.not_supported,
    TrackingStatus.damaged: InterceptReason.not_supported,
    TrackingStatus.expired: InterceptReason.not_supported,
}


def interceptability(status: TrackingStatus) -> InterceptReason | None:
    """Why a parcel in ``status`` cannot be intercepted, or None when it can (collected, not out for delivery)."""
    return _BLOCKED_BY_TRACKING.get(status)


def refund_due(policy: SettlementPolicy, *, accepted: bool, turned_back: bool, received: bool) -> bool:
    """Whether the shop's settlement policy approves the refund given what the intercepts have reached."""
    if policy == SettlementPolicy.on_accept:
        return accepted
    if policy == SettlementPolicy.on_turned_back:
        return turned_back
    return turned_back and received
