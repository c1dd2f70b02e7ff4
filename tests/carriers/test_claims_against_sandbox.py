"""Claims filed online: the Kuaidi100 and UPS adapters against their sandbox twins (in process, over ASGI).

The adapters and the twins were written apart; agreeing on the wire, the signatures of the work-order
callbacks included, is the test. The adjudicator's own rules are pinned in tests/sandbox/test_claims_adjudicator.py.
"""

from __future__ import annotations

import json

import httpx
import pytest

from lanjie.carriers.base import CarrierAccount, ClaimAck, ClaimAttachment, ClaimRequest, ClaimState
from lanjie.carriers.errors import CarrierRejected, CarrierTimeout
from lanjie.carriers.kuaidi100 import Kuaidi100
from lanjie.carriers.ups import UPS, TokenCache
from lanjie.domain.states import ClaimStatus, ClaimType, TrackingStatus
from lanjie.sandbox import SandboxWorld
from lanjie.sandbox.claims import ClaimStep, Evidence, Forced, Outcome, Terms
from lanjie.sandbox.faults import FaultPlan
from lanjie.sandbox.model import Channel
from lanjie.sandbox.route import ScanCode

from .sandbox_support import capture_pushes, channel_faults, sandbox

DAY = 86400.0
K100 = "http://sandbox.test/kuaidi100"
UPS_BASE = "http://sandbox.test/ups"
SALT = "work-order-callbacks-salt-0123456789"
K100_CREDENTIALS = {"key": "SANDBOXKEY", "customer": "SANDBOXCUSTOMER", "secret": "SANDBOXSECRET", "salt": SALT}
UPS_CREDENTIALS = {"client_id": "SANDBOXUPSCLIENT", "client_secret": "SANDBOXUPSSECRET", "account_number": "S4NDB0"}
CALLBACK = "https://lanjie.test/cb/k100/tok"
YD, TN = "YD0000000001", "1Z999AA10000000001"
PHOTO = ClaimAttachment("box.jpg", "image/jpeg", b"\xff\xd8photo", "photo")
ORDER = ClaimAttachment("order.pdf", "application/pdf", b"%PDF-order", "proof_of_value")
ACK = httpx.Response(200, json={"result": True, "returnCode": "200", "message": "成功"})


def damaged(world: SandboxWorld, waybill_no: str = YD, carrier: str = "yunda", code: ScanCode = ScanCode.damaged,
            outcome: Outcome | None = Outcome.approved) -> None:
    """A parcel damaged (or lost) on its way, whose claim the adjudicator will decide as ``outcome``."""
    world.create_parcel(carrier_code=carrier, waybill_no=waybill_no, stage=TrackingStatus.in_transit)
    world.inject(waybill_no, code)
    if outcome is not None:  # no seeded draw: these tests pin the wire, not the odds
        world.claims.force(waybill_no, Forced(outcome))


def k100_claim(**fields: object) -> ClaimRequest:
    values: dict[str, object] = {
        "request_id": "clm_k1", "carrier_code": "yunda", "waybill_no": YD, "type": ClaimType.damage,
        "amount_minor": 2400, "goods_value_minor": 2400, "description": "退回途中破损", "callback_url": CALLBACK,
        "attachments": (PHOTO, ORDER), **fields}
    return ClaimRequest(**values)  # type: ignore[arg-type]


def ups_claim(**fields: object) -> ClaimRequest:
    values: dict[str, object] = {
        "request_id": "clm_u1", "carrier_code": "ups", "waybill_no": TN, "type": ClaimType.loss,
        "amount_minor": 25000, "goods_value_minor": 25000, "description": "lost on the way back",
        "currency": "USD", "contact_email": "claims@lanjie.example", "attachments": (ORDER,), **fields}
    return ClaimRequest(**values)  # type: ignore[arg-type]


def kuaidi100(world: SandboxWorld, client: httpx.AsyncClient,
              credentials: dict[str, str] = K100_CREDENTIALS) -> Kuaidi100:
    return Kuaidi100(CarrierAccount("kuaidi100", credentials, {"api": K100, "poll": K100}), client,
                     clock=world.clock.now)


