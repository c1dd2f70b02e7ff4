"""Statuses, reasons and the transition table of every state machine.

A table maps each state to the states it may move to. A state with no way out is terminal.
``advance`` is the single place a transition is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from lanjie.domain.errors import IllegalTransition


class TrackingStatus(StrEnum):
    """Normalised tracking status of a parcel, whatever the carrier's own codes.

    Not a state machine, so it has no transition table: it is an observation of the carrier, and the
    newest scan by event time wins (``Shipment.apply_tracking``). Carriers send duplicate and
    out-of-order events, and retry a push long after (Kuaidi100: ~35 min apart) so an old snapshot can
    arrive after a newer poll; ordering by arrival, or guarding moves with a table, would let a stale
    report overwrite a fresh one or refuse what the carrier last said. The state machines that act on
    it (case, intercept, return leg) have the tables and guards.
    """

    created = "created"  # label printed, not collected (待揽收)
    picked_up = "picked_up"  # 已揽收
    in_transit = "in_transit"  # 在途
    at_destination = "at_destination"  # arrived at the destination outlet
    out_for_delivery = "out_for_delivery"  # 派件
    delivered = "delivered"  # 签收
    delivery_failed = "delivery_failed"  # refused, no contact
    exception = "exception"  # 疑难
    returning = "returning"  # turned back, on the way to the sender (退回)
    returned = "returned"  # signed for by the sender's side (退签)
    lost = "lost"
    damaged = "damaged"
    expired = "expired"  # tracking stopped without an end (abort)


class CaseType(StrEnum):
    refund_only_shipped = "refund_only_shipped"  # 发货后仅退款: the case lanjie intercepts for
    refund_only_unshipped = "refund_only_unshipped"
    return_refund = "return_refund"
    exchange = "exchange"
    resend = "resend"


class CaseStatus(StrEnum):
    open = "open"  # received, nothing done yet
    intercepting = "intercepting"  # an intercept is in flight
    intercepted = "intercepted"  # carrier accepted or turned the parcel back; settlement waits on policy
    needs_attention = "needs_attention"  # refused, failed or missed: a person decides (fallback)
    awaiting_refusal = "awaiting_refusal"  # 拒签后退款 agreed: refunded once the buyer refuses the parcel
    refunding = "refunding"  # refund approved, being recorded downstream
    completed = "completed"
    rejected = "rejected"
    cancelled = "cancelled"  # buyer withdrew the request


class Resolution(StrEnum):
    intercepted_refund = "intercepted_refund"
    refund_on_refusal = "refund_on_refusal"  # 拒签后退款
    refund_without_intercept = "refund_without_intercept"
    rejected = "rejected"
    buyer_cancelled = "buyer_cancelled"
    timeout_refund = "timeout_refund"


class PlatformStatus(StrEnum):
    """Where the sales platform's own after-sale stands, whatever the platform's codes."""

    awaiting_merchant = "awaiting_merchant"  # the merchant must answer (Douyin 6, Taobao WAIT_SELLER_AGREE)
    awaiting_return = "awaiting_return"  # waiting for the buyer to send goods back (Douyin 7)
    awaiting_receipt = "awaiting_receipt"  # goods on their way back or arrived (Douyin 11, WAIT_SELLER_CONFIRM_GOODS)
    agreed = "agreed"  # refund agreed, not yet paid
    refunded = "refunded"  # the platform paid the buyer (Douyin 12, Taobao SUCCESS)
    rejected = "rejected"  # the merchant refused (Douyin 27/29, Taobao SELLER_REFUSE_BUYER)
    closed = "closed"  # withdrawn by the buyer, failed or timed out without a refund (Douyin 28, Taobao CLOSED)
    other = "other"  # a code lanjie does not act on


class ArbitrationStatus(StrEnum):
    """The platform's arbitration (客服介入 / 淘宝介入) of a case."""

    none = "none"
    requested = "requested"  # the buyer applied (Douyin 212, TaobaoInterApplied)
    evidence_requested = "evidence_requested"  # the platform asks the merchant for evidence (Douyin 213 / status 4)
    evidence_submitted = "evidence_submitted"  # the merchant answered (Douyin 214/218)
    in_review = "in_review"  # the platform is deciding (Douyin 217 / status 1, TaobaoIntervened)
    buyer_won = "buyer_won"  # verdict for the buyer (Douyin arbitrate status 2)
    merchant_won = "merchant_won"  # verdict for the merchant (Douyin arbitrate status 3)
    cancelled = "cancelled"  # the buyer withdrew it (Douyin 215)


class ChannelInterceptStatus(StrEnum):
    """What the platform shows of an interception (Taobao interceptItemListResult.logisticInterceptEnum)."""

    not_applied = "not_applied"  # INTERCEPT_NOT_APPLY
    applied = "applied"  # INTERCEPT_APPLY 物流截单申请中
    succeeded = "succeeded"  # INTERCEPT_SUCCESS
    failed = "failed"  # INTERCEPT_FAILED
    seller_confirmed_sign = "seller_confirmed_sign"  # INTERCEPT_SELLER_CONFIRM_SIGN: the seller signed for it


