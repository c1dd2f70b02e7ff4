"""UPS claims on the wire, modelled on EasyPost's Claims API: request body, answers, statuses. Pure functions.

UPS publishes no claims API in the reference (§21.2): it publishes the rules (liability, filing window,
documents). The wire is EasyPost's claim model (``docs.easypost.com/docs/insurance/claims``) served under
UPS's API conventions, all of it a *sandbox choice* shared with ``lanjie.sandbox.ups.claims``:

- ``POST {api}/api/claims/v2/claims`` with an OAuth bearer token and the headers ``transId`` and
  ``transactionSrc`` (as every UPS call), JSON body ``{tracking_code, type, amount, description,
  contact_email, recipient_name, reference, invoice_attachments[], supporting_documentation_attachments[]}``:
  ``type`` damage | loss | theft, ``amount`` dollars with two decimals (``"84.50"``), attachments Base64
  strings, ``reference`` lanjie's claim id (a repeat with the same reference answers the same claim).
- ``GET {api}/api/claims/v2/claims/{id}`` answers the claim; so does a successful POST (200 or 201):
  ``{id: "clm_…", object: "Claim", tracking_code, type, status, status_detail, status_timestamp,
  requested_amount, approved_amount, requested_documents[], reference, history[{status, status_detail,
  timestamp}], created_at, updated_at}``.
- Statuses: EasyPost's submitted, in_review, approved, approved_partial, rejected, cancelled, plus
  AfterShip's waiting_on_documents and paid (``STATUSES``).
- Errors in UPS's envelope ``{"response": {"errors": [{code, message}]}}``: 400/710 validation (a damage or
  theft claim without a supporting document among them, as EasyPost requires), 400/730 tracking number
  unknown, 409/732 another claim of this type is open for the package, 404/733 no such claim; 401, 403,
  429 as for every UPS call.
- A short parcel (missing contents) is filed as ``damage``: EasyPost has no type for it, and its evidence
  is the same (photos of the opened parcel, proof of value).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from typing import Any, NoReturn

from lanjie.carriers.base import ClaimAck, ClaimRequest, ClaimState
from lanjie.carriers.errors import CarrierRejected, CarrierUnavailable
from lanjie.domain.states import ClaimStatus, ClaimType, InterceptReason

from . import codes, wire

log = logging.getLogger(__name__)

CLAIMS_PATH = "/api/claims/v2/claims"
CURRENCY = "USD"

#: lanjie's claim type → EasyPost's ``type``.
CLAIM_TYPES: Mapping[ClaimType, str] = {
    ClaimType.damage: "damage",
    ClaimType.loss: "loss",
    ClaimType.short: "damage",  # missing contents: the parcel arrived, opened or short
}

#: EasyPost's ``status`` (and AfterShip's waiting_on_documents, paid) onto lanjie's ClaimStatus.
#: "submitted" is reported as in_review: lanjie's own ``filed`` already says it was sent.
STATUSES: Mapping[str, ClaimStatus] = {
    "submitted": ClaimStatus.in_review,
    "in_review": ClaimStatus.in_review,
    "waiting_on_documents": ClaimStatus.waiting_on_documents,
    "approved": ClaimStatus.approved,
    "approved_partial": ClaimStatus.approved_partial,
    "rejected": ClaimStatus.rejected,
    "paid": ClaimStatus.paid,
    "cancelled": ClaimStatus.closed,
}
UNKNOWN_STATUS = ClaimStatus.in_review  # says nothing decisive; logged

#: Error codes that refuse the claim rather than the request: ClaimAck(accepted=False).
CLAIM_REFUSALS: Mapping[str, str] = {
    "730": "UPS does not know this tracking number",
    "732": "another claim of this type is open for the package",
}
NOT_FOUND = "733"


def headers(token: str, trans_id: str, *, json_body: bool) -> dict[str, str]:
    """Headers of a claims call: the bearer token, ``transId`` and ``transactionSrc`` as every UPS call."""
    out = {"Authorization": f"Bearer {token}", "transId": trans_id, "transactionSrc": wire.TRANSACTION_SRC}
    if json_body:
        out["Content-Type"] = wire.JSON_MEDIA_TYPE
    out["Accept"] = wire.JSON_MEDIA_TYPE
    return out


def dollars(cents: int) -> str:
    """8450 → ``"84.50"``."""
    if cents < 0:
        raise ValueError("an amount is never negative")
    return f"{cents // 100}.{cents % 100:02d}"


def claim_body(request: ClaimRequest) -> bytes:
    """The JSON body of a claim; what UPS could not take is refused (CarrierRejected 710) before any call."""
    if request.currency != CURRENCY:
        raise CarrierRejected("710", f"UPS claims are in USD cents, not {request.currency}")
    if request.amount_minor <= 0:
        raise CarrierRejected("710", "a claim asks for a positive amount")
    invoices = [a for a in request.attachments if a.kind == "proof_of_value"]
    supporting = [a for a in request.attachments if a.kind != "proof_of_value"]
    body: dict[str, Any] = {
        "tracking_code": wire.tracking_number(request.waybill_no),
        "type": CLAIM_TYPES[request.type],
        "amount": dollars(request.amount_minor),
        "description": request.description,
        "contact_email": request.contact_email or None,
        # The returned parcel's recipient is the shop itself, whose contact files the claim.
        "recipient_name": request.contact_name or None,
        "reference": request.request_id,
        "invoice_attachments": [base64.b64encode(a.content).decode("ascii") for a in invoices],
        "supporting_documentation_attachments": [base64.b64encode(a.content).decode("ascii") for a in supporting],
    }
    return wire.dumps(body).encode()


def _raise(operation: str, reply: wire.Answer) -> NoReturn:
    if reply.code == NOT_FOUND and reply.http_status not in codes.HTTP_RULES:
        raise CarrierRejected(NOT_FOUND, reply.message or "no such claim")
    rule = codes.answer_rule(operation, reply.http_status, reply.code, reply.message)
    if rule.unavailable:
        raise CarrierUnavailable(f"ups {operation}: {reply.code} {reply.message}")
    raise CarrierRejected(reply.code or str(reply.http_status), reply.message,
                          reason=rule.reason or InterceptReason.carrier_error)


def claim_ack(reply: wire.Answer) -> ClaimAck:
    """The ClaimAck of a ``POST /claims`` answer; a refused request raises."""
    if reply.http_status in (200, 201):
        state = claim_state(reply.body, "file_claim")
        return ClaimAck(accepted=True, claim_ref=state.claim_ref, message=state.message)
    if reply.code in CLAIM_REFUSALS and reply.http_status not in codes.HTTP_RULES:
        return ClaimAck(accepted=False, message=reply.message or CLAIM_REFUSALS[reply.code])
    _raise("file_claim", reply)


def status_answer(reply: wire.Answer) -> ClaimState:
    """The ClaimState of a ``GET /claims/{id}`` answer; an unknown claim or a refused request raises."""
    if reply.http_status == 200:
        return claim_state(reply.body, "claim_status")
    _raise("claim_status", reply)


def claim_state(body: Mapping[str, Any], operation: str) -> ClaimState:
    """A ClaimState from an EasyPost-style Claim object (CarrierUnavailable when it is not one)."""
    ref = wire.text(body.get("id"))
    raw = wire.text(body.get("status"))
    if not ref or not raw:
        raise CarrierUnavailable(f"ups {operation}: the answer is not a claim (no id or status)")
    status = STATUSES.get(raw)
    if status is None:
        log.warning("ups claim %s has an unknown status %r; treated as %s", ref, raw, UNKNOWN_STATUS)
        status = UNKNOWN_STATUS
    approved = wire.text(body.get("approved_amount"))
    documents = body.get("requested_documents") or []
    try:
        approved_minor = wire.minor_units(approved) if approved else None
    except wire.PayloadError as exc:
        raise CarrierUnavailable(f"ups {operation}: malformed answer: {exc}") from exc
    return ClaimState(
        claim_ref=ref,
        status=status,
        approved_minor=approved_minor,
        message=wire.text(body.get("status_detail")),
        documents_requested=tuple(str(d) for d in documents) if isinstance(documents, list) else (),
        waybill_no=wire.text(body.get("tracking_code")),
    )
