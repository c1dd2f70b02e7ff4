"""UPS claims as the sandbox plays them: an EasyPost-style claim model under UPS's API conventions.

UPS publishes claim rules, not a claims API (reference §21.2); the model is EasyPost's Claims API (§21.2:
``POST /v2/claims``, types damage | loss | theft, Base64 attachments, statuses submitted → in_review →
approved | approved_partial | rejected | cancelled). Every detail below is a **sandbox choice**:

* ``POST /api/claims/v2/claims`` and ``GET /api/claims/v2/claims/{id}``, with the OAuth bearer token, ``transId``
  (3–14 of ``[A-Za-z0-9.-]``) and ``transactionSrc`` as every UPS call.
* Body fields: ``tracking_code`` (``1Z`` + 16), ``type``, ``amount`` (dollars, at most two decimals, > 0),
  ``description``, optional ``contact_email``, ``recipient_name``, ``reference`` (the filer's id, ≤ 64),
  ``invoice_attachments``, ``supporting_documentation_attachments``, ``email_evidence_attachments`` (arrays
  of Base64 strings); nothing else. A damage or theft claim needs a supporting document (EasyPost's rule).
  Invoices are the proof of value; supporting documents are the photos.
* Answers: the claim (201 when filed, 200 for a repeat with the same ``reference`` and for GET) as
  ``{id: "clm_…", object: "Claim", mode, tracking_code, type, status, status_detail, status_timestamp,
  requested_amount, approved_amount, requested_documents[], reference, history[{status, status_detail,
  timestamp}], created_at, updated_at}``; statuses EasyPost's plus AfterShip's waiting_on_documents and
  paid. Errors in UPS's envelope: 400/710 validation, 400/730 tracking number not found (or not UPS),
  409/732 another claim of this type is open for the package, 404/733 no such claim (or another client's),
  401/250002 a refused token, 429/10429 rate limited.
* The adjudicator (``lanjie.sandbox.claims``) decides; UPS pushes nothing, so clients poll the GET.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lanjie.sandbox.claims import ClaimKind, Evidence, FiledClaim, Filing
from lanjie.sandbox.serving import WireAnswer, WireRequest
from lanjie.sandbox.ups import wire

if TYPE_CHECKING:
    from lanjie.sandbox.ups.twin import UPSTwin

PROTOCOL = "ups"
CURRENCY = "USD"
TYPES = {"damage": ClaimKind.damage, "loss": ClaimKind.loss, "theft": ClaimKind.theft}
NEEDS_SUPPORTING = frozenset({"damage", "theft"})
FIELDS = frozenset({"tracking_code", "type", "amount", "description", "contact_email", "recipient_name",
                    "reference", "invoice_attachments", "supporting_documentation_attachments",
                    "email_evidence_attachments"})
ATTACHMENTS = ("invoice_attachments", "supporting_documentation_attachments", "email_evidence_attachments")
AMOUNT = re.compile(r"\d{1,9}(?:\.\d{1,2})?")
DOCUMENTS = {"photo": "photos of the damage, the packaging and the label", "proof_of_value": "proof of value "
             "(invoice or order)", "statement": "a written statement of what happened"}
VALIDATION, NOT_FOUND_TN, OPEN_CLAIM, NO_CLAIM = "710", "730", "732", "733"


class Invalid(ValueError):
    """The request body breaks a rule; the message names the field."""


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(trans_id: str, status: int, code: str, message: str, waybill_no: str = "") -> WireAnswer:
    body = {"response": {"transactionId": trans_id, "statusCode": str(status),
                         "errors": [{"code": code, "message": message}]}}
    return WireAnswer(body, code, message, status=status, waybill_no=waybill_no)


def _attachments(body: Mapping[str, Any], name: str) -> int:
    items = body.get(name)
    if items is None:
        return 0
    if not isinstance(items, list):
        raise Invalid(f"{name}: must be an array of Base64 strings")
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise Invalid(f"{name}[{index}]: must be a Base64 string")
        try:
            base64.b64decode(item, validate=True)
        except (binascii.Error, ValueError):
            raise Invalid(f"{name}[{index}]: not Base64") from None
    return len(items)


def _optional_text(body: Mapping[str, Any], name: str, limit: int) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise Invalid(f"{name}: must be a string of at most {limit} characters")
    return value


def check(body: Mapping[str, Any]) -> tuple[str, str, int, str, frozenset[Evidence]]:
    """tracking number, type, cents asked, reference and evidence of a valid claim body; Invalid otherwise."""
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise Invalid(f"{unknown[0]}: not a claim field")
    tracking_code = body.get("tracking_code")
    if not isinstance(tracking_code, str) or not wire.TRACKING_NUMBER.fullmatch(tracking_code):
        raise Invalid("tracking_code: must match ^(1Z)[A-Z0-9]{16}$")
    kind = body.get("type")
    if kind not in TYPES:
        raise Invalid("type: must be damage, loss or theft")
    amount = body.get("amount")
    if not isinstance(amount, str) or not AMOUNT.fullmatch(amount) or Decimal(amount) <= 0:
        raise Invalid("amount: dollars as a string with at most two decimals, above 0")
    description = body.get("description")
    if not isinstance(description, str) or not description.strip() or len(description) > 2000:
        raise Invalid("description: required, at most 2000 characters")
    _optional_text(body, "contact_email", 254)
    _optional_text(body, "recipient_name", 100)
    reference = _optional_text(body, "reference", 64)
    invoices, supporting = (_attachments(body, name) for name in ATTACHMENTS[:2])
    _attachments(body, ATTACHMENTS[2])
    if kind in NEEDS_SUPPORTING and not supporting:
        raise Invalid(f"supporting_documentation_attachments: a {kind} claim needs at least one")
    evidence = {Evidence.proof_of_value} if invoices else set()
    if supporting:
        evidence.add(Evidence.photo)
    return tracking_code, str(kind), int(Decimal(amount) * 100), reference, frozenset(evidence)


class UPSClaims:
    """The claims desk of the UPS twin."""

    def __init__(self, twin: UPSTwin) -> None:
        self.twin = twin
        self.world = twin.world
        self.owners: dict[str, str] = {}  # claim id → the client id that filed it
        self.types: dict[str, str] = {}  # claim id → the type as filed (short parcels arrive as damage)

    def _client(self, request: WireRequest) -> tuple[str, str] | WireAnswer:
        """The calling client and transId, or the answer refusing the call."""
        trans_id = request.headers.get("transid", "")
        account = self.twin.oauth.bearer(request)
        if account is None:
            return _error(trans_id, 401, wire.ErrorCode.invalid_token.value, "Invalid Authentication Information.")
        if not wire.TRANS_ID.fullmatch(trans_id):
            return _error(trans_id, 400, VALIDATION, "transId: required, 3-14 of [A-Za-z0-9.-]")
        if not wire.TRANSACTION_SRC.fullmatch(request.headers.get("transactionsrc", "")):
            return _error(trans_id, 400, VALIDATION, "transactionSrc: required")
        return account.client_id, trans_id

    def create(self, request: WireRequest) -> WireAnswer:
        """``POST /api/claims/v2/claims``."""
        caller = self._client(request)
        if isinstance(caller, WireAnswer):
            return caller
        client_id, trans_id = caller
        try:
            if not request.headers.get("content-type", "").startswith("application/json"):
                raise Invalid("Content-Type: must be application/json")
            try:
                body = request.json()
            except ValueError:
                raise Invalid("body: not valid JSON") from None
            if not isinstance(body, dict):
                raise Invalid("body: must be a JSON object")
            tracking_no, kind, cents, reference, evidence = check(body)
        except Invalid as exc:
            return _error(trans_id, 400, VALIDATION, str(exc))
        parcel = self.world.parcels.get(tracking_no)
        if parcel is None or parcel.carrier_code != PROTOCOL:
            return _error(trans_id, 400, NOT_FOUND_TN, "Tracking number not found", tracking_no)
        claim, filing = self.world.claims.file(
            protocol=PROTOCOL, waybill_no=tracking_no, kind=TYPES[kind], asked_minor=cents, currency=CURRENCY,
            evidence=evidence, reference=reference, make_id=lambda n: f"clm_{n:032x}")
        assert claim is not None  # the parcel exists
        if filing is Filing.duplicate:
            if reference and claim.reference == reference and self.owners.get(claim.claim_id) == client_id:
                return WireAnswer(self.view(claim), "200", "repeat", waybill_no=tracking_no)
            return _error(trans_id, 409, OPEN_CLAIM, f"Claim {claim.claim_id} of this type is open for the package",
                          tracking_no)
        self.owners[claim.claim_id], self.types[claim.claim_id] = client_id, kind
        return WireAnswer(self.view(claim), "201", "filed", status=201, waybill_no=tracking_no)

    def get(self, request: WireRequest) -> WireAnswer:
        """``GET /api/claims/v2/claims/{id}``."""
        caller = self._client(request)
        if isinstance(caller, WireAnswer):
            return caller
        client_id, trans_id = caller
        claim_id = request.path.get("claim_id", "")
        claim = self.world.claims.find(PROTOCOL, claim_id)
        if claim is None or self.owners.get(claim_id) != client_id:
            return _error(trans_id, 404, NO_CLAIM, "Claim not found")
        return WireAnswer(self.view(claim), "200", str(claim.status), waybill_no=claim.waybill_no)

    def view(self, claim: FiledClaim) -> dict[str, Any]:
        """The claim as UPS answers it."""
        granted = claim.paid_minor if claim.paid_minor else claim.approved_minor
        updated = claim.status_at or claim.filed_at
        return {
            "id": claim.claim_id, "object": "Claim", "mode": "production", "tracking_code": claim.waybill_no,
            "type": self.types.get(claim.claim_id, str(claim.kind)), "status": str(claim.status),
            "status_detail": claim.history[-1][2] if claim.history else "", "status_timestamp": _iso(updated),
            "requested_amount": wire.money(claim.asked_minor),
            "approved_amount": wire.money(granted) if granted is not None else None,
            "requested_documents": [DOCUMENTS.get(d, d) for d in claim.documents_requested],
            "reference": claim.reference or None,
            "history": [{"status": str(step), "status_detail": detail, "timestamp": _iso(at)}
                        for at, step, detail in claim.history],
            "created_at": _iso(claim.filed_at), "updated_at": _iso(updated),
        }
