"""The intercept's job handlers: submit it (asking the carrier first after a lost answer), confirm a pushed
outcome with the carrier's own query, and withdraw it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lanjie.carriers.base import Address as CarrierAddress
from lanjie.carriers.base import Carrier, InterceptOutcome, InterceptRequest, InterceptState
from lanjie.carriers.errors import CarrierError, CarrierRejected, CarrierTimeout, CarrierUnavailable
from lanjie.domain.model import AfterSale, Intercept, Shipment
from lanjie.domain.states import InterceptReason, InterceptStatus, TrackingStatus
from lanjie.faults import checkpoint
from lanjie.service import commands, shops
from lanjie.service.carrier_jobs import CarrierJobs
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store import jobs, repository
from lanjie.store.jobs import PermanentJobError


class NotYetConfirmed(Exception):
    """The carrier's own query does not confirm the pushed outcome yet; try again later."""


#: Tracking that means an intercept's outcome: turned back (succeeded) or delivered (failed).
OUTCOME_STATUSES = {TrackingStatus.returning, TrackingStatus.returned, TrackingStatus.delivered}


async def submit_intercept(wf: CarrierJobs, job: jobs.Job) -> None:
    """Send the intercept request; after a lost answer, ask the carrier before sending again."""
    p = job.payload

    def start() -> tuple[InterceptStatus, Shipment, Carrier, shops.AccountRecord, Intercept] | None:
        with wf.uow(p["shop_id"]) as u:
            case = commands.load_case(u, p["shop_id"], p["case_id"])
            icpt = case.intercept(p["intercept_id"])
            if icpt.status not in (InterceptStatus.requested, InterceptStatus.unknown):
                wf.finish(u, job)
                return None
            case.intercept_attempt_started(icpt.id, u.now)
            shipment, adapter, account = _parcel(wf, u, case, icpt)
            u.save(case)
            u.commit()
            return icpt.status, shipment, adapter, account, icpt

    started = await wf.db(start)
    if started is None:
        return
    status, shipment, adapter, account, icpt = started

    if status == InterceptStatus.unknown:
        state = await _query(wf, job, adapter, shipment, icpt)
        if state.outcome in (InterceptOutcome.succeeded, InterceptOutcome.failed):
            await wf.db(lambda: wf.apply(job, adapter, lambda u, c: _apply_state(c, icpt.id, state, u.now)))
            return
        if state.outcome == InterceptOutcome.pending:
            # The carrier says it holds our intercept: the lost answer was an acceptance. Sending it
            # again could register a second one (whether carriers de-duplicate is unknown).
            evidence = {"confirmed_by": "query", "outcome": state.outcome, "message": state.message}
            await wf.db(lambda: wf.apply(job, adapter, lambda u, c: _submitted(
                u, c, icpt, task_id=state.task_id, evidence=evidence)))
            return
        # The carrier knows no intercept (not_found), or its answer cannot tell (indeterminate: a
        # trace reading): a new request goes; a repeat of one it holds is answered "already".
        await wf.db(lambda: wf.apply(
            job, adapter, lambda u, c: c.intercept_resubmittable(icpt.id, u.now), finish=False))

    request = InterceptRequest(
        request_id=icpt.id, carrier_code=shipment.carrier_code, waybill_no=shipment.waybill_no,
        intercept_type=icpt.type, callback_url=wf.gateway.callback_url(account), order_id=shipment.order_id,
        reason="buyer refund request", phone_tail=shipment.recipient.phone[-4:],
        address=CarrierAddress(icpt.address.name, icpt.address.phone, icpt.address.address)
        if icpt.address else None,
        return_address=CarrierAddress(shipment.sender.name, shipment.sender.phone, shipment.sender.address)
        if shipment.sender.address else None)
    try:
        ack = await adapter.intercept(request)
    except CarrierTimeout as exc:
        note = f"no answer: {exc}"
        await wf.db(lambda: wf.apply(
            job, adapter, lambda u, c: c.intercept_unknown(icpt.id, u.now, note), finish=False))
        raise
    except CarrierRejected as exc:
        rejected = exc
        if rejected.reason == InterceptReason.rate_limited:
            await wf.db(lambda: wf.apply(
                job, adapter, lambda u, c: c.intercept_submit_not_sent(icpt.id), finish=False))
            raise
        await wf.db(lambda: wf.apply(job, adapter, lambda u, c: c.intercept_refused(
            icpt.id, reason=InterceptReason(rejected.reason), message=rejected.message, now=u.now)))
        return
    except CarrierUnavailable:
        await wf.db(lambda: wf.apply(
            job, adapter, lambda u, c: c.intercept_submit_not_sent(icpt.id), finish=False))
        raise
    checkpoint("intercept.after_carrier_call")

    def answer(u: UnitOfWork, case: AfterSale) -> None:
        if ack.accepted:
            fee = {"amount_minor": ack.fee_minor, "currency": ack.currency} if ack.fee_minor is not None else None
            _submitted(u, case, icpt, task_id=ack.task_id, duplicate=ack.duplicate, fee=fee)
        else:
            case.intercept_refused(icpt.id, reason=ack.reason or InterceptReason.carrier_error,
                                   message=ack.message, now=u.now)

    await wf.db(lambda: wf.apply(job, adapter, answer))


