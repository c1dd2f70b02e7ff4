"""The UPS adapter and the sandbox's UPS twin, written apart, agree on the wire (in process, over ASGI).

Each operation end to end, each refusal the twin can give, and the transport faults of the world's
fault plan. The twin's own rules are pinned in tests/sandbox/test_ups_twin.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest

from lanjie.carriers.base import (
    Address,
    CancelAck,
    CarrierAccount,
    InterceptAck,
    InterceptOutcome,
    InterceptRequest,
    InterceptState,
    Payer,
    Precheck,
)
from lanjie.carriers.errors import CarrierRejected, CarrierTimeout, CarrierUnavailable
from lanjie.carriers.ups import UPS, TokenCache
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus
from lanjie.sandbox import SandboxConfig, SandboxWorld, create_sandbox_app
from lanjie.sandbox.faults import FaultPlan, FaultSettings
from lanjie.sandbox.model import Channel, ForcedOutcome, TaskState
from lanjie.sandbox.route import ScanCode

START_AT = datetime(2025, 3, 1, 2, 0, 0, tzinfo=UTC)
BASE = "http://sandbox.test/ups"
HOUR = 3600.0
TN = "1Z999AA10000000001"
CREDENTIALS = {"client_id": "SANDBOXUPSCLIENT", "client_secret": "SANDBOXUPSSECRET", "account_number": "S4NDB0"}
US_ADDRESS = Address("张三 *~", "+1 (410) 555-0100", "12911 Fork Rd, Apt *~ 5, Baldwin, MD 21013")
FEE_WHEN = "only if the intercept completes"
BOTH = frozenset({InterceptType.return_to_sender, InterceptType.redirect})
S, R = TrackingStatus, InterceptReason


class ReadTimeoutTransport(httpx.AsyncBaseTransport):
    """ASGITransport enforces no timeout; this one gives up like a socket read would."""

    def __init__(self, inner: httpx.AsyncBaseTransport, seconds: float) -> None:
        self._inner, self._seconds = inner, seconds

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await asyncio.wait_for(self._inner.handle_async_request(request), self._seconds)
        except TimeoutError as exc:
            raise httpx.ReadTimeout("no answer in time", request=request) from exc


Wired = tuple[UPS, SandboxWorld]


@asynccontextmanager
async def twin(credentials: dict[str, str] = CREDENTIALS, *, read_timeout: float | None = None,
               clock: Callable[[], datetime] | None = None) -> AsyncIterator[Wired]:
    # time_factor 0: the sandbox clock moves only when the test advances it.
    world = SandboxWorld(SandboxConfig(time_factor=0.0, ack_latency_ms=0, start_at=START_AT, seed=7))
    transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app=create_sandbox_app(world))
    if read_timeout is not None:
        transport = ReadTimeoutTransport(transport, read_timeout)
    account = CarrierAccount("ups", credentials, {"api": BASE})
    try:
        async with httpx.AsyncClient(transport=transport) as client:
            yield UPS(account, client, clock=clock or world.clock.now, token_cache=TokenCache()), world
    finally:
        await world.stop()


def returned(waybill_no: str = TN) -> InterceptRequest:
    return InterceptRequest("ic_1", "ups", waybill_no, InterceptType.return_to_sender, "", reason="buyer refund")


def redirected(waybill_no: str = TN, address: Address | None = US_ADDRESS) -> InterceptRequest:
    return InterceptRequest("ic_2", "ups", waybill_no, InterceptType.redirect, "", address=address)


def requests_to(world: SandboxWorld, method: str) -> list[tuple[int, str]]:
    return [(e.http_status, e.code) for e in world.request_log if e.method == method]


# ---- each operation end to end ------------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_return_to_sender_is_prechecked_accepted_and_then_seen_turning_back(
        caplog: pytest.LogCaptureFixture) -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.in_transit)
        check = await carrier.precheck(returned())
        ack = await carrier.intercept(returned())
        pending = await carrier.query_intercept("ups", TN, ack.task_id)
        await world.advance(3 * HOUR)  # the flag is effective after 10 minutes; the next scan catches it
        done = await carrier.query_intercept("ups", TN, ack.task_id)
        snapshot = await carrier.query_tracking("ups", TN)
        task = world.parcels[TN].intercept

    assert check == Precheck(eligible=True, fee_minor=2100, currency="USD", payer=Payer.sender, fee_when=FEE_WHEN,
                             types=BOTH)
    assert ack == InterceptAck(accepted=True, task_id=task.task_id, message="Success")
    assert re.fullmatch(r"U\d{12}", ack.task_id or "")
    assert (task.intercept_type, task.fee_minor, task.requested_by, task.reason) == (
        InterceptType.return_to_sender, 2100, "SANDBOXUPSCLIENT", "AM")
    assert (pending, done) == (InterceptState(InterceptOutcome.pending, ack.task_id),
                               InterceptState(InterceptOutcome.succeeded, ack.task_id))
    assert [e.status for e in snapshot.events][:2] == [S.returning, S.in_transit]
    assert snapshot.events[0].code == "I/IR"
    assert caplog.records == []  # every code the twin sent is known


@pytest.mark.anyio
async def test_the_whole_return_journey_reads_with_known_codes(caplog: pytest.LogCaptureFixture) -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.at_destination)
        await carrier.intercept(returned())
        await world.advance(40 * HOUR)
        snapshot = await carrier.query_tracking("ups", TN)

    assert snapshot.status is S.returned
    assert [e.code for e in snapshot.events][:2] == ["RS/RS", "I/RT"]
    assert snapshot.events[-1].code == "M/MP"
    assert list(snapshot.events) == sorted(snapshot.events, key=lambda e: e.at, reverse=True)
    assert caplog.records == []


@pytest.mark.anyio
async def test_a_repeat_after_a_lost_answer_is_the_same_intercept_accepted_as_duplicate() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.in_transit)
        first = await carrier.intercept(returned())
        again = await carrier.intercept(returned())

    assert again == InterceptAck(accepted=True, task_id=first.task_id, reason=R.already_intercepted,
                                 message="An intercept request is already pending for this package", duplicate=True)


@pytest.mark.anyio
async def test_a_redirect_to_a_us_address_is_accepted_and_judged_by_its_redirect_scan() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.in_transit)
        ack = await carrier.intercept(redirected())
        await world.advance(40 * HOUR)  # caught, sent on, delivered to the new address
        state = await carrier.query_intercept("ups", TN, ack.task_id)
        task = world.parcels[TN].intercept
        status = world.parcels[TN].status

    assert ack.accepted and ack.task_id == task.task_id
    assert (task.intercept_type, task.fee_minor, status) == (InterceptType.redirect, 2100, S.delivered)
    assert task.new_recipient.address == "12911 Fork Rd, Apt *~ 5, Baldwin, MD, 21013, US"
    assert task.new_recipient.name == "张三 *~"
    assert state == InterceptState(InterceptOutcome.succeeded, ack.task_id)


@pytest.mark.anyio
async def test_a_will_call_is_free_and_shows_as_held() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.in_transit)
        ack = await carrier.will_call(TN, special_instructions="前台 * 代收 ~")
        await world.advance(4 * HOUR)
        state = await carrier.query_intercept("ups", TN, ack.task_id)
        snapshot = await carrier.query_tracking("ups", TN)
        task = world.parcels[TN].intercept

    assert (ack.accepted, task.fee_minor, task.report_to["request_type"]) == (True, 0, "WC")
    assert state == InterceptState(InterceptOutcome.succeeded, ack.task_id)
    assert "I/WC" in [e.code for e in snapshot.events]


@pytest.mark.anyio
async def test_a_pending_intercept_is_cancelled_and_then_no_longer_found() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.in_transit)
        ack = await carrier.intercept(returned())
        cancelled = await carrier.cancel_intercept("ups", TN, ack.task_id)
        state = await carrier.query_intercept("ups", TN, ack.task_id)
        again = await carrier.cancel_intercept("ups", TN, ack.task_id)
        check = await carrier.precheck(returned())
        parcel = world.parcels[TN]

    assert cancelled == CancelAck(accepted=True, message="Success")
    assert (parcel.intercept, [t.state for t in parcel.past_intercepts]) == (None, [TaskState.cancelled])
    assert state == InterceptState(InterceptOutcome.not_found, ack.task_id)
    assert again == CancelAck(accepted=False, message="No intercept request to cancel for this package")
    assert check.eligible is True  # a new intercept may follow


@pytest.mark.anyio
async def test_a_completed_intercept_can_no_longer_be_cancelled() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.in_transit)
        ack = await carrier.intercept(returned())
        await world.advance(3 * HOUR)
        answer = await carrier.cancel_intercept("ups", TN, ack.task_id)

    assert answer == CancelAck(accepted=False,
                               message="The intercept has already been completed and cannot be cancelled")


@pytest.mark.anyio
async def test_an_intercept_delivered_first_is_missed() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.out_for_delivery)
        ack = await carrier.intercept(returned())  # UPS intercepts until the first delivery attempt
        world.force_outcome(TN, ForcedOutcome.missed)
        state = await carrier.query_intercept("ups", TN, ack.task_id)

    assert ack.accepted
    assert state == InterceptState(InterceptOutcome.failed, ack.task_id, R.missed)


@pytest.mark.anyio
async def test_a_number_the_twin_does_not_know_has_no_trace_and_unknown_eligibility() -> None:
    async with twin() as (carrier, _):
        snapshot = await carrier.query_tracking("ups", TN)
        check = await carrier.precheck(returned())

    assert (snapshot.status, snapshot.events) == (S.created, ())
    assert (check.eligible, check.reason, check.fee_minor, check.types) == (None, None, None, frozenset())


# ---- each refusal the twin can give --------------------------------------------------------------------

@pytest.mark.parametrize(("stage", "reason"), [
    (S.created, R.not_picked_up),
    (S.delivered, R.already_delivered),
])
@pytest.mark.anyio
async def test_a_parcel_outside_the_window_is_refused_with_its_reason(stage: TrackingStatus,
                                                                     reason: InterceptReason) -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=stage)
        check = await carrier.precheck(returned())
        ack = await carrier.intercept(returned())

    assert (check.eligible, check.reason) == (False, R.not_supported)  # UPS says NOT_ELIGIBLE, not why
    assert (ack.accepted, ack.reason, ack.task_id) == (False, reason, None)
    assert world.parcels[TN].intercept is None


@pytest.mark.anyio
async def test_a_parcel_out_for_delivery_can_still_be_intercepted() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.out_for_delivery)
        check = await carrier.precheck(returned())
        ack = await carrier.intercept(returned())

    assert (check.eligible, ack.accepted) == (True, True)


@pytest.mark.anyio
async def test_an_unknown_number_is_not_supported() -> None:
    async with twin() as (carrier, _):
        ack = await carrier.intercept(returned())

    assert (ack.accepted, ack.reason, ack.message) == (False, R.not_supported, "Tracking number not found")


@pytest.mark.anyio
async def test_a_lost_parcel_is_not_supported() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.in_transit)
        world.inject(TN, ScanCode.lost)
        ack = await carrier.intercept(returned())
        snapshot = await carrier.query_tracking("ups", TN)

    assert (ack.accepted, ack.reason) == (False, R.not_supported)
    assert snapshot.status is S.lost


@pytest.mark.anyio
async def test_an_intercept_that_completed_is_already_intercepted() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.in_transit)
        await carrier.intercept(returned())
        await world.advance(3 * HOUR)
        ack = await carrier.intercept(returned())
        check = await carrier.precheck(returned())

    assert (ack.accepted, ack.reason, ack.duplicate) == (False, R.already_intercepted, False)
    assert (check.eligible, check.reason) == (False, R.not_supported)


@pytest.mark.anyio
async def test_another_shippers_pending_intercept_is_already_intercepted() -> None:
    async with twin() as (carrier, world):
        world.twins["ups"].register_account({"client_id": "OTHERCLIENT", "client_secret": "OTHERSECRET"})
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.in_transit)
        await carrier.intercept(returned())
        account = CarrierAccount("ups", {"client_id": "OTHERCLIENT", "client_secret": "OTHERSECRET"}, {"api": BASE})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_sandbox_app(world))) as client:
            other = UPS(account, client, token_cache=TokenCache())
            ack = await other.intercept(returned())
            cancel = await other.cancel_intercept("ups", TN, None)

    assert (ack.accepted, ack.reason, ack.duplicate) == (False, R.already_intercepted, False)
    assert cancel.accepted is False


@pytest.mark.anyio
async def test_a_pending_intercept_shows_in_precheck_as_already_intercepted() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.in_transit)
        await carrier.intercept(returned())
        check = await carrier.precheck(returned())

    assert (check.eligible, check.reason, check.types) == (False, R.already_intercepted, frozenset())


@pytest.mark.anyio
async def test_a_field_the_twin_refuses_is_a_rejected_request() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.in_transit)
        with pytest.raises(CarrierRejected) as caught:
            await carrier.will_call(TN, special_instructions="x" * 255)

    assert (caught.value.code, caught.value.reason) == ("710", R.carrier_error)
    assert caught.value.message == "specialInstructions: required, a string of 1-254 characters"
    assert world.parcels[TN].intercept is None


@pytest.mark.anyio
async def test_a_wrong_secret_is_auth_failed_at_the_token() -> None:
    async with twin({**CREDENTIALS, "client_secret": "WRONG"}) as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.in_transit)
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(returned())

    assert (caught.value.code, caught.value.reason) == ("10401", R.auth_failed)
    assert requests_to(world, "return") == []


@pytest.mark.anyio
async def test_a_wrong_shipper_number_is_auth_failed_at_the_token() -> None:
    async with twin({**CREDENTIALS, "account_number": "OTHER1"}) as (carrier, _):
        with pytest.raises(CarrierRejected) as caught:
            await carrier.query_tracking("ups", TN)

    assert (caught.value.code, caught.value.reason) == ("10401", R.auth_failed)


@pytest.mark.anyio
async def test_an_expired_account_is_auth_failed() -> None:
    async with twin() as (carrier, world):
        world.twins["ups"].register_account(CREDENTIALS, expired=True)
        with pytest.raises(CarrierRejected) as caught:
            await carrier.query_tracking("ups", TN)

    assert caught.value.reason == R.auth_failed


@pytest.mark.anyio
async def test_a_revoked_token_is_replaced_and_the_call_goes_through() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.in_transit)
        await carrier.query_tracking("ups", TN)
        assert world.twins["ups"].revoke_tokens("SANDBOXUPSCLIENT") == 1
        ack = await carrier.intercept(returned())

    assert ack.accepted
    assert requests_to(world, "token") == [(200, "200"), (200, "200")]
    assert requests_to(world, "return") == [(401, "250002"), (200, "000")]


@pytest.mark.anyio
async def test_a_token_the_twin_expired_is_replaced_when_our_clock_thinks_it_still_good() -> None:
    async with twin(clock=lambda: START_AT) as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.in_transit)
        await carrier.query_tracking("ups", TN)
        await world.advance(14399)  # the twin's token lifetime
        snapshot = await carrier.query_tracking("ups", TN)

    assert snapshot.events
    assert requests_to(world, "track") == [(200, "200"), (401, "250002"), (200, "200")]


@pytest.mark.anyio
async def test_many_calls_share_one_token_and_none_shows_it() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.in_transit)
        await carrier.precheck(returned())
        await carrier.intercept(returned())
        await carrier.query_intercept("ups", TN, None)
        tokens = list(world.twins["ups"].oauth.tokens)

    assert len(tokens) == 1 and len(requests_to(world, "token")) == 1
    shown = " ".join(e.request_body + e.response_body + e.url for e in carrier.exchanges)
    assert tokens[0] not in shown
    assert "SANDBOXUPSSECRET" not in shown


# ---- faults of the world's plan ------------------------------------------------------------------------

def _faults(world: SandboxWorld, channel: Channel, **settings: float) -> None:
    world.faults.set_plan(FaultPlan(channels={channel: FaultSettings(**settings)}))


@pytest.mark.anyio
async def test_a_rate_limit_is_rejected_as_rate_limited() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.in_transit)
        _faults(world, Channel.intercept, rate_limit_per_second=1)
        first = await carrier.intercept(returned())
        with pytest.raises(CarrierRejected) as caught:
            await carrier.intercept(returned())

    assert first.accepted
    assert (caught.value.code, caught.value.reason) == ("10429", R.rate_limited)


@pytest.mark.anyio
async def test_a_5xx_is_carrier_unavailable_and_nothing_happened() -> None:
    async with twin() as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.in_transit)
        _faults(world, Channel.intercept, error_rate=1.0)
        with pytest.raises(CarrierUnavailable) as caught:
            await carrier.intercept(returned())
        state = await carrier.query_intercept("ups", TN, None)

    assert type(caught.value) is CarrierUnavailable
    assert world.parcels[TN].intercept is None
    assert state == InterceptState(InterceptOutcome.not_found, None)  # safe to send again


@pytest.mark.anyio
async def test_a_held_answer_is_a_timeout_whose_intercept_happened_and_a_repeat_is_the_same_one() -> None:
    async with twin(read_timeout=0.2) as (carrier, world):
        world.create_parcel(carrier_code="ups", waybill_no=TN, stage=S.in_transit)
        await carrier.query_tracking("ups", TN)  # the token, before the intercept channel is held
        _faults(world, Channel.intercept, timeout_rate=1.0, timeout_seconds=5.0)
        with pytest.raises(CarrierTimeout):
            await carrier.intercept(returned())
        state = await carrier.query_intercept("ups", TN, None)
        world.faults.set_plan(FaultPlan())
        again = await carrier.intercept(returned())
        task = world.parcels[TN].intercept

    assert state.outcome is InterceptOutcome.pending
    assert (again.accepted, again.duplicate, again.task_id) == (True, True, task.task_id)
