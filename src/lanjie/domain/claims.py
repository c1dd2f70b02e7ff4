"""Claims (理赔) against a carrier for an intercepted parcel lost, damaged or short on its way back.

A claim starts as a ``draft`` with its evidence already gathered and its amount worked out from the
shop's contract with the carrier; it is filed (online where the carrier has a claim or work-order API,
else as a packet sent by hand), followed through the carrier's review and requests for documents, and
ends paid — the payout recorded with its reference and date — and closed. Like every entity it
records events and never calls out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lanjie.domain.errors import IllegalTransition, RuleViolation
from lanjie.domain.events import Event
from lanjie.domain.states import CLAIM_TRANSITIONS, ClaimStatus, ClaimType, PayoutRule, advance

#: Days after the parcel's loss or damage within which a claim must be filed, unless the contract says
#: otherwise. UPS Capital: 90 days (carrier-protocols §21.2); Chinese carriers publish none: 30 is lanjie's
#: conservative default.
DEFAULT_FILING_DAYS = {"ups": 90}
FALLBACK_FILING_DAYS = 30
#: China Postal Law art. 47: an uninsured parcel is compensated at its actual loss, at most 3× the postage.
POSTAL_LAW_MULTIPLE = 3

_CARRIER_STATUSES = frozenset({ClaimStatus.in_review, ClaimStatus.waiting_on_documents, ClaimStatus.approved,
                               ClaimStatus.approved_partial, ClaimStatus.rejected, ClaimStatus.paid,
                               ClaimStatus.closed})


@dataclass(frozen=True)
class CarrierContract:
    """What the shop's contract with a carrier says about compensation."""

    carrier: str  # plugin name, e.g. sf, or "*" for the shop's default
    rule: PayoutRule = PayoutRule.capped_actual_loss
    cap_multiple: int = POSTAL_LAW_MULTIPLE  # × the freight, for capped_actual_loss
    cap_fen: int | None = None  # an absolute cap the contract sets instead
    filing_days: int | None = None  # None: the carrier's default

    def filing_window(self) -> timedelta:
        return timedelta(days=self.filing_days or DEFAULT_FILING_DAYS.get(self.carrier, FALLBACK_FILING_DAYS))


@dataclass(frozen=True)
class Amount:
    fen: int
    basis: dict[str, Any]  # what the amount was worked out from, for the claim and its packet


def claim_amount(contract: CarrierContract, *, loss_fen: int, insured_fen: int | None, freight_fen: int) -> Amount:
    """What the shop asks for: ``loss_fen`` is the value of what was lost (the goods, or the missing or
    damaged items), the rest comes from the parcel and the contract."""
    if loss_fen <= 0:
        raise RuleViolation("loss_fen", "nothing of value was lost: there is nothing to claim")
    basis: dict[str, Any] = {"rule": contract.rule, "loss_fen": loss_fen, "insured_fen": insured_fen,
                             "freight_fen": freight_fen}
    if insured_fen:  # insured: up to the insured amount, whatever the contract's rule for uninsured parcels
        return Amount(min(loss_fen, insured_fen), {**basis, "rule": PayoutRule.insured_value,
                                                   "explained": "insured: the loss, up to the insured value"})
    if contract.rule == PayoutRule.goods_value:
        return Amount(loss_fen, {**basis, "explained": "the contract promises the goods' value"})
    if contract.cap_fen is not None:
        cap, capped_by = contract.cap_fen, "the contract's cap"
    else:
        cap, capped_by = contract.cap_multiple * freight_fen, f"{contract.cap_multiple}× the freight"
    return Amount(min(loss_fen, cap), {**basis, "rule": PayoutRule.capped_actual_loss, "cap_fen": cap,
                                       "explained": f"uninsured: the actual loss, capped at {capped_by}"})