def ups(world: SandboxWorld, client: httpx.AsyncClient) -> UPS:
    return UPS(CarrierAccount("ups", UPS_CREDENTIALS, {"api": UPS_BASE}), client, clock=world.clock.now,
               token_cache=TokenCache())


# -- Kuaidi100 work orders ---------------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_work_order_is_filed_and_every_callback_verifies_and_parses_into_the_claims_progress() -> None:
    async with sandbox(timeout=5.0) as (world, client):
        pushed = capture_pushes(world, lambda _request: ACK)
        damaged(world)
        carrier = kuaidi100(world, client)
        ack = await carrier.file_claim(k100_claim())
        await world.advance(21 * DAY)
        confirmed = await carrier.claim_status("yunda", YD, ack.claim_ref or "")

    assert ack == ClaimAck(accepted=True, claim_ref="880001", message="提交成功")
    (held,) = world.claims.claims
    assert (held.kind, held.asked_minor, held.evidence) == ("damage", 2400, {Evidence.photo, Evidence.proof_of_value})
    states = [carrier.parse_push(p.content, p.headers["content-type"]).claim for p in pushed]
    assert [str(p.url) for p in pushed] == [CALLBACK] * 3
    assert states == [
        ClaimState("880001", ClaimStatus.in_review, None, "处理中", (), YD),
        ClaimState("880001", ClaimStatus.approved, 2400, "同意赔付 24.00 元", (), YD),
        ClaimState("880001", ClaimStatus.paid, 2400, "已赔付 24.00 元", (), YD),
    ]
    assert confirmed == states[-1]


@pytest.mark.anyio
async def test_a_request_for_documents_arrives_with_what_is_asked_and_a_partial_approval_with_its_amount() -> None:
    async with sandbox(timeout=5.0) as (world, client):
        pushed = capture_pushes(world, lambda _request: ACK)
        damaged(world, outcome=None)  # decided below, once the evidence is complete
        world.claims.set_terms(YD, Terms(freight_minor=500))  # uninsured: at most 3 × ¥5
        carrier = kuaidi100(world, client)
        await carrier.file_claim(k100_claim(attachments=(PHOTO,)))  # no proof of value
        await world.advance(5 * DAY)
        waiting = await carrier.claim_status("yunda", YD, "880001")
        world.claims.supply_documents(YD)
        world.claims.force(YD, Forced(Outcome.approved))
        await world.advance(10 * DAY)
        decided = await carrier.claim_status("yunda", YD, "880001")

    assert waiting == ClaimState("880001", ClaimStatus.waiting_on_documents, None,
                                 "请补充材料：商品价值证明（订单截图或发票）", ("商品价值证明（订单截图或发票）",), YD)
    assert decided == ClaimState("880001", ClaimStatus.approved_partial, 1500, "部分赔付 15.00 元", (), YD)
    parsed = [carrier.parse_push(p.content, p.headers["content-type"]).claim for p in pushed]
    assert [s.status for s in parsed if s is not None] == [ClaimStatus.in_review, ClaimStatus.waiting_on_documents,
                                                           ClaimStatus.in_review, ClaimStatus.approved_partial]


@pytest.mark.anyio
async def test_a_rejection_says_why() -> None:
    async with sandbox(timeout=5.0) as (world, client):
        capture_pushes(world, lambda _request: ACK)
        damaged(world, code=ScanCode.lost, outcome=Outcome.rejected)
        carrier = kuaidi100(world, client)
        await carrier.file_claim(k100_claim(type=ClaimType.loss))
        await world.advance(16 * DAY)
        state = await carrier.claim_status("yunda", YD, "880001")

    assert state == ClaimState("880001", ClaimStatus.rejected, None, "经核实，不予赔付", (), YD)


