"""Job handlers: the work that crosses the network, run by the worker from the job table.

Each handler reads in one transaction, calls the carrier outside any transaction, and writes the
result together with the job's completion in a final transaction — so a worker killed at any line
leaves either nothing or everything, and the next attempt knows what it must check first.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import anyio
import sqlalchemy as sa

from lanjie.carriers.base import Address as CarrierAddress
from lanjie.carriers.base import (
    Capability,
    Carrier,
    InterceptOutcome,
    InterceptRequest,
    InterceptState,
    Subscription,
    TrackingSnapshot,
)
from lanjie.carriers.errors import CarrierError, CarrierRejected, CarrierTimeout, CarrierUnavailable
from lanjie.domain.model import AfterSale, Intercept, Shipment
from lanjie.domain.states import InterceptReason, InterceptStatus, TrackingStatus
from lanjie.faults import checkpoint
from lanjie.service import claims, commands, followups, shops
from lanjie.service.carriers import CarrierGateway
from lanjie.service.ids import utcnow
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store import jobs, repository
from lanjie.store import tables as t
from lanjie.store.db import tenant
from lanjie.store.jobs import PermanentJobError

log = logging.getLogger("lanjie.workflows")
T = TypeVar("T")


class NotYetConfirmed(Exception):
    """The carrier's own query does not confirm the pushed outcome yet; try again later."""


