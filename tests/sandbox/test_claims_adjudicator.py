"""The claims adjudicator (§22.6) and the two twins that take claims, driven over their wire and the control API.

Signatures are computed here with hashlib from Kuaidi100's recipe, independently of the sandbox's code.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest

from lanjie.domain.states import TrackingStatus
from lanjie.sandbox import SandboxWorld
from lanjie.sandbox.claims import ClaimKind, ClaimStep, Evidence, FiledClaim, Filing, RejectReason, Terms
from lanjie.sandbox.config import ClaimSettings
from lanjie.sandbox.route import ScanCode

from .support import START_AT, PushReceiver, in_process

DAY = 86400.0
KEY, SECRET, SALT = "SANDBOXKEY", "SANDBOXSECRET", "salt-for-work-orders-0123456789ab"
T = "1740794400000"
YD, TN = "YD0000000001", "1Z999AA10000000001"
CALLBACK = "https://lanjie.test/cb/k100"
ACK = json.dumps({"result": True, "returnCode": "200", "message": "成功"}).encode()
ALWAYS = ClaimSettings(approve_rate=1.0, partial_rate=0.0, documents_rate=0.0)
BOTH = frozenset({Evidence.photo, Evidence.proof_of_value})
Wired = tuple[SandboxWorld, httpx.AsyncClient, PushReceiver]


@asynccontextmanager
async def world(settings: ClaimSettings = ALWAYS) -> AsyncIterator[Wired]:
    async with in_process(PushReceiver(ACK), claims=settings) as wired:
        yield wired


def lost(world: SandboxWorld, waybill_no: str = YD, carrier: str = "yunda") -> None:
    world.create_parcel(carrier_code=carrier, waybill_no=waybill_no, stage=TrackingStatus.in_transit)
    world.inject(waybill_no, ScanCode.lost)


def file(world: SandboxWorld, kind: ClaimKind = ClaimKind.loss, asked: int = 12800, currency: str = "CNY",
         evidence: frozenset[Evidence] = BOTH, waybill_no: str = YD) -> FiledClaim:
    claim, filing = world.claims.file(protocol="kuaidi100", waybill_no=waybill_no, kind=kind, asked_minor=asked,
                                      currency=currency, evidence=evidence, make_id=str)
    assert claim is not None and filing is Filing.filed
    return claim


def steps(claim: FiledClaim) -> list[tuple[float, ClaimStep]]:
    """Each step and when it happened, in days after the start."""
    return [((at - START_AT) / timedelta(days=1), step) for at, step, _ in claim.history]


# -- the adjudicator ---------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_valid_claim_is_reviewed_decided_and_paid_after_the_configured_delays() -> None:
    async with world() as (w, _client, _):
        lost(w)
        claim = file(w, asked=2500)
        await w.advance(21 * DAY)

    assert steps(claim) == [(0, ClaimStep.submitted), (5, ClaimStep.in_review), (15, ClaimStep.approved),
                            (20, ClaimStep.paid)]
    assert (claim.approved_minor, claim.paid_minor, claim.reason) == (2500, 2500, None)


@pytest.mark.anyio
@pytest.mark.parametrize(("currency", "terms", "asked", "status", "granted"), [
    ("CNY", None, 12800, ClaimStep.approved_partial, 3000),  # uninsured: 3 × the default ¥10 freight
    ("CNY", Terms(1200, 0), 2000, ClaimStep.approved, 2000),  # under the cap: what was asked
    ("CNY", Terms(1200, 10000), 12800, ClaimStep.approved_partial, 10000),  # insured: up to the insured value
    ("USD", None, 25000, ClaimStep.approved_partial, 10000),  # no declared value: $100
    ("USD", Terms(900, 9_000_000), 8_000_000, ClaimStep.approved_partial, 5_000_000),  # declared, at most $50,000
])
async def test_payouts_are_capped_by_the_law_of_the_claims_currency(currency: str, terms: Terms | None, asked: int,
                                                                    status: ClaimStep, granted: int) -> None:
    async with world() as (w, _client, _):
        lost(w)
        if terms is not None:
            w.claims.set_terms(YD, terms)
        claim = file(w, asked=asked, currency=currency)
        await w.advance(16 * DAY)

    assert (claim.status, claim.approved_minor) == (status, granted)


@pytest.mark.anyio
async def test_a_claim_the_parcels_state_does_not_support_is_rejected_at_the_decision() -> None:
    async with world() as (w, _client, _):
        w.create_parcel(carrier_code="yunda", waybill_no=YD, stage=TrackingStatus.in_transit)
        w.parcels[YD].plan.clear()  # it stays in transit: not lost
        claim = file(w, kind=ClaimKind.loss)
        await w.advance(16 * DAY)

    assert (claim.status, claim.reason, claim.approved_minor) == (ClaimStep.rejected, RejectReason.not_eligible, None)
    assert claim.history[-1][2] == "the parcel is in_transit: no loss to compensate"


@pytest.mark.anyio
async def test_a_claim_filed_after_the_window_is_rejected() -> None:
    async with world() as (w, _client, _):
        lost(w)
        await w.advance(31 * DAY)  # Kuaidi100's window: 30 days after the last scan
        claim = file(w)
        await w.advance(16 * DAY)

    assert (claim.status, claim.reason) == (ClaimStep.rejected, RejectReason.filing_window)


@pytest.mark.anyio
async def test_missing_evidence_is_asked_for_and_review_goes_on_once_supplied() -> None:
    async with world() as (w, client, _):
        lost(w)
        claim = file(w, kind=ClaimKind.loss, asked=2500, evidence=frozenset())  # a loss needs proof of value
        await w.advance(5 * DAY)
        asked = (claim.status, list(claim.documents_requested))
        supplied = await client.post("/control/claims/documents", json={"waybill_no": YD})
        await w.advance(11 * DAY)

    assert asked == (ClaimStep.waiting_on_documents, ["proof_of_value"])
    assert supplied.status_code == 200 and supplied.json()["status"] == "in_review"
    assert steps(claim) == [(0, ClaimStep.submitted), (5, ClaimStep.in_review), (5, ClaimStep.waiting_on_documents),
                            (5, ClaimStep.in_review), (15, ClaimStep.approved)]
    assert (claim.evidence, claim.documents_requested) == (frozenset({Evidence.proof_of_value}), [])


@pytest.mark.anyio
async def test_documents_never_supplied_reject_the_claim_after_the_timeout() -> None:
    async with world() as (w, client, _):
        lost(w)
        claim = file(w, evidence=frozenset({Evidence.photo}))
        await w.advance(5 * DAY + 14 * DAY)
        nothing_waits = await client.post("/control/claims/documents", json={"waybill_no": YD})

    assert steps(claim)[-1] == (19, ClaimStep.rejected)
    assert claim.reason is RejectReason.documents_missing
    assert nothing_waits.status_code == 409


@pytest.mark.anyio
async def test_the_same_seed_decides_the_same_way_and_the_draw_spans_every_outcome() -> None:
    settings = ClaimSettings(approve_rate=0.4, partial_rate=0.3, documents_rate=0.2)
    decided: list[list[tuple[ClaimStep, int | None]]] = []
    for _ in range(2):
        async with world(settings) as (w, _client, _):
            claims = []
            for n in range(30):
                lost(w, f"YD{n:010d}")
                claims.append(file(w, waybill_no=f"YD{n:010d}", asked=2000))
            await w.advance(40 * DAY)
            decided.append([(c.status, c.approved_minor) for c in claims])

    assert decided[0] == decided[1]
    statuses = {status for status, _ in decided[0]}
    assert {ClaimStep.paid, ClaimStep.rejected} <= statuses
    partial = [amount for status, amount in decided[0] if status is ClaimStep.paid and amount != 2000]
    assert partial and all(600 <= (amount or 0) <= 1800 for amount in partial)


@pytest.mark.anyio
async def test_a_second_claim_of_the_same_kind_names_the_first() -> None:
    async with world() as (w, _client, _):
        lost(w)
        first = file(w)
        again, filing = w.claims.file(protocol="kuaidi100", waybill_no=YD, kind=ClaimKind.loss, asked_minor=1,
                                      currency="CNY", evidence=BOTH, make_id=str)
        unknown = w.claims.file(protocol="kuaidi100", waybill_no="NOPE0001", kind=ClaimKind.loss, asked_minor=1,
                                currency="CNY", evidence=BOTH, make_id=str)

    assert (again, filing) == (first, Filing.duplicate)
    assert unknown == (None, Filing.unknown_waybill)
    assert len(w.claims.claims) == 1


# -- the control API ---------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_forced_outcome_waits_for_the_waybills_next_claim_and_overrides_validation() -> None:
    async with world() as (w, client, _):
        w.create_parcel(carrier_code="yunda", waybill_no=YD, stage=TrackingStatus.in_transit)
        forced = await client.post("/control/claims/outcome", json={
            "waybill_no": YD, "outcome": "approved_partial", "approved_minor": 4321})
        claim = file(w, evidence=frozenset())  # not lost, no evidence: the forced outcome decides anyway
        await w.advance(16 * DAY)
        listed = (await client.get("/control/claims", params={"waybill_no": YD})).json()

    assert forced.json() == {"claim": None, "applies_to": "next"}
    assert steps(claim) == [(0, ClaimStep.submitted), (5, ClaimStep.in_review), (15, ClaimStep.approved_partial)]
    assert claim.approved_minor == 4321
    assert [(c["status"], c["approved_minor"], c["forced"]) for c in listed["claims"]] == [
        ("approved_partial", 4321, None)]


@pytest.mark.anyio
async def test_forcing_documents_on_an_open_claim_asks_for_them_at_review() -> None:
    async with world() as (w, client, _):
        lost(w)
        claim = file(w)
        answer = await client.post("/control/claims/outcome", json={
            "waybill_no": YD, "outcome": "waiting_on_documents", "documents": ["开箱视频"]})
        await w.advance(5 * DAY)

    assert answer.json()["applies_to"] == "open" and answer.json()["claim"]["forced"] == "waiting_on_documents"
    assert (claim.status, claim.documents_requested) == (ClaimStep.waiting_on_documents, ["开箱视频"])


@pytest.mark.anyio
async def test_a_forced_rejection_is_final_and_not_paid() -> None:
    async with world() as (w, client, _):
        lost(w)
        claim = file(w)
        await client.post("/control/claims/outcome", json={"waybill_no": YD, "outcome": "rejected"})
        await w.advance(30 * DAY)

    assert (steps(claim)[-1], claim.reason, claim.paid_minor) == ((15, ClaimStep.rejected), RejectReason.forced, 0)


@pytest.mark.anyio
@pytest.mark.parametrize(("body", "status", "detail"), [
    ({"waybill_no": YD, "outcome": "rejected", "approved_minor": 5}, 422, "approved_minor"),
    ({"waybill_no": YD, "outcome": "approved", "documents": ["x"]}, 422, "documents"),
    ({"waybill_no": "NOPE0001", "outcome": "approved"}, 404, "waybill_no"),
    ({"waybill_no": YD, "outcome": "paid"}, 422, "outcome"),
])
async def test_the_control_api_refuses_what_it_cannot_force(body: dict[str, Any], status: int, detail: str) -> None:
    async with world() as (w, client, _):
        lost(w)
        answer = await client.post("/control/claims/outcome", json=body)

    assert answer.status_code == status and answer.json()["detail"].startswith(detail)
    assert w.claims.claims == []


@pytest.mark.anyio
async def test_terms_set_through_the_control_api_set_the_cap() -> None:
    async with world() as (w, client, _):
        lost(w)
        answer = await client.post("/control/claims/terms", json={"waybill_no": YD, "freight_minor": 1500})
        claim = file(w, asked=99_999)
        await w.advance(16 * DAY)

    assert answer.json() == {"waybill_no": YD, "freight_minor": 1500, "insured_minor": 0}
    assert claim.approved_minor == 4500


# -- the Kuaidi100 twin's work orders ----------------------------------------------------------------

def work_order(param: dict[str, Any], *, key: str = KEY, secret: str = SECRET) -> dict[str, str]:
    text = json.dumps(param, ensure_ascii=False, separators=(",", ":"))
    return {"key": key, "sign": hashlib.md5((text + T + key + secret).encode()).hexdigest().upper(), "t": T,
            "param": text}


def damage_param(**fields: Any) -> dict[str, Any]:
    photo = base64.b64encode(b"jpeg").decode()
    return {"secondType": 5, "kuaidinum": YD,
            "desc": {"content": "破损", "attach": [{"name": "a.jpg", "type": "image/jpeg", "content": photo},
                                                  {"name": "o.pdf", "type": "application/pdf",
                                                   "category": "proof_of_value", "content": photo}]},
            "callBackUrl": CALLBACK, "modityValue": "20.00", "salt": SALT, **fields}


@pytest.mark.anyio
async def test_a_work_order_is_filed_decided_and_each_step_called_back_signed_with_the_salt() -> None:
    async with world() as (w, client, receiver):
        w.create_parcel(carrier_code="yunda", waybill_no=YD, stage=TrackingStatus.in_transit)
        w.inject(YD, ScanCode.damaged)
        created = (await client.post("/kuaidi100/workorder/api/create", data=work_order(damage_param()))).json()
        await w.advance(21 * DAY)
        detail = (await client.post("/kuaidi100/workorder/api/detail", data=work_order({"id": 880001}))).json()

    assert created == {"code": 200, "message": "提交成功", "time": 1740794400000, "success": True,
                       "data": {"id": 880001, "status": 0}}
    forms = receiver.forms()
    assert [str(p.url) for p in receiver.pushes] == [CALLBACK] * 3
    for form in forms:
        assert form["sign"] == hashlib.md5((form["param"] + SALT).encode()).hexdigest().upper()
    params = [json.loads(form["param"]) for form in forms]
    assert [(p["workorderId"], p["status"], p["compensateValue"]) for p in params] == [
        (880001, 1, ""), (880001, 3, "20.00"), (880001, 6, "20.00")]
    assert params[1] == {"workorderId": 880001, "kuaidinum": YD, "status": 3, "statusDesc": "同意赔付",
                         "compensateValue": "20.00", "reply": "同意赔付 20.00 元", "needMaterials": [],
                         "time": "2025-03-16 10:00:00"}
    assert detail["data"] == {"id": 880001, "kuaidinum": YD, "secondType": 5, "status": 6, "statusDesc": "已赔付",
                              "compensateValue": "20.00", "reply": "已赔付 20.00 元", "needMaterials": [],
                              "modityValue": "20.00", "createTime": "2025-03-01 10:00:00",
                              "updateTime": "2025-03-21 10:00:00"}


@pytest.mark.anyio
@pytest.mark.parametrize(("fields", "code", "message"), [
    ({"sign": "0" * 32}, 403, "签名错误"),
    ({"key": "NOBODY"}, 403, "key 无效或已过期"),
    ({"t": "soon"}, 400, "参数错误：t 必须是毫秒时间戳"),
])
async def test_work_order_requests_are_checked_before_anything_is_filed(fields: dict[str, str], code: int,
                                                                        message: str) -> None:
    async with world() as (w, client, _):
        lost(w)
        answer = await client.post("/kuaidi100/workorder/api/create", data={**work_order(damage_param()), **fields})

    assert (answer.json()["code"], answer.json()["message"], answer.json()["success"]) == (code, message, False)
    assert w.claims.claims == []


@pytest.mark.anyio
@pytest.mark.parametrize(("param", "code", "message"), [
    (damage_param(modityValue=None), 400, "参数错误：缺少 modityValue"),
    (damage_param(modityValue="1.234"), 400, "参数错误：modityValue 必须是金额（元，最多两位小数）"),
    (damage_param(secondType=1), 400, "参数错误：secondType 不支持 1"),
    (damage_param(kuaidinum="NOPE0001"), 30201, "单号不存在"),
    (damage_param(kuaidinum="ZT0000000001"), 30202, "该快递公司暂不支持工单（支持圆通、韵达、极兔、申通、德邦）"),
])
async def test_work_orders_kuaidi100_cannot_take_are_refused(param: dict[str, Any], code: int, message: str) -> None:
    async with world() as (w, client, _):
        lost(w)
        lost(w, "ZT0000000001", "zto")
        answer = await client.post("/kuaidi100/workorder/api/create", data=work_order(param))

    assert (answer.json()["code"], answer.json()["message"]) == (code, message)
    assert w.claims.claims == []


@pytest.mark.anyio
async def test_an_open_work_order_is_named_to_a_second_filing_and_hidden_from_other_keys() -> None:
    async with world() as (w, client, _):
        lost(w)
        await client.post("/control/accounts", json={"key": "OTHERKEY", "customer": "OTHER", "secret": "OTHERSECRET"})
        first = (await client.post("/kuaidi100/workorder/api/create", data=work_order(damage_param()))).json()
        again = (await client.post("/kuaidi100/workorder/api/create", data=work_order(damage_param()))).json()
        other = (await client.post("/kuaidi100/workorder/api/detail",
                                   data=work_order({"id": 880001}, key="OTHERKEY", secret="OTHERSECRET"))).json()

    assert first["data"] == {"id": 880001, "status": 0}
    assert (again["code"], again["data"]) == (30203, {"id": 880001, "status": 0})
    assert (other["code"], other["message"]) == (30204, "工单不存在")


# -- the UPS twin's claims ---------------------------------------------------------------------------

async def ups_token(client: httpx.AsyncClient) -> dict[str, str]:
    basic = base64.b64encode(b"SANDBOXUPSCLIENT:SANDBOXUPSSECRET").decode()
    token = (await client.post("/ups/security/v1/oauth/token", data={"grant_type": "client_credentials"},
                               headers={"Authorization": f"Basic {basic}"})).json()["access_token"]
    return {"Authorization": f"Bearer {token}", "transId": "claim01", "transactionSrc": "tests"}


def ups_claim(**fields: Any) -> dict[str, Any]:
    return {"tracking_code": TN, "type": "loss", "amount": "250.00", "description": "lost on the way back",
            "reference": "clm_1", "invoice_attachments": [base64.b64encode(b"%PDF").decode()], **fields}


@pytest.mark.anyio
async def test_ups_claims_are_filed_once_per_reference_and_read_back_as_easypost_claims() -> None:
    async with world() as (w, client, _):
        lost(w, TN, "ups")
        auth = await ups_token(client)
        filed = await client.post("/ups/api/claims/v2/claims", json=ups_claim(), headers=auth)
        repeat = await client.post("/ups/api/claims/v2/claims", json=ups_claim(), headers=auth)
        clash = await client.post("/ups/api/claims/v2/claims", json=ups_claim(reference="clm_2"), headers=auth)
        await w.advance(16 * DAY)
        auth = await ups_token(client)  # the first one expired long ago
        read = await client.get(f"/ups/api/claims/v2/claims/{filed.json()['id']}", headers=auth)

    assert (filed.status_code, filed.json()["status"], filed.json()["requested_amount"]) == (201, "submitted", "250.00")
    assert (repeat.status_code, repeat.json()["id"]) == (200, filed.json()["id"])
    assert clash.status_code == 409 and clash.json()["response"]["errors"][0]["code"] == "732"
    body = read.json()
    assert (body["status"], body["approved_amount"], body["type"]) == ("approved_partial", "100.00", "loss")
    assert [h["status"] for h in body["history"]] == ["submitted", "in_review", "approved_partial"]


@pytest.mark.anyio
@pytest.mark.parametrize(("claim", "status", "code", "message"), [
    (ups_claim(type="damage"), 400, "710", "supporting_documentation_attachments: a damage claim needs at least one"),
    (ups_claim(amount="12.345"), 400, "710", "amount: dollars as a string with at most two decimals, above 0"),
    (ups_claim(tracking_code="1Z999AA10000000009"), 400, "730", "Tracking number not found"),
    (ups_claim(insurance="yes"), 400, "710", "insurance: not a claim field"),
])
async def test_ups_refuses_claims_it_cannot_take(claim: dict[str, Any], status: int, code: str, message: str) -> None:
    async with world() as (w, client, _):
        lost(w, TN, "ups")
        answer = await client.post("/ups/api/claims/v2/claims", json=claim, headers=await ups_token(client))

    error = answer.json()["response"]["errors"][0]
    assert (answer.status_code, error["code"], error["message"]) == (status, code, message)
    assert w.claims.claims == []


@pytest.mark.anyio
async def test_ups_claims_need_a_token_and_are_shown_only_to_their_client() -> None:
    async with world() as (w, client, _):
        lost(w, TN, "ups")
        auth = await ups_token(client)
        refused = await client.post("/ups/api/claims/v2/claims", json=ups_claim(),
                                    headers={**auth, "Authorization": "Bearer nope"})
        filed = (await client.post("/ups/api/claims/v2/claims", json=ups_claim(), headers=auth)).json()
        await client.post("/control/carriers/ups/accounts", json={"credentials": {
            "client_id": "OTHER", "client_secret": "OTHERSECRET"}})
        basic = base64.b64encode(b"OTHER:OTHERSECRET").decode()
        other = (await client.post("/ups/security/v1/oauth/token", data={"grant_type": "client_credentials"},
                                   headers={"Authorization": f"Basic {basic}"})).json()["access_token"]
        hidden = await client.get(f"/ups/api/claims/v2/claims/{filed['id']}",
                                  headers={**auth, "Authorization": f"Bearer {other}"})

    assert refused.status_code == 401
    assert hidden.status_code == 404 and hidden.json()["response"]["errors"][0]["code"] == "733"
    assert [c.claim_id for c in w.claims.claims] == [filed["id"]]