async def _query(wf: CarrierJobs, job: jobs.Job, adapter: Carrier, shipment: Shipment,
                 icpt: Intercept) -> InterceptState:
    """The carrier's own view of the intercept; a failed query still keeps its exchanges."""
    try:
        return await adapter.query_intercept(shipment.carrier_code, shipment.waybill_no, icpt.task_id,
                                             shipment.recipient.phone[-4:])
    except CarrierError:
        await wf.db(lambda: wf.apply(job, adapter, lambda u, c: None, finish=False))
        raise


async def confirm_intercept(wf: CarrierJobs, job: jobs.Job) -> None:
    """Pull-to-confirm: a pushed outcome only counts once the carrier's own query agrees."""
    p = job.payload
    loaded = await _load(wf, job, (InterceptStatus.submitted, InterceptStatus.cancel_requested))
    if loaded is None:
        return
    shipment, adapter, icpt = loaded
    state = await _query(wf, job, adapter, shipment, icpt)
    hint = p.get("pushed_outcome")
    if state.outcome == InterceptOutcome.indeterminate and hint == InterceptOutcome.failed:
        # The trace cannot confirm a failure that left the parcel where it was. A failure moves no
        # money (its fallback, 拒签后退款, pays only on a queried refusal): take it, the rule decides
        # next. A carrier that says it still holds the intercept (pending) is believed over the push.
        state = InterceptState(InterceptOutcome.failed, icpt.task_id,
                               InterceptReason(p.get("reason") or InterceptReason.carrier_error),
                               p.get("message", ""))
    if state.outcome not in (InterceptOutcome.succeeded, InterceptOutcome.failed):
        await wf.db(lambda: wf.apply(job, adapter, lambda u, c: None, finish=False))
        if hint == InterceptOutcome.succeeded or (hint == InterceptOutcome.failed
                                                  and state.outcome == InterceptOutcome.pending):
            raise NotYetConfirmed(f"carrier query shows {state.outcome} for {shipment.waybill_no}")
        await wf.db(lambda: wf.apply(job, None, lambda u, c: None))
        return
    await wf.db(lambda: wf.apply(job, adapter, lambda u, c: _apply_state(c, icpt.id, state, u.now,
                                                                              pushed=hint)))


async def cancel_intercept(wf: CarrierJobs, job: jobs.Job) -> None:
    """Ask the carrier to withdraw the intercept; too late means it runs on to its outcome."""
    loaded = await _load(wf, job, (InterceptStatus.cancel_requested,))
    if loaded is None:
        return
    shipment, adapter, icpt = loaded
    if job.attempts > 1:
        # An earlier attempt may have reached the carrier before its answer was lost: if the
        # carrier no longer knows the intercept, that cancel took effect.
        state = await _query(wf, job, adapter, shipment, icpt)
        if state.outcome == InterceptOutcome.not_found:
            await wf.db(lambda: wf.apply(job, adapter, lambda u, c: c.intercept_cancelled(
                icpt.id, message="cancelled (confirmed by a query after a lost answer)", now=u.now)))
            return
    try:
        answer = await adapter.cancel_intercept(shipment.carrier_code, shipment.waybill_no, icpt.task_id)
    except CarrierRejected as exc:
        rejected = exc
        if rejected.reason == InterceptReason.rate_limited:
            await wf.db(lambda: wf.apply(job, adapter, lambda u, c: None, finish=False))
            raise
        await wf.db(lambda: wf.apply(job, adapter, lambda u, c: c.intercept_cancel_refused(
            icpt.id, message=f"{rejected.code}: {rejected.message}")))
        return
    except CarrierError:
        await wf.db(lambda: wf.apply(job, adapter, lambda u, c: None, finish=False))
        raise

    def record(u: UnitOfWork, case: AfterSale) -> None:
        if answer.accepted:
            case.intercept_cancelled(icpt.id, message=answer.message, now=u.now)
        else:
            case.intercept_cancel_refused(icpt.id, message=answer.message)

    await wf.db(lambda: wf.apply(job, adapter, record))


