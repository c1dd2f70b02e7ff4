"""The claims adjudicator: the carrier's claims department, shared by every twin that takes claims.

A twin (Kuaidi100's work orders, UPS's claims) reads a filing in its own protocol and hands it here;
the adjudicator decides on the sim clock and tells the twin of each step, which reports it its own
way (a callback, or nothing until asked). It follows carrier-protocols §22.6:

- **Lifecycle**: submitted → in_review (after ``review_seconds``) → maybe waiting_on_documents → approved |
  approved_partial | rejected (``decision_seconds`` after review, or after the documents came) → paid
  (``payout_seconds`` after an approval). Documents asked for and not supplied within
  ``documents_timeout_seconds`` reject the claim.
- **Validation**, at the decision: the parcel's state fits the claim (a loss claim needs a lost parcel or
  an exception; damage and missing items a damaged, exception, delivered or returned one: "received
  damaged"); the claim was filed within the protocol's filing window after the parcel's last scan;
  evidence by type (loss: proof of value; damage and missing items: photos and proof of value), and
  what is missing is asked for first (waiting_on_documents), not rejected out of hand.
- **Payout caps**: in CNY, an insured parcel up to its insured value, else 3× the freight (Postal Law art.
  47); in USD, up to the declared value (at most $50,000), else $100. What the claim asks is capped; a
  cap below the ask makes the approval partial.
- **Randomness** is seeded (``SandboxConfig.seed``): approve, approve partly (a random share), reject, ask for
  documents. The control API forces the next outcome for a waybill instead, with an amount or the
  documents to ask for, and supplies documents asked for.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from lanjie.domain.states import TrackingStatus

if TYPE_CHECKING:
    from lanjie.sandbox.world import SandboxWorld

S = TrackingStatus


class ClaimKind(StrEnum):
    loss = "loss"
    damage = "damage"
    short = "short"  # missing items
    theft = "theft"  # EasyPost's type: stolen, in transit or after delivery


class Evidence(StrEnum):
    photo = "photo"  # of the damage, the packaging, the label
    proof_of_value = "proof_of_value"  # the order, an invoice


class ClaimStep(StrEnum):
    submitted = "submitted"
    in_review = "in_review"
    waiting_on_documents = "waiting_on_documents"
    approved = "approved"
    approved_partial = "approved_partial"
    rejected = "rejected"
    paid = "paid"


class Outcome(StrEnum):
    """What the control API can force for a waybill's next (or open) claim."""

    approved = "approved"
    approved_partial = "approved_partial"
    rejected = "rejected"
    waiting_on_documents = "waiting_on_documents"


class RejectReason(StrEnum):
    not_eligible = "not_eligible"  # the parcel's state does not fit the claim
    filing_window = "filing_window"  # filed too late
    documents_missing = "documents_missing"  # asked for, never supplied
    adjudicated = "adjudicated"  # the reviewer said no (the seeded draw)
    forced = "forced"  # the control API said so


class Filing(StrEnum):
    filed = "filed"
    duplicate = "duplicate"  # a claim of this kind for the waybill exists and is not rejected
    unknown_waybill = "unknown_waybill"


REQUIRED_EVIDENCE: dict[ClaimKind, frozenset[Evidence]] = {
    ClaimKind.loss: frozenset({Evidence.proof_of_value}),
    ClaimKind.theft: frozenset({Evidence.proof_of_value}),
    ClaimKind.damage: frozenset({Evidence.photo, Evidence.proof_of_value}),
    ClaimKind.short: frozenset({Evidence.photo, Evidence.proof_of_value}),
}
ELIGIBLE: dict[ClaimKind, frozenset[TrackingStatus]] = {
    ClaimKind.loss: frozenset({S.lost, S.exception}),
    ClaimKind.theft: frozenset({S.lost, S.exception, S.delivered, S.returned}),
    ClaimKind.damage: frozenset({S.damaged, S.exception, S.delivered, S.returned}),
    ClaimKind.short: frozenset({S.damaged, S.delivered, S.returned}),
}
STATEMENT = "statement"  # what a reviewer asks for beyond the evidence: a written account
US_UNDECLARED_CAP = 100_00  # $100 without a declared value
US_DECLARED_MAX = 50_000_00  # UPS: declared value up to $50,000
POSTAL_LAW_MULTIPLE = 3
_OPEN = frozenset({ClaimStep.submitted, ClaimStep.in_review, ClaimStep.waiting_on_documents})


@dataclass(frozen=True)
class Forced:
    outcome: Outcome
    approved_minor: int | None = None
    documents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Terms:
    """What the carrier knows of a parcel's value: its freight and its insured (declared) value, minor units."""

    freight_minor: int
    insured_minor: int = 0


