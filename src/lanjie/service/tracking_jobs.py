"""A parcel's tracking: subscribe to its carrier's pushes, poll a carrier that has none, apply stored pushes,
and merge the scans; an outcome the trace shows is queued for the intercept's confirmation."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from lanjie.carriers.base import Capability, Carrier, InterceptOutcome, Subscription
from lanjie.carriers.errors import CarrierError
from lanjie.domain.model import Shipment
from lanjie.domain.states import TrackingStatus
from lanjie.service import claims, commands, followups, shops
from lanjie.service.carrier_jobs import CarrierJobs, lock_parcels, query_trace
from lanjie.service.intercept_jobs import OUTCOME_STATUSES, queue_confirmation
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store import jobs
from lanjie.store import tables as t
from lanjie.store.jobs import PermanentJobError

log = logging.getLogger("lanjie.workflows")

#: Tracking statuses after which a parcel's trace no longer changes: polling stops.
JOURNEY_OVER = frozenset({TrackingStatus.delivered, TrackingStatus.returned, TrackingStatus.lost,
                          TrackingStatus.damaged, TrackingStatus.expired})


async def subscribe_tracking(wf: CarrierJobs, job: jobs.Job) -> None:
    """Subscribe to the parcel's tracking pushes, or start polling a carrier that sends none."""
    p = job.payload

    def load() -> tuple[Shipment, Carrier, shops.AccountRecord]:
        with wf.uow(p["shop_id"]) as u:
            s = u.shipment(p["shop_id"], p["shipment_id"])
            if s is None:
                raise PermanentJobError(f"shipment {p['shipment_id']} is gone")
            account = shops.account_for(u.conn, s.shop_id, s.carrier)
            if account is None:
                raise PermanentJobError(f"no {s.carrier} account for shop {s.shop_id}")
            return s, wf.gateway.adapter(account), account

    shipment, adapter, account = await wf.db(load)
    if Capability.subscribe not in adapter.capabilities:
        # No tracking push (UPS, JD): lanjie asks for the trace itself, from now until it ends.
        def start_polling() -> None:
            with wf.uow(p["shop_id"]) as u:
                enqueue_poll(u, shipment.shop_id, shipment.id, 0, u.now)
                wf.finish(u, job)
        await wf.db(start_polling)
        return
    try:
        await adapter.subscribe(Subscription(shipment.carrier_code, shipment.waybill_no,
                                             wf.gateway.callback_url(account), shipment.recipient.phone[-4:]))
    finally:
        await wf.db(lambda: wf.record_parcel_exchanges(p["shop_id"], shipment, adapter))
    await wf.db(lambda: wf.complete(job))


async def poll_tracking(wf: CarrierJobs, job: jobs.Job) -> None:
    """Query a push-less carrier's trace, apply it, and come back later unless the parcel's journey ended."""
    p = job.payload

    def load() -> tuple[Shipment, Carrier] | None:
        with wf.uow(p["shop_id"]) as u:
            s = u.shipment(p["shop_id"], p["shipment_id"])
            if s is None:
                raise PermanentJobError(f"shipment {p['shipment_id']} is gone")
            if s.tracking_status in JOURNEY_OVER:
                wf.finish(u, job)
                return None
            return s, wf.tracking_adapter(u, s)

    loaded = await wf.db(load)
    if loaded is None:
        return
    shipment, adapter = loaded
    try:
        snapshot = await query_trace(adapter, shipment)
    except CarrierError:
        await wf.db(lambda: wf.record_parcel_exchanges(p["shop_id"], shipment, adapter))
        raise

    def apply() -> None:
        with wf.uow(p["shop_id"]) as u:
            u.record_exchanges(shop_id=shipment.shop_id, carrier=shipment.carrier, aftersale_id=None,
                               subject_id=shipment.id, exchanges=adapter.exchanges)
            apply_tracking(u, p["shop_id"], snapshot, trigger=f"poll{job.id}", settings=wf.gateway.settings)
            if snapshot.status not in JOURNEY_OVER:
                enqueue_poll(u, shipment.shop_id, shipment.id, int(p.get("n", 0)) + 1,
                             u.now + timedelta(seconds=wf.gateway.settings.tracking_poll_seconds))
            wf.finish(u, job)

    await wf.db(apply)


async def process_inbox(wf: CarrierJobs, job: jobs.Job) -> None:
    """Apply a stored carrier push: tracking moves the parcel; an outcome is queued for confirmation."""
    p = job.payload

    def run() -> None:
        with wf.uow(p["shop_id"]) as u:
            row = u.conn.execute(sa.select(t.inbox).where(t.inbox.c.id == p["inbox_id"],
                                                          t.inbox.c.shop_id == p["shop_id"])).first()
            if row is None or row.processed_at is not None:
                wf.finish(u, job)
                return
            account = shops.account_for(u.conn, row.shop_id, row.carrier)
            if account is None:
                raise PermanentJobError(f"no {row.carrier} account for shop {row.shop_id}")
            push = wf.gateway.adapter(account).parse_push(bytes(row.body), row.content_type,
                                                            json.loads(row.headers or "{}"))
            waybills = [s.waybill_no for s in (push.tracking, *push.trackings) if s is not None]
            if push.intercept is not None:
                waybills.append(push.intercept.waybill_no)
            if waybills:
                lock_parcels(u, row.shop_id, waybill_nos=waybills)
            for snapshot in (push.tracking, *push.trackings):
                if snapshot is not None:
                    apply_tracking(u, row.shop_id, snapshot, trigger=f"inbox{row.id}",
                                   settings=wf.gateway.settings)
            if push.claim is not None:
                claims.apply_pushed(u, row.shop_id, push.claim)
            if push.intercept is not None:
                queue_confirmation(u, row.shop_id, push.intercept.waybill_no, push.intercept.outcome,
                                   trigger=f"inbox{row.id}", reason=push.intercept.reason,
                                   message=push.intercept.message)
            u.conn.execute(t.inbox.update().where(t.inbox.c.id == row.id).values(processed_at=u.now))
            wf.finish(u, job)

    await wf.db(run)


def apply_tracking(u: UnitOfWork, shop_id: str, snap: Any, *, trigger: str, settings: Any = None) -> None:
    """Move the parcel by a scan (pushed or polled), then queue what its new status calls for."""
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
    if status in OUTCOME_STATUSES:
        outcome = InterceptOutcome.failed if status == TrackingStatus.delivered else InterceptOutcome.succeeded
        queue_confirmation(u, shop_id, snap.waybill_no, outcome, trigger=trigger)
    followups.after_tracking(u, shipment, trigger=trigger, settings=settings)


def enqueue_poll(u: UnitOfWork, shop_id: str, shipment_id: str, n: int, run_at: datetime) -> None:
    """Queue the ``n``-th trace query of a parcel whose carrier sends no pushes."""
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