async def _load(wf: CarrierJobs, job: jobs.Job,
                statuses: tuple[InterceptStatus, ...]) -> tuple[Shipment, Carrier, Intercept] | None:
    """The job's intercept with its parcel and adapter; None, the job finished, once the intercept has left
    ``statuses`` (another job or a person settled it)."""
    p = job.payload

    def load() -> tuple[Shipment, Carrier, Intercept] | None:
        with wf.uow(p["shop_id"]) as u:
            case = commands.load_case(u, p["shop_id"], p["case_id"])
            icpt = case.intercept(p["intercept_id"])
            if icpt.status not in statuses:
                wf.finish(u, job)
                return None
            shipment, adapter, _ = _parcel(wf, u, case, icpt)
            return shipment, adapter, icpt

    return await wf.db(load)


def _parcel(wf: CarrierJobs, u: UnitOfWork, case: AfterSale,
            icpt: Intercept) -> tuple[Shipment, Carrier, shops.AccountRecord]:
    """The intercepted parcel, and the adapter and account that intercept it."""
    shipment = u.shipment(case.shop_id, icpt.shipment_id)
    assert shipment is not None
    # A carrier without a public intercept API (ZTO, J&T, …) is intercepted through its aggregator.
    plugin = wf.gateway.intercept_plugin(shipment.carrier)
    account = shops.account_for(u.conn, case.shop_id, plugin)
    if account is None:
        raise PermanentJobError(f"no {plugin} account for shop {case.shop_id} (needed to intercept "
                                f"{shipment.carrier} parcels)")
    return shipment, wf.gateway.adapter(account), account


def _apply_state(case: AfterSale, intercept_id: str, state: InterceptState, now: datetime,
                 pushed: str | None = None) -> None:
    evidence = {"confirmed_by": "carrier_query", "outcome": state.outcome, "task_id": state.task_id,
                "message": state.message, "pushed_outcome": pushed}
    if state.outcome == InterceptOutcome.succeeded:
        case.intercept_succeeded(intercept_id, now=now, evidence=evidence)
    else:
        case.intercept_failed(intercept_id, reason=state.reason or InterceptReason.carrier_error,
                              message=state.message, now=now)


def _submitted(u: UnitOfWork, case: AfterSale, icpt: Intercept, *, task_id: str | None, duplicate: bool = False,
               fee: dict[str, Any] | None = None, evidence: dict[str, Any] | None = None) -> None:
    """The carrier holds the intercept (its answer, or a query after a lost one)."""
    case.intercept_acknowledged(icpt.id, task_id=task_id, now=u.now, duplicate=duplicate, fee=fee, evidence=evidence)
    # A push may have beaten this answer (the parcel already turned back, or was delivered): it found
    # no submitted intercept to confirm then, so confirm now.
    parcel = u.shipment(case.shop_id, icpt.shipment_id)
    if parcel is not None and parcel.tracking_status in OUTCOME_STATUSES:
        outcome = InterceptOutcome.failed if parcel.tracking_status == TrackingStatus.delivered \
            else InterceptOutcome.succeeded
        queue_confirmation(u, case.shop_id, parcel.waybill_no, outcome, trigger=f"ack:{icpt.id}")


def queue_confirmation(u: UnitOfWork, shop_id: str, waybill_no: str, outcome: InterceptOutcome, *,
                       trigger: str, reason: InterceptReason | None = None, message: str = "") -> None:
    """Queue the carrier query that confirms an outcome a push or a scan reported for the parcel's intercepts."""
    # One confirmation per triggering push: a later, genuine push must still get its own query
    # even when an earlier (perhaps forged) one's confirmation gave up.
    shipment = u.shipment_by_waybill(shop_id, waybill_no)
    if shipment is None:
        return
    for case_id in repository.case_ids_for_shipment(u.conn, shop_id=shop_id, shipment_id=shipment.id):
        case = u.case(shop_id, case_id)
        icpt = case.active_intercept_for(shipment.id) if case else None
        if case is None or icpt is None or icpt.status not in (InterceptStatus.submitted,
                                                                 InterceptStatus.cancel_requested):
            continue
        u.enqueue(commands.CONFIRM_INTERCEPT,
                  {"shop_id": shop_id, "case_id": case_id, "intercept_id": icpt.id, "pushed_outcome": outcome,
                   "reason": reason, "message": message},
                  key=f"confirm:{icpt.id}:{trigger}", shop_id=shop_id, concurrency_key=f"carrier:{shipment.carrier}")