@dataclass
class FiledClaim:
    """One claim as the carrier holds it."""

    number: int
    claim_id: str  # the protocol's own id (Kuaidi100's work-order id, UPS's clm_…)
    protocol: str  # the twin that took it
    waybill_no: str
    kind: ClaimKind
    asked_minor: int
    currency: str  # CNY or USD: which payout law applies
    evidence: frozenset[Evidence]
    filed_at: datetime
    reference: str = ""  # the filer's own id, when its protocol carries one
    status: ClaimStep = ClaimStep.submitted
    status_at: datetime | None = None
    approved_minor: int | None = None
    paid_minor: int = 0
    reason: RejectReason | None = None
    documents_requested: list[str] = field(default_factory=list)
    history: list[tuple[datetime, ClaimStep, str]] = field(default_factory=list)
    forced: Forced | None = None
    version: int = 0  # bumped to cancel the scheduled next step
    report: Callable[[FiledClaim], None] | None = field(default=None, repr=False, compare=False)

    @property
    def open(self) -> bool:
        return self.status in _OPEN


class ClaimsAdjudicator:
    """Claims by waybill, decided on the world's clock."""

    def __init__(self, world: SandboxWorld) -> None:
        self.world = world
        self.settings = world.config.claims
        self.rng = random.Random(f"claims-{world.config.seed}")  # apart from the world's, so claims replay alike
        self.claims: list[FiledClaim] = []
        self.terms: dict[str, Terms] = {}
        self._forced: dict[str, Forced] = {}  # for a waybill's next claim
        self._numbers = itertools.count(1)

    # ---- filing -----------------------------------------------------------------------------------

    def file(self, *, protocol: str, waybill_no: str, kind: ClaimKind, asked_minor: int, currency: str,
             evidence: frozenset[Evidence], make_id: Callable[[int], str], reference: str = "",
             report: Callable[[FiledClaim], None] | None = None) -> tuple[FiledClaim | None, Filing]:
        """Take a claim (or name the one already held for the waybill and kind); review starts later."""
        if waybill_no not in self.world.parcels:
            return None, Filing.unknown_waybill
        held = next((c for c in reversed(self.claims) if c.protocol == protocol and c.waybill_no == waybill_no
                     and c.kind is kind and c.status is not ClaimStep.rejected), None)
        if held is not None:
            return held, Filing.duplicate
        number = next(self._numbers)
        now = self.world.clock.now()
        claim = FiledClaim(number, make_id(number), protocol, waybill_no, kind, asked_minor, currency, evidence,
                           now, reference, forced=self._forced.pop(waybill_no, None), report=report)
        self.claims.append(claim)
        self._move(claim, ClaimStep.submitted, "claim received")
        self._after(claim, self.settings.review_seconds, self._review)
        return claim, Filing.filed

    def find(self, protocol: str, claim_id: str) -> FiledClaim | None:
        return next((c for c in self.claims if c.protocol == protocol and c.claim_id == claim_id), None)

    # ---- control ----------------------------------------------------------------------------------

    def set_terms(self, waybill_no: str, terms: Terms) -> None:
        self.world.parcel(waybill_no)  # 404 for an unknown waybill
        self.terms[waybill_no] = terms

    def force(self, waybill_no: str, forced: Forced) -> FiledClaim | None:
        """Impose the next outcome on the waybill's open claim, or remember it for its next claim."""
        self.world.parcel(waybill_no)
        claim = next((c for c in reversed(self.claims) if c.waybill_no == waybill_no and c.open), None)
        if claim is None:
            self._forced[waybill_no] = forced
        else:
            claim.forced = forced
        return claim

    def supply_documents(self, waybill_no: str) -> FiledClaim | None:
        """The documents the carrier asked for arrived: review goes on. None when no claim waits for any."""
        claim = next((c for c in reversed(self.claims) if c.waybill_no == waybill_no
                      and c.status is ClaimStep.waiting_on_documents), None)
        if claim is None:
            return None
        claim.evidence = claim.evidence | REQUIRED_EVIDENCE[claim.kind]
        claim.documents_requested = []
        self._move(claim, ClaimStep.in_review, "documents received")
        self._after(claim, self.settings.decision_seconds, self._decide)
        return claim

    # ---- the steps --------------------------------------------------------------------------------

    def _after(self, claim: FiledClaim, seconds: float, step: Callable[[FiledClaim], None]) -> None:
        claim.version += 1
        version = claim.version
        at = self.world.clock.now() + timedelta(seconds=seconds)
        self.world.schedule(at, lambda _at: step(claim) if claim.version == version else None)

    def _move(self, claim: FiledClaim, status: ClaimStep, detail: str) -> None:
        now = self.world.clock.now()
        claim.status, claim.status_at = status, now
        claim.history.append((now, status, detail))
        if claim.report is not None:
            claim.report(claim)

    def _review(self, claim: FiledClaim) -> None:
        self._move(claim, ClaimStep.in_review, "under review")
        missing = sorted(REQUIRED_EVIDENCE[claim.kind] - claim.evidence)
        forced = self._take_documents(claim)
        if forced is not None:
            self._ask(claim, list(forced))
        elif missing and claim.forced is None:  # a forced decision needs no evidence
            self._ask(claim, list(missing))
        elif claim.forced is None and self.rng.random() < self.settings.documents_rate:
            self._ask(claim, [STATEMENT])
        else:
            self._after(claim, self.settings.decision_seconds, self._decide)

    def _take_documents(self, claim: FiledClaim) -> tuple[str, ...] | None:
        forced = claim.forced
        if forced is None or forced.outcome is not Outcome.waiting_on_documents:
            return None
        claim.forced = None
        return forced.documents or (STATEMENT,)

    def _ask(self, claim: FiledClaim, documents: list[str]) -> None:
        claim.documents_requested = documents
        self._move(claim, ClaimStep.waiting_on_documents, "documents requested: " + ", ".join(documents))
        self._after(claim, self.settings.documents_timeout_seconds, self._documents_timed_out)

    def _documents_timed_out(self, claim: FiledClaim) -> None:
        if claim.forced is not None:
            self._decide(claim)
        else:
            self._reject(claim, RejectReason.documents_missing, "the documents asked for never came")

    def _decide(self, claim: FiledClaim) -> None:
        documents = self._take_documents(claim)
        if documents is not None:
            self._ask(claim, list(documents))
            return
        full = min(claim.asked_minor, self.cap(claim))
        forced, claim.forced = claim.forced, None
        if forced is not None:
            if forced.outcome is Outcome.rejected:
                self._reject(claim, RejectReason.forced, "rejected (forced)")
            elif forced.outcome is Outcome.approved:
                amount = forced.approved_minor if forced.approved_minor is not None else full
                self._approve(claim, amount, partial=amount < claim.asked_minor and forced.approved_minor is None)
            else:
                amount = forced.approved_minor if forced.approved_minor is not None else max(1, full // 2)
                self._approve(claim, amount, partial=True)
            return
        reason = self._invalid(claim)
        if reason is not None:
            self._reject(claim, *reason)
            return
        draw = self.rng.random()
        if draw < self.settings.approve_rate:
            self._approve(claim, full, partial=full < claim.asked_minor)
        elif draw < self.settings.approve_rate + self.settings.partial_rate:
            low, high = self.settings.partial_share
            self._approve(claim, max(1, round(full * self.rng.uniform(low, high))), partial=True)
        else:
            self._reject(claim, RejectReason.adjudicated, "rejected after review")

    def _invalid(self, claim: FiledClaim) -> tuple[RejectReason, str] | None:
        parcel = self.world.parcel(claim.waybill_no)
        if parcel.status not in ELIGIBLE[claim.kind]:
            return RejectReason.not_eligible, f"the parcel is {parcel.status}: no {claim.kind} to compensate"
        days = self.settings.filing_days.get(claim.protocol)
        if days is not None and claim.filed_at - parcel.last_scan.at > timedelta(days=days):
            return RejectReason.filing_window, f"filed more than {days:g} days after the parcel's last scan"
        return None

    def cap(self, claim: FiledClaim) -> int:
        """The most the carrier owes for the parcel (minor units), whatever was asked."""
        terms = self.terms.get(claim.waybill_no) or Terms(self.settings.default_freight_minor)
        if claim.currency == "USD":
            return min(terms.insured_minor, US_DECLARED_MAX) if terms.insured_minor else US_UNDECLARED_CAP
        return terms.insured_minor or POSTAL_LAW_MULTIPLE * terms.freight_minor

    def _approve(self, claim: FiledClaim, amount: int, *, partial: bool) -> None:
        claim.approved_minor = amount
        status = ClaimStep.approved_partial if partial else ClaimStep.approved
        self._move(claim, status, f"approved {amount} of {claim.asked_minor}")
        self._after(claim, self.settings.payout_seconds, self._pay)

    def _pay(self, claim: FiledClaim) -> None:
        claim.paid_minor = claim.approved_minor or 0
        self._move(claim, ClaimStep.paid, f"paid {claim.paid_minor}")

    def _reject(self, claim: FiledClaim, reason: RejectReason, detail: str) -> None:
        claim.reason = reason
        claim.documents_requested = []
        self._move(claim, ClaimStep.rejected, detail)
