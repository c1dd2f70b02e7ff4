"""The Taobao adapter and the sandbox's Taobao simulator, written apart, agree on the wire (in process, over ASGI)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest

from lanjie.channels.base import ApproveItem, ChannelAccount, MessageKind
from lanjie.channels.errors import ChannelRejected, RejectionKind, SignatureInvalid
from lanjie.channels.taobao import Taobao
from lanjie.domain.states import ArbitrationStatus, CaseType, ChannelInterceptStatus, PlatformStatus
from lanjie.sandbox import SandboxWorld

from ..carriers.sandbox_support import START_AT, capture_pushes, sandbox

BASE = "http://sandbox.test"
PUSH_URL = "https://lanjie.example/push/taobao/tok123"
# The simulator's default test shop (wire.md), written out: the adapter must not need the simulator.
CREDENTIALS = {"app_key": "SANDBOXTBKEY", "app_secret": "SANDBOXTBSECRET", "session": "SANDBOXTBSESSION",
               "seller_nick": "lanjie-sandbox", "platform": "taobao"}
DAY = 24 * 3600.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def simulator(credentials: Mapping[str, str] = CREDENTIALS) -> AsyncIterator[
        tuple[Taobao, SandboxWorld, httpx.AsyncClient, list[httpx.Request]]]:
    """The adapter on the simulator; pushes land in the list and are answered by the adapter itself."""
    async with sandbox(5.0) as (world, client):
        channel = Taobao(ChannelAccount("taobao", credentials, {"api": f"{BASE}/taobao"}), client)

        def acknowledge(request: httpx.Request) -> httpx.Response:
            inbound = channel.parse_push(request.content, request.headers["content-type"], request.headers)
            return httpx.Response(200, content=inbound.ack_body, headers={"Content-Type": inbound.ack_media_type})

        pushed = capture_pushes(world, acknowledge)
        answer = await client.post(f"{BASE}/control/platforms/taobao/shops",
                                   json={"app_key": CREDENTIALS["app_key"], "push_url": PUSH_URL})
        assert answer.status_code == 200, answer.text
        yield channel, world, client, pushed


async def file_refund(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"type": "refund_only_shipped", "refund_fen": 12990, "waybill_no": "ZT7300000001", **fields}
    answer = await client.post(f"{BASE}/control/platforms/taobao/aftersales", json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def state(client: httpx.AsyncClient, refund_id: int) -> dict[str, Any]:
    return dict((await client.get(f"{BASE}/control/platforms/taobao/aftersales/{refund_id}")).json())


def topics(channel: Taobao, pushed: list[httpx.Request]) -> list[tuple[str, MessageKind]]:
    return [(m.topic, m.kind) for request in pushed
            for m in channel.parse_push(request.content, "application/json", request.headers).messages]


@pytest.mark.anyio
async def test_a_new_refund_arrives_as_a_verified_message_and_reads_as_a_shipped_refund_only_case() -> None:
    async with simulator() as (channel, world, client, pushed):
        filed = await file_refund(client, paid_fen=12990)
        await world.settle()
        case = await channel.fetch_case(str(filed["refund_id"]))
        after = await state(client, filed["refund_id"])

    [request] = pushed
    [message] = channel.parse_push(request.content, "application/json", request.headers).messages
    assert (message.topic, message.kind, message.ref, message.order_id, message.version) == (
        "taobao_refund_RefundCreated", MessageKind.created, str(filed["refund_id"]), str(filed["tid"]),
        str(filed["refund_version"]))
    assert [attempt["acked"] for attempt in after["messages"][0]["attempts"]] == [True]
    assert (case.ref, case.order_id, case.type, case.platform_type, case.status, case.platform_status) == (
        str(filed["refund_id"]), str(filed["tid"]), CaseType.refund_only_shipped, "REFUND",
        PlatformStatus.awaiting_merchant, "WAIT_SELLER_AGREE")
    assert (case.refund_fen, case.paid_fen, case.version, case.arbitration, case.intercept_status) == (
        12990, 12990, str(filed["refund_version"]), ArbitrationStatus.none, None)
    assert (case.can_commit_intercept, case.refunded, case.parcels) == (True, False, ())
    assert case.deadline_at == START_AT + timedelta(hours=48)


@pytest.mark.anyio
async def test_an_unshipped_refund_reads_as_unshipped_and_offers_no_commitment() -> None:
    async with simulator() as (channel, _, client, _pushed):
        filed = await file_refund(client, type="refund_only_unshipped", waybill_no="")
        case = await channel.fetch_case(str(filed["refund_id"]))

    assert (case.type, case.can_commit_intercept) == (CaseType.refund_only_unshipped, False)


@pytest.mark.anyio
async def test_the_commitment_opens_the_five_day_window_and_moves_the_version() -> None:
    async with simulator() as (channel, _, client, _pushed):
        filed = await file_refund(client)
        before = await channel.fetch_case(str(filed["refund_id"]))
        await channel.commit_intercept(before)
        after = await channel.fetch_case(str(filed["refund_id"]))
        with pytest.raises(ChannelRejected) as again:
            await channel.commit_intercept(before)  # the version it was read at is gone

    assert (after.intercept_status, after.can_commit_intercept) == (ChannelInterceptStatus.applied, False)
    assert after.deadline_at == START_AT + timedelta(days=5)
    assert int(after.version) > int(before.version)
    assert (again.value.code, again.value.kind) == ("isv.refund-version-expired", RejectionKind.stale)


@pytest.mark.anyio
async def test_an_approved_refund_is_paid_and_announced() -> None:
    async with simulator() as (channel, world, client, pushed):
        filed = await file_refund(client)
        case = await channel.fetch_case(str(filed["refund_id"]))
        results = await channel.approve_refunds([ApproveItem(case, refund_no="rf_1")])
        await world.settle()
        paid = await channel.fetch_case(case.ref)
        after = await state(client, filed["refund_id"])

    assert results == [None]
    assert (paid.status, paid.refunded, after["refund_paid"], after["auto_agreed_on_timeout"]) == (
        PlatformStatus.refunded, True, True, False)
    assert topics(channel, pushed) == [
        ("taobao_refund_RefundCreated", MessageKind.created),
        ("taobao_refund_RefundSellerAgreeAgreement", MessageKind.refund_agreed),
        ("taobao_refund_RefundSuccess", MessageKind.refund_succeeded)]


@pytest.mark.anyio
async def test_a_batch_agrees_what_it_can_and_says_why_not_for_the_rest() -> None:
    async with simulator() as (channel, _, client, _pushed):
        fresh = await channel.fetch_case(str((await file_refund(client))["refund_id"]))
        moved = await channel.fetch_case(str((await file_refund(client))["refund_id"]))
        large = await channel.fetch_case(str((await file_refund(client, refund_fen=250_000))["refund_id"]))
        await channel.commit_intercept(moved)  # moved's version is now stale
        results = await channel.approve_refunds([ApproveItem(fresh, "rf_1"), ApproveItem(moved, "rf_2"),
                                                 ApproveItem(large, "rf_3")])

    first, second, third = results
    assert first is None
    assert isinstance(second, ChannelRejected) and (second.code, second.kind) == (
        "isv.refund-version-expired", RejectionKind.stale)
    assert isinstance(third, ChannelRejected) and (third.code, third.kind) == (
        "isv.need-verify-code", RejectionKind.needs_person)


@pytest.mark.anyio
async def test_a_refusal_then_the_buyers_escalation_reads_as_arbitration() -> None:
    async with simulator() as (channel, world, client, pushed):
        filed = await file_refund(client, buyer={"escalate_after_rejection_seconds": 60})
        case = await channel.fetch_case(str(filed["refund_id"]))
        await channel.reject_refund(case, reason_code="", reason="包裹已在途，请拒收")
        await world.advance(61)
        await world.settle()
        refused = await channel.fetch_case(case.ref)

    assert (refused.status, refused.arbitration) == (PlatformStatus.rejected, ArbitrationStatus.requested)
    assert topics(channel, pushed)[-2:] == [
        ("taobao_refund_RefundSellerRefuseAgreement", MessageKind.refused),
        ("taobao_refund_TaobaoInterApplied", MessageKind.arbitration)]


@pytest.mark.anyio
async def test_the_simulator_refuses_a_wrong_session_and_a_wrong_secret_as_auth() -> None:
    async with simulator({**CREDENTIALS, "session": "WRONG"}) as (wrong_session, _, client, _pushed):
        filed = await file_refund(client)
        with pytest.raises(ChannelRejected) as session_error:
            await wrong_session.fetch_case(str(filed["refund_id"]))
        wrong_secret = Taobao(ChannelAccount("taobao", {**CREDENTIALS, "app_secret": "WRONG"},
                                             {"api": f"{BASE}/taobao"}), client)
        with pytest.raises(ChannelRejected) as secret_error:
            await wrong_secret.fetch_case(str(filed["refund_id"]))

    assert (session_error.value.code, session_error.value.kind) == ("27", RejectionKind.auth)
    assert (secret_error.value.code, secret_error.value.kind) == ("25", RejectionKind.auth)


@pytest.mark.anyio
async def test_the_relay_delivery_verifies_only_with_the_shops_secret() -> None:
    async with simulator() as (channel, world, client, pushed):
        await file_refund(client)
        await world.settle()
        other = Taobao(ChannelAccount("taobao", {**CREDENTIALS, "app_secret": "OTHER"}, {}), client)

        [request] = pushed
        assert json.loads(request.content)[0]["topic"] == "taobao_refund_RefundCreated"
        with pytest.raises(SignatureInvalid, match="does not match"):
            other.parse_push(request.content, "application/json", request.headers)
