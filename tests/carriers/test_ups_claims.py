"""UPS claims (an EasyPost-style model): the request (byte-exact), the call, the answers and every error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lanjie.carriers.base import Capability, ClaimAck, ClaimAttachment, ClaimRequest, ClaimState
from lanjie.carriers.errors import CarrierRejected, CarrierUnavailable
from lanjie.carriers.ups import UPS, claims
from lanjie.domain.states import ClaimStatus, ClaimType

from .test_ups_golden import API, TN, TOKEN, TOKEN_2, error, headers_of, reply, token_answer, ups

REQUEST = ClaimRequest(
    request_id="clm_9", carrier_code="ups", waybill_no=TN, type=ClaimType.damage, amount_minor=8450,
    goods_value_minor=12000, description="Crushed on the way back *~", currency="USD", contact_name="Lan Jie",
    contact_email="claims@lanjie.example",
    attachments=(ClaimAttachment("box.jpg", "image/jpeg", b"\xff\xd8jpeg", "photo"),
                 ClaimAttachment("order.pdf", "application/pdf", b"%PDF-1", "proof_of_value")),
)
# Written out by hand: key order, compact separators, Base64 of the files (printf … | base64).
BODY = (b'{"tracking_code":"1Z999AA10123456784","type":"damage","amount":"84.50",'
        b'"description":"Crushed on the way back *~","contact_email":"claims@lanjie.example",'
        b'"recipient_name":"Lan Jie","reference":"clm_9","invoice_attachments":["JVBERi0x"],'
        b'"supporting_documentation_attachments":["/9hqcGVn"]}')
CLAIMS_URL = f"{API}/api/claims/v2/claims"
CLAIM_ID = "clm_0000000000000000000000000000abcd"


def claim(status: str = "submitted", **fields: Any) -> dict[str, Any]:
    return {"id": CLAIM_ID, "object": "Claim", "mode": "production", "tracking_code": TN, "type": "damage",
            "status": status, "status_detail": "claim received", "status_timestamp": "2024-06-01T08:00:00Z",
            "requested_amount": "84.50", "approved_amount": None, "requested_documents": [],
            "reference": "clm_9", "history": [], "created_at": "2024-06-01T08:00:00Z",
            "updated_at": "2024-06-01T08:00:00Z", **fields}


def test_claim_body_is_easyposts_model_with_the_files_as_base64() -> None:
    assert claims.claim_body(REQUEST) == BODY


def test_a_short_parcel_is_filed_as_damage_and_a_loss_as_loss() -> None:
    short = ClaimRequest("c", "ups", TN, ClaimType.short, 100, 100, "two items missing", currency="USD")
    loss = ClaimRequest("c", "ups", TN, ClaimType.loss, 100, 100, "never arrived", currency="USD")

    assert json.loads(claims.claim_body(short))["type"] == "damage"
    assert json.loads(claims.claim_body(loss)) == {
        "tracking_code": TN, "type": "loss", "amount": "1.00", "description": "never arrived", "contact_email": None,
        "recipient_name": None, "reference": "c", "invoice_attachments": [],
        "supporting_documentation_attachments": []}


@pytest.mark.anyio
async def test_filing_sends_the_body_with_the_bearer_token_and_reads_the_claim() -> None:
    async with ups(token_answer(), reply(201, claim())) as (carrier, script):
        ack = await carrier.file_claim(REQUEST)

    assert ack == ClaimAck(accepted=True, claim_ref=CLAIM_ID, message="claim received")
    _token, sent = script.seen
    assert (sent.method, str(sent.url), sent.content) == ("POST", CLAIMS_URL, BODY)
    assert headers_of(sent) == {"authorization": f"Bearer {TOKEN}", "transid": "tx0001", "transactionsrc": "lanjie",
                                "content-type": "application/json", "accept": "application/json"}
    assert [e.operation for e in carrier.exchanges] == ["token", "file_claim"]
    assert TOKEN not in carrier.exchanges[1].request_body


@pytest.mark.anyio
async def test_a_repeat_with_the_same_reference_answers_the_claim_already_filed() -> None:
    async with ups(token_answer(), reply(200, claim("in_review", status_detail="under review"))) as (carrier, _):
        ack = await carrier.file_claim(REQUEST)

    assert ack == ClaimAck(accepted=True, claim_ref=CLAIM_ID, message="under review")


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "code", "message"), [
    (400, "730", "Tracking number not found"),
    (409, "732", "Claim clm_1 of this type is open for the package"),
])
async def test_a_claim_ups_will_not_take_is_refused_not_raised(status: int, code: str, message: str) -> None:
    async with ups(token_answer(), error(status, code, message)) as (carrier, _):
        ack = await carrier.file_claim(REQUEST)

    assert ack == ClaimAck(accepted=False, claim_ref=None, message=message)


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "code", "reason"), [
    (400, "710", "carrier_error"), (429, "10429", "rate_limited"), (403, "250003", "auth_failed"),
])
async def test_a_refused_request_raises_with_its_reason(status: int, code: str, reason: str) -> None:
    async with ups(token_answer(), error(status, code, "refused")) as (carrier, _):
        with pytest.raises(CarrierRejected) as raised:
            await carrier.file_claim(REQUEST)

    assert (raised.value.code, raised.value.reason) == (code, reason)


@pytest.mark.anyio
async def test_a_refused_token_is_fetched_anew_once_and_the_claim_sent_again() -> None:
    async with ups(token_answer(), error(401, "250002", "Invalid Authentication Information."),
                   token_answer(TOKEN_2), reply(201, claim())) as (carrier, script):
        ack = await carrier.file_claim(REQUEST)

    assert ack.claim_ref == CLAIM_ID
    assert [r.headers.get("authorization") for r in script.seen[1::2]] == [f"Bearer {TOKEN}", f"Bearer {TOKEN_2}"]
    assert script.seen[3].content == BODY


@pytest.mark.anyio
async def test_a_server_error_or_an_answer_that_is_no_claim_is_unavailable() -> None:
    async with ups(token_answer(), reply(503, b"busy"), reply(201, {"id": CLAIM_ID})) as (carrier, _):
        with pytest.raises(CarrierUnavailable):
            await carrier.file_claim(REQUEST)
        with pytest.raises(CarrierUnavailable, match="not a claim"):
            await carrier.file_claim(REQUEST)


@pytest.mark.anyio
async def test_another_currency_a_foreign_number_or_a_bad_id_are_refused_before_any_call() -> None:
    cny = ClaimRequest("c", "ups", TN, ClaimType.loss, 100, 100, "lost")
    foreign = ClaimRequest("c", "ups", "SF1234567890", ClaimType.loss, 100, 100, "lost", currency="USD")
    async with ups() as (carrier, script):
        with pytest.raises(CarrierRejected, match="USD"):
            await carrier.file_claim(cny)
        with pytest.raises(CarrierRejected, match="not a UPS tracking number"):
            await carrier.file_claim(foreign)
        with pytest.raises(CarrierRejected, match="not a UPS claim id"):
            await carrier.claim_status("ups", TN, "../clm_1")

    assert script.seen == []


@pytest.mark.anyio
async def test_claim_status_gets_the_claim_by_its_id() -> None:
    answer = claim("approved_partial", status_detail="approved 6000 of 8450", approved_amount="60.00")
    async with ups(token_answer(), reply(200, answer)) as (carrier, script):
        state = await carrier.claim_status("ups", TN, CLAIM_ID)

    assert state == ClaimState(CLAIM_ID, ClaimStatus.approved_partial, 6000, "approved 6000 of 8450", (), TN)
    sent = script.seen[1]
    assert (sent.method, str(sent.url), sent.content) == ("GET", f"{CLAIMS_URL}/{CLAIM_ID}", b"")
    assert headers_of(sent) == {"authorization": f"Bearer {TOKEN}", "transid": "tx0001", "transactionsrc": "lanjie",
                                "accept": "application/json"}


@pytest.mark.parametrize(("status", "extra", "expected"), [
    ("submitted", {}, (ClaimStatus.in_review, None, ())),
    ("in_review", {}, (ClaimStatus.in_review, None, ())),
    ("waiting_on_documents", {"requested_documents": ["a written statement"]},
     (ClaimStatus.waiting_on_documents, None, ("a written statement",))),
    ("approved", {"approved_amount": "84.50"}, (ClaimStatus.approved, 8450, ())),
    ("rejected", {}, (ClaimStatus.rejected, None, ())),
    ("paid", {"approved_amount": "84.50"}, (ClaimStatus.paid, 8450, ())),
    ("cancelled", {}, (ClaimStatus.closed, None, ())),
    ("escalated", {}, (ClaimStatus.in_review, None, ())),
])
def test_each_claim_status_maps_onto_lanjies(status: str, extra: dict[str, Any],
                                             expected: tuple[ClaimStatus, int | None, tuple[str, ...]]) -> None:
    state = claims.claim_state(claim(status, **extra), "claim_status")

    assert (state.status, state.approved_minor, state.documents_requested) == expected


@pytest.mark.anyio
async def test_an_unknown_claim_raises_naming_it() -> None:
    async with ups(token_answer(), error(404, "733", "Claim not found")) as (carrier, _):
        with pytest.raises(CarrierRejected) as raised:
            await carrier.claim_status("ups", TN, "clm_404")

    assert (raised.value.code, raised.value.message) == ("733", "Claim not found")


def test_the_plugin_offers_claims() -> None:
    assert {Capability.file_claim, Capability.claim_status} <= UPS.capabilities
    assert getattr(UPS, "claim_couriers", None) is None  # every courier it serves: UPS
