"""The carrier job handlers by job kind: the intercept's (`intercept_jobs`), the parcel's tracking
(`tracking_jobs`), the 拒签后退款 refusal check (`followups`) and the plain refund, on the shared runtime
of `carrier_jobs`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from lanjie.domain.model import AfterSale
from lanjie.service import commands, followups, intercept_jobs, tracking_jobs
from lanjie.service.carrier_jobs import CarrierJobs
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store import jobs


class Workflows(CarrierJobs):
    """The carrier job handlers, bound to the database, the carrier gateway and a wake-up hook."""

    def handlers(self) -> dict[str, Callable[[jobs.Job], Awaitable[None]]]:
        # The kinds are stored with queued jobs: renaming one strands the jobs already queued under it.
        return {
            commands.SUBMIT_INTERCEPT: partial(intercept_jobs.submit_intercept, self),
            commands.CONFIRM_INTERCEPT: partial(intercept_jobs.confirm_intercept, self),
            commands.EXECUTE_REFUND: self.execute_refund,
            commands.SUBSCRIBE_TRACKING: partial(tracking_jobs.subscribe_tracking, self),
            commands.PROCESS_INBOX: partial(tracking_jobs.process_inbox, self),
            commands.CANCEL_INTERCEPT: partial(intercept_jobs.cancel_intercept, self),
            commands.POLL_TRACKING: partial(tracking_jobs.poll_tracking, self),
            followups.CHECK_REFUSAL: partial(followups.check_refusal, self),
        }

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

        await self.db(lambda: self.apply(job, None, settle))
