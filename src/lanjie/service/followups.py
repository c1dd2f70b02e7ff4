"""What a parcel's new tracking means for the cases that wait on it (beyond the intercept outcome).

* 拒签后退款 (``awaiting_refusal``): the buyer refused the parcel or it is on its way back → the refund
  is due, once the carrier's own trace shows it (``check_refusal``: a push alone never pays); the
  buyer signed for it instead → a person decides.
* An undecided case of a shop with auto-intercept rules is looked at again: a parcel that had no
  scan yet, or was not yet collected, may now be interceptable.
* A parcel on its way back moves its return leg (``returns``): returned, stalled no more, or lost or
  damaged — which drafts a claim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lanjie.carriers.base import TrackingSnapshot
from lanjie.carriers.errors import CarrierError
from lanjie.domain.model import AfterSale, Shipment
from lanjie.domain.states import CaseStatus, TrackingStatus
from lanjie.service import autointercept, commands, returns
from lanjie.service.carrier_jobs import CarrierJobs, query_trace
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.settings import Settings
from lanjie.store import jobs, repository

if TYPE_CHECKING:
    from lanjie.carriers.base import Carrier

#: Tracking that shows the buyer did not take the parcel.
REFUSED = frozenset({TrackingStatus.delivery_failed, TrackingStatus.returning, TrackingStatus.returned})
#: The job that asks the carrier for the trace before a 拒签后退款 refund.
CHECK_REFUSAL = "refusal.check"


class RefusalNotConfirmed(Exception):
    """The carrier's own trace does not show the refusal (yet): nothing is paid; try again later."""


def after_tracking(u: UnitOfWork, shipment: Shipment, *, trigger: str, settings: Settings | None = None) -> None:
    returns.after_scan(u, shipment, settings or Settings())
    for case_id in repository.case_ids_for_shipment(u.conn, shop_id=shipment.shop_id, shipment_id=shipment.id):
        case = u.case(shipment.shop_id, case_id)
        if case is None or case.closed:
            continue
        if case.status == CaseStatus.awaiting_refusal:
            if shipment.tracking_status in REFUSED:
                # The tracking may come from a push, which anyone holding the callback URL and salt can
                # forge: the refund waits for the carrier's answer to lanjie's own query.
                enqueue_refusal_check(u, case, shipment, trigger=trigger)
            elif shipment.tracking_status == TrackingStatus.delivered:
                case.parcel_delivered_while_awaiting_refusal(waybill_no=shipment.waybill_no)
            u.save(case)
        elif autointercept.needs_evaluation(u, case):
            autointercept.enqueue_evaluation(u, case, trigger=f"tracking:{trigger}"[:150])


def enqueue_refusal_check(u: UnitOfWork, case: AfterSale, shipment: Shipment, *, trigger: str) -> None:
    """Queue the carrier query that decides a 拒签后退款 refund (one per case, parcel and triggering scan:
    a genuine later push still gets its own query when an earlier, perhaps forged, one's gave up)."""
    u.enqueue(CHECK_REFUSAL, {"shop_id": case.shop_id, "case_id": case.id, "shipment_id": shipment.id,
                              "pushed_status": shipment.tracking_status, "trigger": trigger},
              key=f"refusal:{case.id}:{shipment.id}:{trigger}"[:200], shop_id=case.shop_id,
              concurrency_key=f"carrier:{shipment.carrier}")


async def check_refusal(wf: CarrierJobs, job: jobs.Job) -> None:
    """Ask the carrier for the parcel's trace; approve the 拒签后退款 refund only if it shows the refusal."""
    p = job.payload

    def load() -> tuple[Shipment, Carrier] | None:
        with wf.uow(p["shop_id"]) as u:
            case = commands.load_case(u, p["shop_id"], p["case_id"])
            shipment = u.shipment(p["shop_id"], p["shipment_id"])
            if shipment is None or case.status != CaseStatus.awaiting_refusal or case.live_refund is not None:
                wf.finish(u, job)
                return None
            return shipment, wf.tracking_adapter(u, shipment)

    loaded = await wf.db(load)
    if loaded is None:
        return
    shipment, adapter = loaded
    try:
        trace = await query_trace(adapter, shipment)
    except CarrierError:
        await wf.db(lambda: wf.apply(job, adapter, lambda u, c: None, finish=False))
        raise
    if trace.status not in REFUSED and trace.status != TrackingStatus.delivered:
        await wf.db(lambda: wf.apply(job, adapter, lambda u, c: None, finish=False))
        raise RefusalNotConfirmed(f"carrier trace shows {trace.status} for {shipment.waybill_no}, "
                                  f"not the {p['pushed_status']} pushed")
    await wf.db(lambda: wf.apply(job, adapter, lambda u, c: _decide(u, c, shipment, trace, p)))


def _decide(u: UnitOfWork, case: AfterSale, shipment: Shipment, trace: TrackingSnapshot,
            p: dict[str, object]) -> None:
    if trace.status == TrackingStatus.delivered:
        case.parcel_delivered_while_awaiting_refusal(waybill_no=shipment.waybill_no)
        return
    newest = trace.events[0] if trace.events else None
    case.parcel_refused(u.now, waybill_no=shipment.waybill_no, tracking_status=trace.status, confirmation={
        "confirmed_by": "carrier_query", "operation": "query_tracking", "carrier": shipment.carrier,
        "queried_at": u.now.isoformat(), "tracking_status": trace.status,
        "newest_event": {"at": newest.at.isoformat(), "code": newest.code, "description": newest.description}
        if newest else None,
        "pushed_status": p["pushed_status"], "trigger": p["trigger"]})
