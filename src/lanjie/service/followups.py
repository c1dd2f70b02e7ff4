"""What a parcel's new tracking means for the cases that wait on it (beyond the intercept outcome).

* 拒签后退款 (``awaiting_refusal``): the buyer refused the parcel or it is on its way back → the refund
  is due; the buyer signed for it instead → a person decides.
* An undecided case of a shop with auto-intercept rules is looked at again: a parcel that had no
  scan yet, or was not yet collected, may now be interceptable.
* A parcel on its way back moves its return leg (``returns``): returned, stalled no more, or lost or
  damaged — which drafts a claim.
"""

from __future__ import annotations

from lanjie.domain.model import Shipment
from lanjie.domain.states import CaseStatus, TrackingStatus
from lanjie.service import autointercept, commands, returns
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.settings import Settings
from lanjie.store import repository

#: Tracking that shows the buyer did not take the parcel.
REFUSED = frozenset({TrackingStatus.delivery_failed, TrackingStatus.returning, TrackingStatus.returned})


def after_tracking(u: UnitOfWork, shipment: Shipment, *, trigger: str, settings: Settings | None = None) -> None:
    returns.after_scan(u, shipment, settings or Settings())
    for case_id in repository.case_ids_for_shipment(u.conn, shop_id=shipment.shop_id, shipment_id=shipment.id):
        case = u.case(shipment.shop_id, case_id)
        if case is None or case.closed:
            continue
        if case.status == CaseStatus.awaiting_refusal:
            if shipment.tracking_status in REFUSED:
                case.parcel_refused(u.now, waybill_no=shipment.waybill_no, tracking_status=shipment.tracking_status)
                commands.enqueue_refund_if_new(u, case)
            elif shipment.tracking_status == TrackingStatus.delivered:
                case.parcel_delivered_while_awaiting_refusal(waybill_no=shipment.waybill_no)
            u.save(case)
        elif autointercept.needs_evaluation(u, case):
            autointercept.enqueue_evaluation(u, case, trigger=f"tracking:{trigger}"[:150])