class InterceptType(StrEnum):
    return_to_sender = "return_to_sender"  # 原址退回
    return_to_outlet = "return_to_outlet"  # 退回寄件网点
    redirect = "redirect"  # 改址, needs the new address


class InterceptStatus(StrEnum):
    requested = "requested"  # recorded, not yet acknowledged by the carrier
    submitted = "submitted"  # carrier acknowledged, task id known
    succeeded = "succeeded"  # parcel turned back
    failed = "failed"  # accepted at first, then did not happen (reason says why)
    refused = "refused"  # carrier said no at once
    unknown = "unknown"  # the call's outcome is not known: query before any resubmission
    cancel_requested = "cancel_requested"
    cancelled = "cancelled"


class InterceptReason(StrEnum):
    already_delivered = "already_delivered"
    out_for_delivery = "out_for_delivery"
    not_picked_up = "not_picked_up"
    already_intercepted = "already_intercepted"
    not_supported = "not_supported"
    bad_address = "bad_address"
    auth_failed = "auth_failed"
    rate_limited = "rate_limited"
    missed = "missed"  # delivered before the stop took effect
    carrier_error = "carrier_error"


class RefundStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    succeeded = "succeeded"
    failed = "failed"


class Fallback(StrEnum):
    """What a case does when its intercept is refused, fails or is missed (the shop's rule says)."""

    refund_on_refusal = "refund_on_refusal"  # 拒签后退款: refund once the buyer refuses delivery
    keep_waiting = "keep_waiting"  # leave it: the deadline watch still guards the case
    needs_person = "needs_person"  # a person decides (the default)


class ClawbackStatus(StrEnum):
    """Money refunded on an intercept that was then missed: the buyer got the parcel and the refund."""

    open = "open"
    recovered = "recovered"  # the buyer paid back or the platform recovered it (Douyin refund_status 5 追缴成功)
    written_off = "written_off"


class SettlementPolicy(StrEnum):
    """When the refund of an intercepted case is approved."""

    on_accept = "on_accept"  # carrier acknowledged the intercept (fastest, Douyin's behaviour)
    on_turned_back = "on_turned_back"  # first return scan: the safe default
    on_received = "on_received"  # the warehouse received the parcel


CASE_TRANSITIONS: Mapping[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.open: frozenset(
        {CaseStatus.intercepting, CaseStatus.refunding, CaseStatus.needs_attention,
         CaseStatus.awaiting_refusal, CaseStatus.rejected, CaseStatus.cancelled}
    ),
    CaseStatus.intercepting: frozenset(
        {CaseStatus.intercepted, CaseStatus.needs_attention, CaseStatus.awaiting_refusal, CaseStatus.refunding,
         CaseStatus.cancelled}
    ),
    CaseStatus.intercepted: frozenset(
        {CaseStatus.refunding, CaseStatus.needs_attention, CaseStatus.awaiting_refusal, CaseStatus.cancelled}
    ),
    CaseStatus.needs_attention: frozenset(
        {CaseStatus.intercepting, CaseStatus.refunding, CaseStatus.awaiting_refusal, CaseStatus.rejected,
         CaseStatus.cancelled}
    ),
    CaseStatus.awaiting_refusal: frozenset(
        {CaseStatus.intercepting, CaseStatus.refunding, CaseStatus.needs_attention, CaseStatus.rejected,
         CaseStatus.cancelled}
    ),
    # To needs_attention only once the refund failed: a live refund finishes first (AfterSale._check_move).
    CaseStatus.refunding: frozenset({CaseStatus.completed, CaseStatus.needs_attention}),
    CaseStatus.completed: frozenset(),
    CaseStatus.rejected: frozenset(),
    CaseStatus.cancelled: frozenset(),
}

INTERCEPT_TRANSITIONS: Mapping[InterceptStatus, frozenset[InterceptStatus]] = {
    InterceptStatus.requested: frozenset(
        {InterceptStatus.submitted, InterceptStatus.refused, InterceptStatus.unknown}
    ),
    # After a lost answer the carrier is queried: it knows the task, refused it, or never saw it.
    InterceptStatus.unknown: frozenset(
        {InterceptStatus.submitted, InterceptStatus.refused, InterceptStatus.requested,
         InterceptStatus.succeeded, InterceptStatus.failed}
    ),
    InterceptStatus.submitted: frozenset(
        {InterceptStatus.succeeded, InterceptStatus.failed, InterceptStatus.cancel_requested}
    ),
    InterceptStatus.cancel_requested: frozenset(
        {InterceptStatus.cancelled, InterceptStatus.succeeded, InterceptStatus.failed}
    ),
    InterceptStatus.succeeded: frozenset(),
    InterceptStatus.failed: frozenset(),
    InterceptStatus.refused: frozenset(),
    InterceptStatus.cancelled: frozenset(),
}

REFUND_TRANSITIONS: Mapping[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.pending: frozenset({RefundStatus.approved, RefundStatus.failed}),
    RefundStatus.approved: frozenset({RefundStatus.succeeded, RefundStatus.failed}),
    RefundStatus.succeeded: frozenset(),
    RefundStatus.failed: frozenset(),
}

