"""The platform's deadline on a case: lanjie acts before it passes, or puts the case before a person.

A case with a ``deadline_at`` gets a ``case.deadline`` job at the deadline minus the shop's margin
(default two hours). When it runs and the case is still undecided:

* every parcel's intercept was accepted → the refund is approved now (the platform would otherwise
  agree by itself at the deadline and count it against the shop);
* otherwise → the case goes to a person's queue (``attention = deadline``) with an
  ``aftersale.deadline_alert`` event, so no case times out unnoticed.

A moved deadline (Douyin tag 209) queues a new job; the old one finds the deadline changed and stops.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from lanjie.domain.model import AfterSale
from lanjie.domain.states import CaseStatus, Resolution
from lanjie.service import autointercept, commands
from lanjie.service.unit_of_work import UnitOfWork

WATCH_DEADLINE = "case.deadline"


def schedule(uow: UnitOfWork, case: AfterSale) -> None:
    """Queue the deadline watch of a case (once per deadline value)."""
    if case.deadline_at is None or case.closed:
        return
    margin = timedelta(minutes=autointercept.deadline_margin_minutes(uow.conn, case.shop_id))
    uow.enqueue(WATCH_DEADLINE, {"shop_id": case.shop_id, "case_id": case.id,
                                 "deadline_at": case.deadline_at.isoformat()},
                key=f"deadline:{case.id}:{case.deadline_at:%Y%m%dT%H%M%S}", shop_id=case.shop_id,
                run_at=max(uow.now, case.deadline_at - margin))


def act(uow: UnitOfWork, case: AfterSale, deadline_at: datetime) -> str:
    """Do what the deadline needs; answers what was done (for the job log and the tests)."""
    if case.deadline_at != deadline_at:
        return "moved"
    if case.closed or case.live_refund is not None or case.status == CaseStatus.refunding:
        return "settled"
    per_parcel = [case.active_intercept_for(sid) for sid in case.shipment_ids]
    if per_parcel and all(i is not None and i.accepted for i in per_parcel):
        case.approve_refund(uow.now, resolution=Resolution.intercepted_refund, evidence={
            "trigger": "deadline", "deadline_at": deadline_at.isoformat(), "policy": case.settlement_policy,
            "intercepts": {i.id: i.status for i in per_parcel if i is not None}})
        commands.enqueue_refund_if_new(uow, case)
        uow.save(case)
        return "refund_approved"
    case.deadline_alert(deadline_at)
    uow.save(case)
    return "alerted"