@dataclass
class Claim:
    """One claim against the carrier for one parcel."""

    id: str
    shop_id: str
    aftersale_id: str
    return_id: str
    shipment_id: str
    carrier: str  # plugin:courier of the parcel
    waybill_no: str
    type: ClaimType
    amount_fen: int
    basis: dict[str, Any]
    filing_deadline_at: datetime
    created_at: datetime
    evidence: dict[str, Any] = field(default_factory=dict)  # what the claim rests on, gathered at drafting
    status: ClaimStatus = ClaimStatus.draft
    filed_via: str = ""  # online (the carrier's API) | packet (sent by hand)
    carrier_ref: str = ""  # the carrier's claim or work-order number
    filed_at: datetime | None = None
    approved_fen: int | None = None
    paid_fen: int = 0
    payouts: list[dict[str, Any]] = field(default_factory=list)  # {amount_fen, reference, paid_at}
    documents_requested: list[str] = field(default_factory=list)
    message: str = ""  # the carrier's last word
    events: list[Event] = field(default_factory=list, repr=False, compare=False)

    def _record(self, type_: str, **payload: Any) -> None:
        self.events.append(Event(type_, "claim", self.id, {"aftersale_id": self.aftersale_id,
                                                             "waybill_no": self.waybill_no, **payload}))

    def _move(self, target: ClaimStatus, **payload: Any) -> None:
        if target == self.status:
            return
        previous = self.status
        self.status = advance("claim", CLAIM_TRANSITIONS, self.status, target)
        self._record(f"claim.{target}", **{"from": previous, **payload})

    @classmethod
    def draft(cls, **fields: Any) -> Claim:
        """A new claim, its amount and evidence already worked out."""
        claim = cls(**fields)
        claim._record("claim.drafted", type=claim.type, amount_fen=claim.amount_fen, basis=claim.basis,
                      filing_deadline_at=claim.filing_deadline_at.isoformat())
        return claim

    def overdue(self, now: datetime) -> bool:
        """Not filed and past the carrier's filing window."""
        return self.status == ClaimStatus.draft and now > self.filing_deadline_at

    def file(self, now: datetime, *, via: str, carrier_ref: str = "", message: str = "") -> None:
        """Sent: to the carrier's API (``online``), or the packet handed over by hand (``packet``)."""
        if via not in ("online", "packet"):
            raise RuleViolation("via", "a claim is filed online or as a packet")
        self._move(ClaimStatus.filed, via=via, carrier_ref=carrier_ref)  # first: a refused move changes nothing
        self.filed_via, self.carrier_ref, self.filed_at, self.message = via, carrier_ref, now, message

    def filing_refused(self, message: str) -> None:
        """The carrier's API did not take the filing: the draft stays, with the carrier's reason."""
        self.message = message
        self._record("claim.filing_refused", message=message)

    def carrier_said(self, status: ClaimStatus, *, approved_fen: int | None = None, message: str = "",
                     documents: list[str] | None = None) -> bool:
        """The carrier's review moved (from its API, a callback, or a person typing what it said); a status
        the claim has passed already is ignored (answers False)."""
        if status not in _CARRIER_STATUSES:
            raise RuleViolation("status", f"{status} is not something the carrier says")
        if status != self.status and status not in CLAIM_TRANSITIONS[self.status]:
            return False
        if status in (ClaimStatus.approved, ClaimStatus.approved_partial):
            if approved_fen is None or approved_fen <= 0:
                raise RuleViolation("approved_fen", "an approval says how much")
            if status == ClaimStatus.approved_partial and approved_fen >= self.amount_fen:
                status = ClaimStatus.approved
                if status != self.status and status not in CLAIM_TRANSITIONS[self.status]:
                    return False  # a partial approval revised to the full amount after the fact: already decided
            self.approved_fen = approved_fen
        if status == ClaimStatus.waiting_on_documents:
            self.documents_requested = list(documents or [])
        self.message = message or self.message
        changed = status != self.status
        self._move(status, approved_fen=self.approved_fen, message=message,
                   documents=list(documents or []))
        return changed

    def documents_sent(self, now: datetime, file_ids: list[str]) -> None:
        """The documents the carrier asked for went out; its review goes on."""
        if self.status != ClaimStatus.waiting_on_documents:
            raise IllegalTransition("claim", self.status, ClaimStatus.in_review)
        self.documents_requested = []
        self._move(ClaimStatus.in_review, files=file_ids, at=now.isoformat())

    def add_evidence(self, now: datetime, file_ids: list[str], note: str = "") -> list[str]:
        """Photos or documents a person adds (at any time before the claim is closed); a file the claim has
        already is not added again. Answers the ids added."""
        if self.status == ClaimStatus.closed:
            raise RuleViolation("claim_closed", f"claim {self.id} is closed")
        known = {f["file_id"] for f in self.evidence.get("files", [])}
        added = [f for f in dict.fromkeys(file_ids) if f not in known]
        if added:
            entries = [{"file_id": f, "added_at": now.isoformat(), "note": note} for f in added]
            self.evidence = {**self.evidence, "files": [*self.evidence.get("files", []), *entries]}
            self._record("claim.evidence_added", files=added, note=note)
        return added

    def payout(self, *, amount_fen: int, reference: str, paid_at: datetime) -> None:
        """Money arrived (offline: bank transfer, account credit): recorded with its reference and date."""
        if self.status not in (ClaimStatus.approved, ClaimStatus.approved_partial, ClaimStatus.paid):
            raise IllegalTransition("claim", self.status, ClaimStatus.paid)
        if amount_fen <= 0:
            raise RuleViolation("amount_fen", "a payout is a positive amount of fen")
        if any(p["reference"] == reference for p in self.payouts):
            raise RuleViolation("reference", f"payout {reference} is recorded already")
        self.payouts.append({"amount_fen": amount_fen, "reference": reference, "paid_at": paid_at.isoformat()})
        self.paid_fen += amount_fen
        self._record("claim.payout_recorded", amount_fen=amount_fen, reference=reference,
                     paid_at=paid_at.isoformat(), paid_fen=self.paid_fen)
        self._move(ClaimStatus.paid, paid_fen=self.paid_fen)

    def close(self, *, note: str = "") -> None:
        self._move(ClaimStatus.closed, note=note, paid_fen=self.paid_fen)
