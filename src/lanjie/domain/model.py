"""Entities of the intercept-to-refund core: AfterSale (the case), Intercept, Refund (the parcel is in
``parcel``, the case's platform side in ``platform``).

Entities are plain Python. They check every state change against the transition tables in
``states`` and record what happened in ``events``; they never call out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lanjie.domain.errors import IllegalTransition, NotFound, RuleViolation
from lanjie.domain.events import Event
from lanjie.domain.parcel import Item, Party, Shipment
from lanjie.domain.platform import PlatformSide
from lanjie.domain.rules import interceptability, refund_due
from lanjie.domain.states import (
    ACTIVE_INTERCEPT_STATUSES,
    CASE_TRANSITIONS,
    INTERCEPT_TRANSITIONS,
    LIVE_REFUND_STATUSES,
    REFUND_TRANSITIONS,
    ArbitrationStatus,
    CaseStatus,
    CaseType,
    ChannelInterceptStatus,
    ClawbackStatus,
    Fallback,
    InterceptReason,
    InterceptStatus,
    InterceptType,
    PlatformStatus,
    RefundStatus,
    Resolution,
    SettlementPolicy,
    advance,
)


@dataclass
class Intercept:
    """One request to stop one parcel and send it back (or redirect it)."""

    id: str
    shop_id: str
    aftersale_id: str
    shipment_id: str
    type: InterceptType
    created_at: datetime
    address: Party | None = None
    status: InterceptStatus = InterceptStatus.requested
    reason: InterceptReason | None = None
    message: str = ""
    task_id: str | None = None
    attempts: int = 0
    submit_started_at: datetime | None = None
    answered_at: datetime | None = None
    outcome_at: datetime | None = None

    def move(self, target: InterceptStatus) -> None:
        self.status = advance("intercept", INTERCEPT_TRANSITIONS, self.status, target)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_INTERCEPT_STATUSES

    @property
    def accepted(self) -> bool:
        """The carrier has taken the request (answer received), whatever happens next."""
        return self.status in (InterceptStatus.submitted, InterceptStatus.cancel_requested,
                               InterceptStatus.succeeded)


@dataclass
class Refund:
    """The refund of a case; its number is fixed before the first downstream call and reused on retry."""

    id: str
    shop_id: str
    aftersale_id: str
    refund_no: str
    amount_fen: int
    created_at: datetime
    status: RefundStatus = RefundStatus.pending
    evidence: dict[str, Any] = field(default_factory=dict)
    clawback: ClawbackStatus | None = None  # set when the refunded parcel was delivered after all

    def move(self, target: RefundStatus) -> None:
        self.status = advance("refund", REFUND_TRANSITIONS, self.status, target)

    @property
    def live(self) -> bool:
        return self.status in LIVE_REFUND_STATUSES


@dataclass
class AfterSale(PlatformSide):
    """An after-sale case (售后单): the buyer's request, its intercepts, its refund."""

    id: str
    shop_id: str
    order_id: str
    type: CaseType
    refund_fen: int
    shipment_ids: list[str]
    settlement_policy: SettlementPolicy
    created_at: datetime
    status: CaseStatus = CaseStatus.open
    reason: str = ""
    channel: str = "rest"
    channel_ref: str | None = None
    resolution: Resolution | None = None
    received_at: datetime | None = None
    # The sales platform's side (channels other than REST): its lock, what the buyer paid, its deadline.
    channel_version: str | None = None  # Douyin update_time, Taobao refund_version
    paid_fen: int | None = None
    deadline_at: datetime | None = None  # status_deadline: the platform acts by itself after it
    platform_status: PlatformStatus | None = None
    platform_intercept: ChannelInterceptStatus | None = None  # what the platform shows of it (Taobao)
    arbitration: ArbitrationStatus = ArbitrationStatus.none
    fallback: Fallback = Fallback.needs_person  # what a refused, failed or missed intercept leads to
    attention: str = ""  # why a person is needed (refused, missed, deadline, clawback, …), "" when not
    version: int = 0
    updated_at: datetime | None = None
    intercepts: list[Intercept] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    events: list[Event] = field(default_factory=list, repr=False, compare=False)

    # ----------------------------------------------------------------- helpers
    def _record(self, type_: str, subject_type: str, subject_id: str, **payload: Any) -> None:
        self.events.append(Event(type_, subject_type, subject_id, {"aftersale_id": self.id, **payload}))

    def _check_move(self, target: CaseStatus) -> None:
        """Raise IllegalTransition unless the case may go to ``target`` now (staying put is no move).

        A command that changes other things first (a refund, an event) calls this before any of them,
        so that a refused command leaves the case exactly as it was.
        """
        if target == self.status:
            return
        advance("aftersale", CASE_TRANSITIONS, self.status, target)
        # A live refund finishes first: the money is already asked for, and only its success or its
        # failure moves the case on (refunding -> needs_attention is the failed refund's edge).
        if target == CaseStatus.needs_attention and self.live_refund is not None:
            raise IllegalTransition("aftersale", self.status, target)

    def _move(self, target: CaseStatus) -> None:
        if target == self.status:
            return
        self._check_move(target)
        previous = self.status
        self.status = target
        if target != CaseStatus.needs_attention and self.attention != "clawback":
            self.attention = ""
        self._record("aftersale.status_changed", "aftersale", self.id, **{"from": previous, "to": target})

    def intercept(self, intercept_id: str) -> Intercept:
        for icpt in self.intercepts:
            if icpt.id == intercept_id:
                return icpt
        # Another case's intercept (perhaps another shop's) is, from this case, one that does not exist.
        raise NotFound("intercept", intercept_id)

    def active_intercept_for(self, shipment_id: str) -> Intercept | None:
        return next((i for i in self.intercepts if i.shipment_id == shipment_id and i.active), None)

    @property
    def live_refund(self) -> Refund | None:
        return next((r for r in self.refunds if r.live), None)

    @property
    def closed(self) -> bool:
        return not CASE_TRANSITIONS[self.status]

    # ----------------------------------------------------------------- opening
    @classmethod
    def open(cls, *, parcel_may_be_unknown: bool = False, **fields: Any) -> AfterSale:
        """Open a new case and record it; a platform's case may arrive before lanjie knows its parcel."""
        case = cls(**fields)
        if case.refund_fen <= 0:
            raise RuleViolation("refund_fen", "refund_fen must be a positive amount of fen")
        parcel_unknown = not case.shipment_ids and case.type == CaseType.refund_only_shipped
        if parcel_unknown and not parcel_may_be_unknown:
            raise RuleViolation("waybill_nos", "a refund-only-after-shipment case needs at least one parcel")
        case._record("aftersale.created", "aftersale", case.id, type=case.type, refund_fen=case.refund_fen,
                     order_id=case.order_id, status=case.status)
        if parcel_unknown:  # a platform's case whose parcel lanjie cannot find: a person links it
            case.needs_person("parcel_unknown")
        return case

    # ----------------------------------------------------------------- intercepts
    def request_intercept(self, *, intercept_id: str, shipment: Shipment, type: InterceptType,
                          now: datetime, address: Party | None = None) -> Intercept:
        """Ask for one parcel of this case to be stopped; refuses what the rules forbid."""
        if self.type != CaseType.refund_only_shipped:
            raise RuleViolation("case_type", f"only refund_only_shipped cases are intercepted, not {self.type}")
        if shipment.id not in self.shipment_ids:
            raise RuleViolation("waybill_no", f"parcel {shipment.waybill_no} is not part of this case")
        if CaseStatus.intercepting not in CASE_TRANSITIONS[self.status] and self.status != CaseStatus.intercepting:
            raise IllegalTransition("aftersale", self.status, CaseStatus.intercepting)
        if self.active_intercept_for(shipment.id) is not None:
            raise RuleViolation("already_intercepted", f"parcel {shipment.waybill_no} already has an intercept")
        # Until the carrier has reported anything (tracking_at unset) the carrier itself decides.
        blocked = interceptability(shipment.tracking_status) if shipment.tracking_at is not None else None
        if blocked is not None:
            raise RuleViolation(blocked, f"parcel {shipment.waybill_no} is {shipment.tracking_status}: "
                                         f"cannot be intercepted ({blocked})")
        if type == InterceptType.redirect and address is None:
            raise RuleViolation("address", "a redirect needs the new address")
        icpt = Intercept(id=intercept_id, shop_id=self.shop_id, aftersale_id=self.id, shipment_id=shipment.id,
                         type=type, address=address, created_at=now)
        self.intercepts.append(icpt)
        self._move(CaseStatus.intercepting)
        self._record("intercept.requested", "intercept", icpt.id, waybill_no=shipment.waybill_no, type=type)
        return icpt

    def intercept_attempt_started(self, intercept_id: str, now: datetime) -> Intercept:
        """Note that a carrier call is about to be made; a crash after this point leaves the outcome unknown."""
        icpt = self.intercept(intercept_id)
        if icpt.status == InterceptStatus.requested and icpt.submit_started_at is not None:
            # A previous attempt may have reached the carrier before its worker died.
            self.intercept_unknown(intercept_id, now, "previous attempt ended without an answer")
        if icpt.status == InterceptStatus.requested:
            icpt.submit_started_at = now
            icpt.attempts += 1
        return icpt

    def intercept_submit_not_sent(self, intercept_id: str) -> None:
        """The carrier certainly did not take the request (refused connection, 5xx): safe to send again."""
        icpt = self.intercept(intercept_id)
        if icpt.status == InterceptStatus.requested:
            icpt.submit_started_at = None

    def intercept_unknown(self, intercept_id: str, now: datetime, message: str) -> None:
        icpt = self.intercept(intercept_id)
        icpt.move(InterceptStatus.unknown)
        icpt.message = message
        self._record("intercept.unknown", "intercept", icpt.id, message=message)

    def intercept_resubmittable(self, intercept_id: str, now: datetime) -> None:
        """The carrier was queried after an unknown outcome and knows nothing: a new request may go."""
        icpt = self.intercept(intercept_id)
        icpt.move(InterceptStatus.requested)
        icpt.submit_started_at = now
        icpt.attempts += 1
        self._record("intercept.resubmitted", "intercept", icpt.id, attempts=icpt.attempts)

    def intercept_acknowledged(self, intercept_id: str, *, task_id: str | None, now: datetime,
                               duplicate: bool = False, fee: dict[str, Any] | None = None,
                               evidence: dict[str, Any] | None = None) -> None:
        """The carrier accepted the request (answer within seconds); ``fee`` is what it said it charges.

        ``evidence`` says how it is known when not from the answer itself (a query after a lost answer)."""
        icpt = self.intercept(intercept_id)
        icpt.move(InterceptStatus.submitted)
        icpt.task_id, icpt.answered_at, icpt.reason, icpt.message = task_id, now, None, ""
        extra = {"fee": fee} if fee else {}
        if evidence:
            extra["evidence"] = evidence
        self._record("intercept.submitted", "intercept", icpt.id, task_id=task_id, duplicate=duplicate, **extra)
        self._settle_if_due(now, trigger="intercept_accepted")

    def intercept_refused(self, intercept_id: str, *, reason: InterceptReason, message: str,
                          now: datetime) -> None:
        """The carrier said no at once."""
        icpt = self.intercept(intercept_id)
        icpt.move(InterceptStatus.refused)
        icpt.reason, icpt.message, icpt.answered_at = reason, message, now
        self._record("intercept.refused", "intercept", icpt.id, reason=reason, message=message)
        self._fall_back_if_stuck("refused")

    def intercept_succeeded(self, intercept_id: str, *, now: datetime, evidence: dict[str, Any]) -> None:
        """The parcel turned back (confirmed by a query of the carrier, not a callback alone)."""
        icpt = self.intercept(intercept_id)
        if icpt.status == InterceptStatus.succeeded:
            return
        icpt.move(InterceptStatus.succeeded)
        icpt.outcome_at = now
        self._record("intercept.succeeded", "intercept", icpt.id, evidence=evidence)
        self._settle_if_due(now, trigger="intercept_succeeded", evidence=evidence)

    def intercept_failed(self, intercept_id: str, *, reason: InterceptReason, message: str,
                         now: datetime) -> None:
        """The accepted intercept did not happen; delivered first means ``missed``."""
        icpt = self.intercept(intercept_id)
        if icpt.status in (InterceptStatus.submitted, InterceptStatus.cancel_requested) and \
                reason == InterceptReason.already_delivered:
            reason = InterceptReason.missed
        icpt.move(InterceptStatus.failed)
        icpt.reason, icpt.message, icpt.outcome_at = reason, message, now
        self._record("intercept.failed", "intercept", icpt.id, reason=reason, message=message)
        if reason == InterceptReason.missed and self.live_refund is not None:
            self._open_clawback(self.live_refund, waybill_intercept=icpt.id)
        self._fall_back_if_stuck("missed" if reason == InterceptReason.missed else "intercept_failed")

    def _open_clawback(self, refund: Refund, *, waybill_intercept: str) -> None:
        # The refund went out on the intercept's word and the parcel was delivered anyway.
        if refund.clawback is not None:
            return
        refund.clawback = ClawbackStatus.open
        self.attention = "clawback"
        self._record("refund.clawback_opened", "refund", refund.id, refund_no=refund.refund_no,
                     amount_fen=refund.amount_fen, intercept_id=waybill_intercept, refund_status=refund.status)

    def resolve_clawback(self, outcome: ClawbackStatus, note: str = "") -> Refund:
        """Close an open clawback: recovered or written off."""
        refund = next((r for r in self.refunds if r.clawback == ClawbackStatus.open), None)
        if refund is None:
            raise RuleViolation("clawback", f"case {self.id} has no open clawback")
        if outcome == ClawbackStatus.open:
            raise RuleViolation("outcome", "a clawback is resolved as recovered or written_off")
        refund.clawback = outcome
        if self.attention == "clawback":
            self.attention = ""
        self._record("refund.clawback_resolved", "refund", refund.id, outcome=outcome, note=note,
                     amount_fen=refund.amount_fen)
        return refund

    def request_intercept_cancel(self, intercept_id: str, now: datetime) -> Intercept:
        """Withdraw an accepted intercept before it took effect (the carrier decides whether it still can)."""
        icpt = self.intercept(intercept_id)
        if icpt.status != InterceptStatus.submitted:
            raise IllegalTransition("intercept", icpt.status, InterceptStatus.cancel_requested)
        icpt.move(InterceptStatus.cancel_requested)
        self._record("intercept.cancel_requested", "intercept", icpt.id, task_id=icpt.task_id)
        return icpt

    def intercept_cancelled(self, intercept_id: str, *, message: str, now: datetime) -> None:
        """The carrier withdrew the intercept: the parcel goes on to the buyer."""
        icpt = self.intercept(intercept_id)
        icpt.move(InterceptStatus.cancelled)
        icpt.message, icpt.outcome_at = message, now
        self._record("intercept.cancelled", "intercept", icpt.id, message=message)
        self._fall_back_if_stuck("cancelled")

    def intercept_cancel_refused(self, intercept_id: str, *, message: str) -> None:
        """Too late to withdraw: the intercept runs on and its outcome still comes (cancel_requested stays)."""
        icpt = self.intercept(intercept_id)
        icpt.message = message
        self._record("intercept.cancel_refused", "intercept", icpt.id, message=message)

    def _fall_back_if_stuck(self, why: str = "intercept_failed") -> None:
        # A parcel without an intercept that may still work: the shop's fallback rule decides.
        if self.status not in (CaseStatus.intercepting, CaseStatus.intercepted):
            return
        if all(self.active_intercept_for(sid) is not None for sid in self.shipment_ids):
            return
        if self.fallback == Fallback.keep_waiting:
            self._record("aftersale.fallback", "aftersale", self.id, fallback=self.fallback, why=why)
        elif self.fallback == Fallback.refund_on_refusal and why != "missed":
            self._move(CaseStatus.awaiting_refusal)
            self._record("aftersale.fallback", "aftersale", self.id, fallback=self.fallback, why=why)
        else:  # a missed intercept means the buyer signed for it: nothing to refuse any more
            self.needs_person(why)

    def needs_person(self, why: str) -> None:
        """Send the case to a person's queue, saying why; refused while a refund is live (it finishes first)."""
        self._move(CaseStatus.needs_attention)
        self.attention = why

    def parcel_refused(self, now: datetime, *, waybill_no: str, tracking_status: str,
                       confirmation: dict[str, Any] | None = None) -> None:
        """Under 拒签后退款 the buyer refused the parcel (or it is on its way back): the refund is due.

        ``confirmation`` is the carrier query that showed it (a push alone never pays)."""
        if self.status != CaseStatus.awaiting_refusal or self.live_refund is not None:
            return
        self.approve_refund(now, resolution=Resolution.refund_on_refusal, evidence={
            "trigger": "parcel_refused", "waybill_no": waybill_no, "tracking_status": tracking_status,
            **({"confirmation": confirmation} if confirmation else {})})

    def parcel_delivered_while_awaiting_refusal(self, *, waybill_no: str) -> None:
        """The buyer signed for the parcel instead of refusing it: a person decides."""
        if self.status == CaseStatus.awaiting_refusal:
            self.needs_person("delivered")
            self._record("aftersale.parcel_delivered", "aftersale", self.id, waybill_no=waybill_no)

    # ----------------------------------------------------------------- settlement
    def mark_received(self, now: datetime) -> None:
        """The warehouse received the returned parcel(s)."""
        if self.received_at is None:
            self.received_at = now
            self._record("aftersale.received", "aftersale", self.id)
        self._settle_if_due(now, trigger="received")

    def _settle_if_due(self, now: datetime, *, trigger: str, evidence: dict[str, Any] | None = None) -> None:
        if self.status not in (CaseStatus.intercepting, CaseStatus.intercepted):
            return
        per_parcel = [self.active_intercept_for(sid) for sid in self.shipment_ids]
        if any(i is None for i in per_parcel):
            return
        accepted = all(i is not None and i.accepted for i in per_parcel)
        turned_back = all(i is not None and i.status == InterceptStatus.succeeded for i in per_parcel)
        if refund_due(self.settlement_policy, accepted=accepted, turned_back=turned_back,
                      received=self.received_at is not None):
            self.approve_refund(now, resolution=Resolution.intercepted_refund,
                                evidence={"trigger": trigger, "policy": self.settlement_policy,
                                          "intercepts": {i.id: i.status for i in per_parcel if i},
                                          "confirmation": evidence or {}})
        elif turned_back:  # on_received: back on its way, the warehouse has yet to confirm
            self._move(CaseStatus.intercepted)

    def approve_refund(self, now: datetime, *, resolution: Resolution, evidence: dict[str, Any]) -> Refund:
        """Decide the refund: one live refund per case, numbered before any downstream call."""
        if self.live_refund is not None:
            raise RuleViolation("refund_exists", f"case {self.id} already has refund {self.live_refund.id}")
        self._move(CaseStatus.refunding)
        n = len(self.refunds) + 1
        refund = Refund(id=f"{self.id}-r{n}", shop_id=self.shop_id, aftersale_id=self.id,
                        refund_no=f"LJ{self.id.removeprefix('as_').upper()}R{n}", amount_fen=self.refund_fen,
                        created_at=now, evidence={**evidence, "resolution": resolution})
        self.refunds.append(refund)
        self.resolution = resolution
        self._record("refund.pending", "refund", refund.id, refund_no=refund.refund_no,
                     amount_fen=refund.amount_fen, evidence=refund.evidence)
        return refund

    def refund(self, refund_id: str) -> Refund:
        for r in self.refunds:
            if r.id == refund_id:
                return r
        raise RuleViolation("unknown_refund", f"refund {refund_id!r} is not part of case {self.id!r}")

    def refund_approved(self, refund_id: str) -> None:
        refund = self.refund(refund_id)
        refund.move(RefundStatus.approved)
        self._record("refund.approved", "refund", refund.id, refund_no=refund.refund_no)

    def refund_succeeded(self, refund_id: str) -> None:
        refund = self.refund(refund_id)
        self._check_move(CaseStatus.completed)  # before the refund moves: all or nothing
        refund.move(RefundStatus.succeeded)
        self._record("refund.succeeded", "refund", refund.id, refund_no=refund.refund_no,
                     amount_fen=refund.amount_fen)
        self._move(CaseStatus.completed)
        self._record("aftersale.settled", "aftersale", self.id, resolution=self.resolution,
                     refund_no=refund.refund_no, amount_fen=refund.amount_fen)

    def refund_failed(self, refund_id: str, message: str) -> None:
        refund = self.refund(refund_id)
        if self.status != CaseStatus.needs_attention:  # before the refund moves: all or nothing
            advance("aftersale", CASE_TRANSITIONS, self.status, CaseStatus.needs_attention)
        refund.move(RefundStatus.failed)
        self._record("refund.failed", "refund", refund.id, message=message)
        self.needs_person("refund_failed")
        self.resolution = None  # undecided again until a person or a rule settles it

    # ----------------------------------------------------------------- closing
    def cancel(self, now: datetime) -> None:
        """The buyer withdrew the request."""
        self._move(CaseStatus.cancelled)
        self.resolution = Resolution.buyer_cancelled

    def reject(self, now: datetime) -> None:
        self._move(CaseStatus.rejected)
        self.resolution = Resolution.rejected


__all__ = ["AfterSale", "Intercept", "Item", "Party", "Refund", "Shipment"]