class Workflows:
    """The job handlers, bound to the database, the carrier gateway and a wake-up hook."""

    def __init__(self, engine: sa.Engine, gateway: CarrierGateway,
                 on_commit: Callable[[], None] | None = None, now: Callable[[], datetime] = utcnow):
        self.engine, self.gateway, self.on_commit, self.now = engine, gateway, on_commit, now
        # Called with every case a carrier job changed, before it is saved (the channel side's hook).
        self.after_change: list[Callable[[UnitOfWork, AfterSale], None]] = []
        # Job handlers get threads of their own, so jobs waiting on the database never take the
        # threads the API needs to answer (the merchant's click comes first).
        self._threads: anyio.CapacityLimiter | None = None

    def handlers(self) -> dict[str, Callable[[jobs.Job], Any]]:
        return {
            commands.SUBMIT_INTERCEPT: self.submit_intercept,
            commands.CONFIRM_INTERCEPT: self.confirm_intercept,
            commands.EXECUTE_REFUND: self.execute_refund,
            commands.SUBSCRIBE_TRACKING: self.subscribe_tracking,
            commands.PROCESS_INBOX: self.process_inbox,
            commands.CANCEL_INTERCEPT: self.cancel_intercept,
            commands.POLL_TRACKING: self.poll_tracking,
            followups.CHECK_REFUSAL: lambda job: followups.check_refusal(self, job),
        }

    def uow(self, shop_id: str) -> UnitOfWork:
        """A unit of work for one shop's job (PostgreSQL RLS limits it to that shop)."""
        return UnitOfWork(tenant(self.engine, shop_id), self.now(), on_commit=self.on_commit)

    async def _db(self, fn: Callable[[], T]) -> T:
        if self._threads is None:
            self._threads = anyio.CapacityLimiter(8)
        return await anyio.to_thread.run_sync(fn, limiter=self._threads)

    def _finish(self, u: UnitOfWork, job: jobs.Job) -> None:
        jobs.complete(u.conn, job_id=job.id, worker_id=job.locked_by)
        u.commit()

    def _parcel(self, u: UnitOfWork, case: AfterSale, icpt: Intercept) -> tuple[Shipment, Carrier, shops.AccountRecord]:
        shipment = u.shipment(case.shop_id, icpt.shipment_id)
        assert shipment is not None
        # A carrier without a public intercept API (ZTO, J&T, …) is intercepted through its aggregator.
        plugin = self.gateway.intercept_plugin(shipment.carrier)
        account = shops.account_for(u.conn, case.shop_id, plugin)
        if account is None:
            raise PermanentJobError(f"no {plugin} account for shop {case.shop_id} (needed to intercept "
                                    f"{shipment.carrier} parcels)")
        return shipment, self.gateway.adapter(account), account

    def _apply(self, job: jobs.Job, adapter: Carrier | None, change: Callable[[UnitOfWork, AfterSale], None],
               *, finish: bool = True) -> None:
        """Load the case, apply ``change``, keep the carrier exchanges, enqueue a due refund, commit."""
        p = job.payload
        with self.uow(p["shop_id"]) as u:
            _lock_parcels(u, p["shop_id"], case_id=p["case_id"])
            case = commands.load_case(u, p["shop_id"], p["case_id"])
            change(u, case)
            commands.enqueue_refund_if_new(u, case)
            for hook in self.after_change:
                hook(u, case)
            u.save(case)
            if adapter is not None:
                carrier = type(adapter).name
                u.record_exchanges(shop_id=case.shop_id, carrier=carrier, aftersale_id=case.id,
                                   subject_id=p.get("intercept_id"), exchanges=adapter.exchanges)
                adapter.exchanges.clear()
            if finish:
                jobs.complete(u.conn, job_id=job.id, worker_id=job.locked_by)
            u.commit()

    # ------------------------------------------------------------------ intercept.submit
    async def submit_intercept(self, job: jobs.Job) -> None:
        """Send the intercept request; after a lost answer, ask the carrier before sending again."""
        p = job.payload

        def start() -> tuple[InterceptStatus, Shipment, Carrier, shops.AccountRecord, Intercept] | None:
            with self.uow(p["shop_id"]) as u:
                case = commands.load_case(u, p["shop_id"], p["case_id"])
                icpt = case.intercept(p["intercept_id"])
                if icpt.status not in (InterceptStatus.requested, InterceptStatus.unknown):
                    self._finish(u, job)
                    return None
                case.intercept_attempt_started(icpt.id, u.now)
                shipment, adapter, account = self._parcel(u, case, icpt)
                u.save(case)
                u.commit()
                return icpt.status, shipment, adapter, account, icpt

        started = await self._db(start)
        if started is None:
            return
        status, shipment, adapter, account, icpt = started

        if status == InterceptStatus.unknown:
            state = await self._query(job, adapter, shipment, icpt)
            if state.outcome in (InterceptOutcome.succeeded, InterceptOutcome.failed):
                await self._db(lambda: self._apply(job, adapter, lambda u, c: _apply_state(c, icpt.id, state, u.now)))
                return
            if state.outcome == InterceptOutcome.pending:
                # The carrier says it holds our intercept: the lost answer was an acceptance. Sending it
                # again could register a second one (whether carriers de-duplicate is unknown).
                evidence = {"confirmed_by": "query", "outcome": state.outcome, "message": state.message}
                await self._db(lambda: self._apply(job, adapter, lambda u, c: _submitted(
                    u, c, icpt, task_id=state.task_id, evidence=evidence)))
                return
            # The carrier knows no intercept (not_found), or its answer cannot tell (indeterminate: a
            # trace reading): a new request goes; a repeat of one it holds is answered "already".
            await self._db(lambda: self._apply(
                job, adapter, lambda u, c: c.intercept_resubmittable(icpt.id, u.now), finish=False))

        request = InterceptRequest(
            request_id=icpt.id, carrier_code=shipment.carrier_code, waybill_no=shipment.waybill_no,
            intercept_type=icpt.type, callback_url=self.gateway.callback_url(account), order_id=shipment.order_id,
            reason="buyer refund request", phone_tail=shipment.recipient.phone[-4:],
            address=CarrierAddress(icpt.address.name, icpt.address.phone, icpt.address.address)
            if icpt.address else None,
            return_address=CarrierAddress(shipment.sender.name, shipment.sender.phone, shipment.sender.address)
            if shipment.sender.address else None)
        try:
            ack = await adapter.intercept(request)
        except CarrierTimeout as exc:
            note = f"no answer: {exc}"
            await self._db(lambda: self._apply(
                job, adapter, lambda u, c: c.intercept_unknown(icpt.id, u.now, note), finish=False))
            raise
        except CarrierRejected as exc:
            rejected = exc
            if rejected.reason == InterceptReason.rate_limited:
                await self._db(lambda: self._apply(
                    job, adapter, lambda u, c: c.intercept_submit_not_sent(icpt.id), finish=False))
                raise
            await self._db(lambda: self._apply(job, adapter, lambda u, c: c.intercept_refused(
                icpt.id, reason=InterceptReason(rejected.reason), message=rejected.message, now=u.now)))
            return
        except CarrierUnavailable:
            await self._db(lambda: self._apply(
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

        await self._db(lambda: self._apply(job, adapter, answer))

    async def _query(self, job: jobs.Job, adapter: Carrier, shipment: Shipment, icpt: Intercept) -> InterceptState:
        try:
            return await adapter.query_intercept(shipment.carrier_code, shipment.waybill_no, icpt.task_id,
                                                 shipment.recipient.phone[-4:])
        except CarrierError:
            await self._db(lambda: self._apply(job, adapter, lambda u, c: None, finish=False))
            raise

    # ------------------------------------------------------------------ intercept.confirm
    async def confirm_intercept(self, job: jobs.Job) -> None:
        """Pull-to-confirm: a pushed outcome only counts once the carrier's own query agrees."""
        p = job.payload

        def load() -> tuple[Shipment, Carrier, Intercept] | None:
            with self.uow(p["shop_id"]) as u:
                case = commands.load_case(u, p["shop_id"], p["case_id"])
                icpt = case.intercept(p["intercept_id"])
                if icpt.status not in (InterceptStatus.submitted, InterceptStatus.cancel_requested):
                    self._finish(u, job)
                    return None
                shipment, adapter, _ = self._parcel(u, case, icpt)
                return shipment, adapter, icpt

        loaded = await self._db(load)
        if loaded is None:
            return
        shipment, adapter, icpt = loaded
        state = await self._query(job, adapter, shipment, icpt)
        hint = p.get("pushed_outcome")
        if state.outcome == InterceptOutcome.indeterminate and hint == InterceptOutcome.failed:
            # The trace cannot confirm a failure that left the parcel where it was. A failure moves no
            # money (its fallback, 拒签后退款, pays only on a queried refusal): take it, the rule decides
            # next. A carrier that says it still holds the intercept (pending) is believed over the push.
            state = InterceptState(InterceptOutcome.failed, icpt.task_id,
                                   InterceptReason(p.get("reason") or InterceptReason.carrier_error),
                                   p.get("message", ""))
        if state.outcome not in (InterceptOutcome.succeeded, InterceptOutcome.failed):
            await self._db(lambda: self._apply(job, adapter, lambda u, c: None, finish=False))
            if hint == InterceptOutcome.succeeded or (hint == InterceptOutcome.failed
                                                      and state.outcome == InterceptOutcome.pending):
                raise NotYetConfirmed(f"carrier query shows {state.outcome} for {shipment.waybill_no}")
            await self._db(lambda: self._apply(job, None, lambda u, c: None))
            return
        await self._db(lambda: self._apply(job, adapter, lambda u, c: _apply_state(c, icpt.id, state, u.now,
                                                                                  pushed=hint)))

    # ------------------------------------------------------------------ intercept.cancel
    async def cancel_intercept(self, job: jobs.Job) -> None:
        """Ask the carrier to withdraw the intercept; too late means it runs on to its outcome."""
        p = job.payload

        def load() -> tuple[Shipment, Carrier, Intercept] | None:
            with self.uow(p["shop_id"]) as u:
                case = commands.load_case(u, p["shop_id"], p["case_id"])
                icpt = case.intercept(p["intercept_id"])
                if icpt.status != InterceptStatus.cancel_requested:
                    self._finish(u, job)
                    return None
                shipment, adapter, _ = self._parcel(u, case, icpt)
                return shipment, adapter, icpt

        loaded = await self._db(load)
        if loaded is None:
            return
        shipment, adapter, icpt = loaded
        if job.attempts > 1:
            # An earlier attempt may have reached the carrier before its answer was lost: if the
            # carrier no longer knows the intercept, that cancel took effect.
            state = await self._query(job, adapter, shipment, icpt)
            if state.outcome == InterceptOutcome.not_found:
                await self._db(lambda: self._apply(job, adapter, lambda u, c: c.intercept_cancelled(
                    icpt.id, message="cancelled (confirmed by a query after a lost answer)", now=u.now)))
                return
        try:
            answer = await adapter.cancel_intercept(shipment.carrier_code, shipment.waybill_no, icpt.task_id)
        except CarrierRejected as exc:
            rejected = exc
            if rejected.reason == InterceptReason.rate_limited:
                await self._db(lambda: self._apply(job, adapter, lambda u, c: None, finish=False))
                raise
            await self._db(lambda: self._apply(job, adapter, lambda u, c: c.intercept_cancel_refused(
                icpt.id, message=f"{rejected.code}: {rejected.message}")))
            return
        except CarrierError:
            await self._db(lambda: self._apply(job, adapter, lambda u, c: None, finish=False))
            raise

        def record(u: UnitOfWork, case: AfterSale) -> None:
            if answer.accepted:
                case.intercept_cancelled(icpt.id, message=answer.message, now=u.now)
            else:
                case.intercept_cancel_refused(icpt.id, message=answer.message)

        await self._db(lambda: self._apply(job, adapter, record))

    # ------------------------------------------------------------------ refund.execute
    async def execute_refund(self, job: jobs.Job) -> None:
        """Approve and record the refund under its fixed number (the REST channel pays on our event)."""
        p = job.payload

        def settle(u: UnitOfWork, case: AfterSale) -> None:
            refund = case.refund(p["refund_id"])
            if refund.status == "pending":
                case.refund_approved(refund.id)
            if refund.status == "approved":
                # Sales-channel plugins (Douyin, Taobao) call the platform here with refund.refund_no;
                # the REST channel's merchant system acts on the refund.succeeded event.
                case.refund_succeeded(refund.id)

        await self._db(lambda: self._apply(job, None, settle))

    # ------------------------------------------------------------------ tracking.subscribe
    async def subscribe_tracking(self, job: jobs.Job) -> None:
        p = job.payload

        def load() -> tuple[Shipment, Carrier, shops.AccountRecord]:
            with self.uow(p["shop_id"]) as u:
                s = u.shipment(p["shop_id"], p["shipment_id"])
                if s is None:
                    raise PermanentJobError(f"shipment {p['shipment_id']} is gone")
                account = shops.account_for(u.conn, s.shop_id, s.carrier)
                if account is None:
                    raise PermanentJobError(f"no {s.carrier} account for shop {s.shop_id}")
                return s, self.gateway.adapter(account), account

        shipment, adapter, account = await self._db(load)
        if Capability.subscribe not in adapter.capabilities:
            # No tracking push (UPS, JD): lanjie asks for the trace itself, from now until it ends.
            def start_polling() -> None:
                with self.uow(p["shop_id"]) as u:
                    _enqueue_poll(u, shipment.shop_id, shipment.id, 0, u.now)
                    self._finish(u, job)
            await self._db(start_polling)
            return
        try:
            await adapter.subscribe(Subscription(shipment.carrier_code, shipment.waybill_no,
                                                 self.gateway.callback_url(account), shipment.recipient.phone[-4:]))
        finally:
            def record() -> None:
                with self.uow(p["shop_id"]) as u:
                    u.record_exchanges(shop_id=shipment.shop_id, carrier=shipment.carrier, aftersale_id=None,
                                       subject_id=shipment.id, exchanges=adapter.exchanges)
                    u.commit()
            await self._db(record)
        await self._db(lambda: self._complete(job))

    def _complete(self, job: jobs.Job) -> None:
        with self.uow(job.payload["shop_id"]) as u:
            self._finish(u, job)

    # ------------------------------------------------------------------ tracking.poll
    async def poll_tracking(self, job: jobs.Job) -> None:
        """Query a push-less carrier's trace, apply it, and come back later unless the parcel's journey ended."""
        p = job.payload

        def load() -> tuple[Shipment, Carrier] | None:
            with self.uow(p["shop_id"]) as u:
                s = u.shipment(p["shop_id"], p["shipment_id"])
                if s is None:
                    raise PermanentJobError(f"shipment {p['shipment_id']} is gone")
                if s.tracking_status in _JOURNEY_OVER:
                    self._finish(u, job)
                    return None
                return s, self.tracking_adapter(u, s)

        loaded = await self._db(load)
        if loaded is None:
            return
        shipment, adapter = loaded
        try:
            snapshot = await query_trace(adapter, shipment)
        except CarrierError:
            await self._db(lambda: self._record_only(p["shop_id"], shipment, adapter))
            raise

        def apply() -> None:
            with self.uow(p["shop_id"]) as u:
                u.record_exchanges(shop_id=shipment.shop_id, carrier=shipment.carrier, aftersale_id=None,
                                   subject_id=shipment.id, exchanges=adapter.exchanges)
                _apply_tracking(u, p["shop_id"], snapshot, trigger=f"poll{job.id}", settings=self.gateway.settings)
                if snapshot.status not in _JOURNEY_OVER:
                    _enqueue_poll(u, shipment.shop_id, shipment.id, int(p.get("n", 0)) + 1,
                                  u.now + timedelta(seconds=self.gateway.settings.tracking_poll_seconds))
                self._finish(u, job)

        await self._db(apply)

    def tracking_adapter(self, u: UnitOfWork, shipment: Shipment) -> Carrier:
        """The adapter of the parcel's own carrier, which answers for its trace."""
        account = shops.account_for(u.conn, shipment.shop_id, shipment.carrier)
        if account is None:
            raise PermanentJobError(f"no {shipment.carrier} account for shop {shipment.shop_id}")
        return self.gateway.adapter(account)

    def _record_only(self, shop_id: str, shipment: Shipment, adapter: Carrier) -> None:
        with self.uow(shop_id) as u:
            u.record_exchanges(shop_id=shipment.shop_id, carrier=shipment.carrier, aftersale_id=None,
                               subject_id=shipment.id, exchanges=adapter.exchanges)
            u.commit()
        adapter.exchanges.clear()

    # ------------------------------------------------------------------ inbox.process
    async def process_inbox(self, job: jobs.Job) -> None:
        """Apply a stored carrier push: tracking moves the parcel; an outcome is queued for confirmation."""
        p = job.payload

        def run() -> None:
            with self.uow(p["shop_id"]) as u:
                row = u.conn.execute(sa.select(t.inbox).where(t.inbox.c.id == p["inbox_id"],
                                                              t.inbox.c.shop_id == p["shop_id"])).first()
                if row is None or row.processed_at is not None:
                    self._finish(u, job)
                    return
                account = shops.account_for(u.conn, row.shop_id, row.carrier)
                if account is None:
                    raise PermanentJobError(f"no {row.carrier} account for shop {row.shop_id}")
                push = self.gateway.adapter(account).parse_push(bytes(row.body), row.content_type,
                                                                json.loads(row.headers or "{}"))
                waybills = [s.waybill_no for s in (push.tracking, *push.trackings) if s is not None]
                if push.intercept is not None:
                    waybills.append(push.intercept.waybill_no)
                if waybills:
                    _lock_parcels(u, row.shop_id, waybill_nos=waybills)
                for snapshot in (push.tracking, *push.trackings):
                    if snapshot is not None:
                        _apply_tracking(u, row.shop_id, snapshot, trigger=f"inbox{row.id}",
                                        settings=self.gateway.settings)
                if push.claim is not None:
                    claims.apply_pushed(u, row.shop_id, push.claim)
                if push.intercept is not None:
                    _queue_confirmation(u, row.shop_id, push.intercept.waybill_no, push.intercept.outcome,
                                        trigger=f"inbox{row.id}", reason=push.intercept.reason,
                                        message=push.intercept.message)
                u.conn.execute(t.inbox.update().where(t.inbox.c.id == row.id).values(processed_at=u.now))
                self._finish(u, job)

        await self._db(run)


async def query_trace(adapter: Carrier, shipment: Shipment) -> TrackingSnapshot:
    """The parcel's trace now, asked of its carrier (lanjie's own query, not a push)."""
    return await adapter.query_tracking(shipment.carrier_code, shipment.waybill_no, shipment.recipient.phone[-4:])


def _apply_state(case: AfterSale, intercept_id: str, state: InterceptState, now: datetime,
                 pushed: str | None = None) -> None:
    evidence = {"confirmed_by": "carrier_query", "outcome": state.outcome, "task_id": state.task_id,
                "message": state.message, "pushed_outcome": pushed}
    if state.outcome == InterceptOutcome.succeeded:
        case.intercept_succeeded(intercept_id, now=now, evidence=evidence)
    else:
        case.intercept_failed(intercept_id, reason=state.reason or InterceptReason.carrier_error,
                              message=state.message, now=now)


_OUTCOME_STATUSES = {TrackingStatus.returning, TrackingStatus.returned, TrackingStatus.delivered}


def _submitted(u: UnitOfWork, case: AfterSale, icpt: Intercept, *, task_id: str | None, duplicate: bool = False,
               fee: dict[str, Any] | None = None, evidence: dict[str, Any] | None = None) -> None:
    """The carrier holds the intercept (its answer, or a query after a lost one)."""
    case.intercept_acknowledged(icpt.id, task_id=task_id, now=u.now, duplicate=duplicate, fee=fee, evidence=evidence)
    # A push may have beaten this answer (the parcel already turned back, or was delivered): it found
    # no submitted intercept to confirm then, so confirm now.
    parcel = u.shipment(case.shop_id, icpt.shipment_id)
    if parcel is not None and parcel.tracking_status in _OUTCOME_STATUSES:
        outcome = InterceptOutcome.failed if parcel.tracking_status == TrackingStatus.delivered \
            else InterceptOutcome.succeeded
        _queue_confirmation(u, case.shop_id, parcel.waybill_no, outcome, trigger=f"ack:{icpt.id}")


def _lock_parcels(u: UnitOfWork, shop_id: str, *, case_id: str = "", waybill_nos: Sequence[str] = ()) -> None:
    """Lock parcels (by id order) before any case: a push locks its parcels and then their cases, a case
    job that starts a return leg takes a key-share lock on the parcel, so every transaction takes the
    parcels first (PostgreSQL would otherwise find deadlocks between a push and a confirmation)."""
    parcels = sa.select(t.shipments.c.id).where(t.shipments.c.shop_id == shop_id)
    if waybill_nos:
        parcels = parcels.where(t.shipments.c.waybill_no.in_(list(waybill_nos)))
    else:
        parcels = parcels.where(t.shipments.c.id.in_(sa.select(t.aftersale_parcels.c.shipment_id).where(
            t.aftersale_parcels.c.aftersale_id == case_id)))
    u.conn.execute(parcels.order_by(t.shipments.c.id).with_for_update()).all()


def _apply_tracking(u: UnitOfWork, shop_id: str, snap: Any, *, trigger: str, settings: Any = None) -> None:
    shipment = u.shipment_by_waybill(shop_id, snap.waybill_no)
    if shipment is None:
        log.warning("tracking push for unknown waybill %s (shop %s)", snap.waybill_no, shop_id)
        return
    if snap.corrected_carrier_code and shipment.correct_carrier_code(snap.corrected_carrier_code,
                                                                        reported_by=trigger):
        # The old subscription was aborted for the wrong code: subscribe again under the right one.
        u.enqueue(commands.SUBSCRIBE_TRACKING, {"shop_id": shop_id, "shipment_id": shipment.id},
                  key=f"subscribe:{shipment.id}:{shipment.carrier_code}", shop_id=shop_id)
    newest_at = snap.events[0].at if snap.events else None
    status = snap.status
    history = [{"at": e.at.isoformat(), "status": e.status, "code": e.code, "description": e.description,
                "location": e.location} for e in snap.events]
    if snap.incremental and history:
        # Only the new scans came (SF, ZTO, J&T): merge them into what we hold; the newest by event
        # time decides the status, whatever order the pushes arrived in.
        history = merge_history(shipment.tracking_events or [], history)
        status, newest_at = TrackingStatus(history[0]["status"]), datetime.fromisoformat(history[0]["at"])
    if newest_at is None or not shipment.apply_tracking(status, newest_at, history, snap.subscription):
        if snap.incremental and history and len(history) > len(shipment.tracking_events or []):
            shipment.tracking_events = history  # an older scan arriving late still belongs in the history
        u.save(shipment)
        return
    u.save(shipment)
    if status in _OUTCOME_STATUSES:
        outcome = InterceptOutcome.failed if status == TrackingStatus.delivered else InterceptOutcome.succeeded
        _queue_confirmation(u, shop_id, snap.waybill_no, outcome, trigger=trigger)
    followups.after_tracking(u, shipment, trigger=trigger, settings=settings)


#: Tracking statuses after which a parcel's trace no longer changes: polling stops.
_JOURNEY_OVER = frozenset({TrackingStatus.delivered, TrackingStatus.returned, TrackingStatus.lost,
                           TrackingStatus.damaged, TrackingStatus.expired})


def _enqueue_poll(u: UnitOfWork, shop_id: str, shipment_id: str, n: int, run_at: datetime) -> None:
    u.enqueue(commands.POLL_TRACKING, {"shop_id": shop_id, "shipment_id": shipment_id, "n": n},
              key=f"poll:{shipment_id}:{n}", shop_id=shop_id, run_at=run_at)


def merge_history(held: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Scans held plus scans pushed, each once (same time, code and text), newest first.

    Carriers stamp whole seconds: among scans of one second, those never seen before come first (a
    scan caught at the same second as the one before it is newer), and a repeat keeps its place, so a
    stale re-push cannot revive an older status. Both lists are newest first; the sort is stable.
    """
    def key(h: dict[str, Any]) -> tuple[str, str, str]:
        return h["at"], h["code"], h["description"]

    known = {key(h) for h in held}
    fresh = list({key(h): h for h in new if key(h) not in known}.values())
    return sorted([*fresh, *held], key=lambda h: datetime.fromisoformat(h["at"]), reverse=True)


def _queue_confirmation(u: UnitOfWork, shop_id: str, waybill_no: str, outcome: InterceptOutcome, *,
                        trigger: str, reason: InterceptReason | None = None, message: str = "") -> None:
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
