"""The sales platform's side of a case, the rules' decisions and a person's decisions on it.

A mixin of ``AfterSale`` (``lanjie.domain.model``): the case's own fields and helpers (``_record``,
``_move``, ``approve_refund`` …) are the aggregate's; these methods keep the case in step with what
its platform says and with what the shop decides outside an intercept.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from lanjie.domain.errors import IllegalTransition
from lanjie.domain.states import (
    CASE_TRANSITIONS,
    ArbitrationStatus,
    CaseStatus,
    CaseType,
    ChannelInterceptStatus,
    Fallback,
    PlatformStatus,
    RefundStatus,
    Resolution,
)

if TYPE_CHECKING:
    from lanjie.domain.model import Refund


class PlatformSide:
    """What ``AfterSale`` does for its sales platform, its rules and the people deciding on it."""

    def rule_decided(self, *, verdict: str, rule: str | None, reason: str, trigger: str,
                     fallback: Fallback | None = None, wait_until: datetime | None = None) -> None:
        """An auto-intercept rule looked at the case; the full evidence is stored beside the event."""
        if fallback is not None:
            self.fallback = fallback
        self._record("aftersale.rule_decided", "aftersale", self.id, verdict=verdict, rule=rule, reason=reason,
                     trigger=trigger, wait_until=wait_until.isoformat() if wait_until else None)

    def deadline_alert(self, deadline_at: datetime) -> None:
        """The platform's deadline is near and nothing settles the case: a person must look now.

        Refused (nothing recorded) on a closed case and while a refund is live: that refund settles it.
        """
        self._check_move(CaseStatus.needs_attention)
        self._record("aftersale.deadline_alert", "aftersale", self.id, deadline_at=deadline_at.isoformat(),
                     status=self.status)
        self.needs_person("deadline")

    def job_dead(self, *, job_id: int, kind: str, attempts: int, error: str, retry: str) -> None:
        """A job working for this case gave up: flag the case for a person without moving its status, so
        the job, retried (``retry`` says how), carries on from where it stopped."""
        self._record("job.dead", "aftersale", self.id, job_id=job_id, kind=kind, attempts=attempts, error=error,
                     retry=retry)
        if not self.attention:  # an earlier reason already puts the case before a person: keep it
            self.attention = "job_dead"

    def job_retried(self, *, job_id: int, kind: str) -> None:
        """A person sent a dead job back to the queue."""
        self._record("job.retried", "aftersale", self.id, job_id=job_id, kind=kind)
        if self.attention == "job_dead":
            self.attention = ""

    # ----------------------------------------------------------------- the platform's side
    def platform_changed(self, *, version: str, status: PlatformStatus, type: CaseType, refund_fen: int,
                         deadline_at: datetime | None, arbitration: ArbitrationStatus,
                         paid_fen: int | None = None,
                         intercept_status: ChannelInterceptStatus | None = None) -> list[str]:
        """Take what the sales platform shows now; answers what changed, for the caller to act on."""
        changed: list[str] = []

        def note(what: str, old: Any, new: Any) -> None:
            changed.append(what)
            self._record(f"aftersale.{what}_changed", "aftersale", self.id, **{
                "from": old.isoformat() if isinstance(old, datetime) else old,
                "to": new.isoformat() if isinstance(new, datetime) else new, "version": version})

        if deadline_at != self.deadline_at:
            note("deadline", self.deadline_at, deadline_at)
            self.deadline_at = deadline_at
        if arbitration != self.arbitration:
            note("arbitration", self.arbitration, arbitration)
            self.arbitration = arbitration
        if type != self.type:  # the buyer changed the request midway (refund-only → return and refund)
            note("type", self.type, type)
            self.type = type
        if refund_fen != self.refund_fen and refund_fen > 0:
            note("amount", self.refund_fen, refund_fen)
            self.refund_fen = refund_fen
        if status != self.platform_status:
            note("platform_status", self.platform_status, status)
            self.platform_status = status
        if intercept_status is not None and intercept_status != self.platform_intercept:
            note("platform_intercept", self.platform_intercept, intercept_status)
            self.platform_intercept = intercept_status
        if paid_fen is not None:
            self.paid_fen = paid_fen
        self.channel_version = version
        return changed

    def platform_call(self, operation: str, *, ok: bool, message: str = "") -> None:
        """A write lanjie made on the platform after its own decision (commitment, return confirmed)."""
        self._record("aftersale.platform_call", "aftersale", self.id, operation=operation, ok=ok, message=message)

    def platform_refunded(self, now: datetime, *, timed_out: bool) -> Refund | None:
        """The platform paid the buyer: lanjie's own refund succeeded, or one is recorded for what it did alone."""
        refund = self.live_refund
        if refund is None:
            if self.closed:  # e.g. rejected, then the arbitration found for the buyer
                self._record("aftersale.refunded_by_platform", "aftersale", self.id, status=self.status)
                return None
            resolution = Resolution.timeout_refund if timed_out else Resolution.refund_without_intercept
            refund = self.approve_refund(now, resolution=resolution, evidence={"trigger": "platform_refunded",
                                                                             "timed_out": timed_out})
            if timed_out:
                self._record("aftersale.timed_out", "aftersale", self.id, deadline_at=(
                    self.deadline_at.isoformat() if self.deadline_at else None))
        if refund.status == RefundStatus.pending:
            self.refund_approved(refund.id)
        if refund.status == RefundStatus.approved:
            self.refund_succeeded(refund.id)
        return refund

    def platform_closed(self, now: datetime) -> None:
        """The request ended on the platform without a refund (the buyer withdrew it, or it lapsed)."""
        if not self.closed and self.live_refund is None:
            self.cancel(now)

    def platform_rejected(self, now: datetime) -> None:
        """The request was refused on the platform (by the merchant in the back office, or by lanjie)."""
        if not self.closed and self.live_refund is None:
            self.reject(now)

    # ----------------------------------------------------------------- a person's decisions
    def refund_by_decision(self, now: datetime, *, note: str) -> Refund:
        """A person (or the merchant's system) agrees the refund now, without waiting on an intercept."""
        return self.approve_refund(now, resolution=Resolution.refund_without_intercept,
                                   evidence={"trigger": "decision", "note": note})

    def agree_refund_on_refusal(self, *, note: str) -> None:
        """A person agrees 拒签后退款: the refund goes once the buyer refuses the parcel."""
        self._move(CaseStatus.awaiting_refusal)
        self._record("aftersale.fallback", "aftersale", self.id, fallback=Fallback.refund_on_refusal,
                     why="decision", note=note)

    def request_reject(self, *, reason_code: str, reason: str) -> None:
        """A person refuses the request; on a platform it is refused there first, then here."""
        if self.closed or self.live_refund is not None:
            raise IllegalTransition("aftersale", self.status, CaseStatus.rejected)
        if CaseStatus.rejected not in CASE_TRANSITIONS[self.status]:
            raise IllegalTransition("aftersale", self.status, CaseStatus.rejected)
        self._record("aftersale.reject_requested", "aftersale", self.id, reason_code=reason_code, reason=reason)