@pytest.mark.anyio
async def test_after_a_timeout_filing_again_finds_the_work_order_already_open() -> None:
    async with sandbox(timeout=0.2) as (world, client):
        capture_pushes(world, lambda _request: ACK)
        damaged(world)
        carrier = kuaidi100(world, client)
        world.faults.set_plan(channel_faults(Channel.intercept, timeout_rate=1.0, timeout_seconds=1.0))
        with pytest.raises(CarrierTimeout):
            await carrier.file_claim(k100_claim())
        world.faults.set_plan(FaultPlan())
        again = await carrier.file_claim(k100_claim())

    assert again == ClaimAck(accepted=True, claim_ref="880001", message="该单号已有同类工单")
    assert len(world.claims.claims) == 1


@pytest.mark.anyio
async def test_an_unknown_waybill_is_refused_and_bad_credentials_raise() -> None:
    async with sandbox(timeout=5.0) as (world, client):
        carrier = kuaidi100(world, client)
        refused = await carrier.file_claim(k100_claim(waybill_no="YD0000000404"))
        damaged(world)
        wrong = kuaidi100(world, client, {**K100_CREDENTIALS, "secret": "not-the-secret"})
        with pytest.raises(CarrierRejected) as raised:
            await wrong.file_claim(k100_claim())

    assert refused == ClaimAck(accepted=False, claim_ref=None, message="单号不存在")
    assert (raised.value.code, raised.value.reason) == ("403", "auth_failed")
    assert world.claims.claims == []


@pytest.mark.anyio
async def test_the_twin_sees_the_work_order_exactly_as_the_adapter_signed_it() -> None:
    async with sandbox(timeout=5.0) as (world, client):
        damaged(world)
        carrier = kuaidi100(world, client)
        await carrier.file_claim(k100_claim())

    (entry,) = [e for e in world.request_log if e.method == "workorder.create"]
    assert (entry.http_status, entry.code, entry.waybill_no, entry.account) == (200, "200", YD, "SANDBOXKEY")
    kept = json.loads(carrier.exchanges[0].request_body)
    assert kept["param"]["secondType"] == 5 and kept["param"]["modityValue"] == "24.00"


# -- UPS claims --------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_ups_claim_is_filed_once_and_followed_until_paid_within_the_100_dollar_cap() -> None:
    async with sandbox(timeout=5.0) as (world, client):
        damaged(world, TN, "ups", ScanCode.lost)
        carrier = ups(world, client)
        ack = await carrier.file_claim(ups_claim())
        again = await carrier.file_claim(ups_claim())
        await world.advance(5 * DAY)
        reviewing = await carrier.claim_status("ups", TN, ack.claim_ref or "")
        await world.advance(15 * DAY)
        paid = await carrier.claim_status("ups", TN, ack.claim_ref or "")

    assert ack.accepted and again == ack and ack.claim_ref == "clm_00000000000000000000000000000001"
    assert reviewing == ClaimState(ack.claim_ref, ClaimStatus.in_review, None, "under review", (), TN)
    assert paid == ClaimState(ack.claim_ref, ClaimStatus.paid, 10000, "paid 10000", (), TN)
    assert [c.status for c in world.claims.claims] == [ClaimStep.paid]


@pytest.mark.anyio
async def test_ups_refuses_a_damage_claim_without_photos_and_an_unknown_package() -> None:
    async with sandbox(timeout=5.0) as (world, client):
        damaged(world, TN, "ups")
        carrier = ups(world, client)
        with pytest.raises(CarrierRejected) as raised:
            await carrier.file_claim(ups_claim(type=ClaimType.damage))
        unknown = await carrier.file_claim(ups_claim(waybill_no="1Z999AA10000000404"))

    assert (raised.value.code, raised.value.reason) == ("710", "carrier_error")
    assert unknown == ClaimAck(accepted=False, claim_ref=None, message="Tracking number not found")
    assert world.claims.claims == []


@pytest.mark.anyio
async def test_a_ups_claim_id_of_nobody_raises() -> None:
    async with sandbox(timeout=5.0) as (world, client):
        carrier = ups(world, client)
        with pytest.raises(CarrierRejected) as raised:
            await carrier.claim_status("ups", TN, "clm_nobody")

    assert (raised.value.code, raised.value.message) == ("733", "Claim not found")