#: Refund states that count as "the case has a refund": at most one per case.
LIVE_REFUND_STATUSES = frozenset({RefundStatus.pending, RefundStatus.approved, RefundStatus.succeeded})

#: Intercept states in which the parcel still has an intercept that may take effect.
ACTIVE_INTERCEPT_STATUSES = frozenset(
    {InterceptStatus.requested, InterceptStatus.submitted, InterceptStatus.unknown,
     InterceptStatus.cancel_requested, InterceptStatus.succeeded}
)


S = TypeVar("S", bound=StrEnum)


def is_terminal(table: Mapping[S, frozenset[S]], state: S) -> bool:
    """True when no transition leaves ``state``."""
    return not table[state]


def advance(entity: str, table: Mapping[S, frozenset[S]], current: S, target: S) -> S:
    """Return ``target`` if the table allows ``current → target``; raise IllegalTransition otherwise."""
    if target not in table[current]:
        raise IllegalTransition(entity, current, target)
    return target


# ----------------------------------------------------------------------------- returns and claims
class ReturnStatus(StrEnum):
    """The way back of an intercepted parcel, from the moment the intercept succeeds."""

    returning = "returning"  # turned back, scans coming in (退回)
    stalled = "stalled"  # no scan for longer than the carrier's usual gap: a person should ask
    returned = "returned"  # signed for by the sender's side (退签)
    received = "received"  # the warehouse scanned it in and inspected it
    lost = "lost"  # the carrier reported it lost
    damaged = "damaged"  # the carrier reported it damaged (Kuaidi100 209 破损, Kdniao 414)


class Inspection(StrEnum):
    """What the warehouse found when the returned parcel was opened."""

    ok = "ok"
    damaged = "damaged"
    short = "short"  # items missing


class ClaimType(StrEnum):
    loss = "loss"
    damage = "damage"
    short = "short"


class ClaimStatus(StrEnum):
    draft = "draft"  # assembled by lanjie, not yet sent
    filed = "filed"  # sent to the carrier (online) or the packet handed over (offline)
    in_review = "in_review"
    waiting_on_documents = "waiting_on_documents"  # the carrier asked for more
    approved = "approved"
    approved_partial = "approved_partial"
    rejected = "rejected"
    paid = "paid"  # the payout arrived (recorded with its reference and date)
    closed = "closed"


class PayoutRule(StrEnum):
    """How much a carrier owes for a lost or damaged parcel under the shop's contract with it."""

    insured_value = "insured_value"  # 保价: up to the insured amount (Postal Law art. 47)
    capped_actual_loss = "capped_actual_loss"  # uninsured: actual loss, capped (default 3× the freight)
    goods_value = "goods_value"  # the contract promises the goods' value


RETURN_TRANSITIONS: Mapping[ReturnStatus, frozenset[ReturnStatus]] = {
    ReturnStatus.returning: frozenset({ReturnStatus.stalled, ReturnStatus.returned, ReturnStatus.received,
                                       ReturnStatus.lost, ReturnStatus.damaged}),
    ReturnStatus.stalled: frozenset({ReturnStatus.returning, ReturnStatus.returned, ReturnStatus.received,
                                     ReturnStatus.lost, ReturnStatus.damaged}),
    ReturnStatus.returned: frozenset({ReturnStatus.received, ReturnStatus.lost, ReturnStatus.damaged}),
    ReturnStatus.damaged: frozenset({ReturnStatus.returned, ReturnStatus.received}),  # damaged ones still arrive
    ReturnStatus.lost: frozenset({ReturnStatus.returning, ReturnStatus.returned, ReturnStatus.received}),  # found
    ReturnStatus.received: frozenset(),
}

CLAIM_TRANSITIONS: Mapping[ClaimStatus, frozenset[ClaimStatus]] = {
    ClaimStatus.draft: frozenset({ClaimStatus.filed, ClaimStatus.closed}),
    ClaimStatus.filed: frozenset({ClaimStatus.in_review, ClaimStatus.waiting_on_documents, ClaimStatus.approved,
                                  ClaimStatus.approved_partial, ClaimStatus.rejected, ClaimStatus.closed}),
    ClaimStatus.in_review: frozenset({ClaimStatus.waiting_on_documents, ClaimStatus.approved,
                                      ClaimStatus.approved_partial, ClaimStatus.rejected, ClaimStatus.closed}),
    ClaimStatus.waiting_on_documents: frozenset({ClaimStatus.in_review, ClaimStatus.approved,
                                                 ClaimStatus.approved_partial, ClaimStatus.rejected,
                                                 ClaimStatus.closed}),
    ClaimStatus.approved: frozenset({ClaimStatus.paid, ClaimStatus.closed}),
    ClaimStatus.approved_partial: frozenset({ClaimStatus.paid, ClaimStatus.closed}),
    ClaimStatus.rejected: frozenset({ClaimStatus.closed}),
    ClaimStatus.paid: frozenset({ClaimStatus.closed}),
    ClaimStatus.closed: frozenset(),
}
