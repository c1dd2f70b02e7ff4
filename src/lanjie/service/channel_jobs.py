"""Job handlers of the sales-channel side: platform pushes, re-reading a case, settling on the platform.

Same discipline as the carrier handlers (``workflows``): read in one transaction, call the platform
outside any transaction, write the result with the job's completion in a final one. Money never
moves on a message alone: the case is read back from the platform (``fetch_case``) before a refund
is agreed there, and the agreement carries the version read, so a case that moved is refused.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from lanjie.carriers.errors import CarrierTimeout, CarrierUnavailable
from lanjie.channels.base import ApproveItem, Channel, ChannelCapability, ChannelCase, MessageKind
from lanjie.channels.errors import ChannelError, ChannelRejected, NotSupported, RejectionKind
from lanjie.domain.model import AfterSale
from lanjie.domain.states import PlatformStatus, RefundStatus
from lanjie.faults import checkpoint
from lanjie.service import autointercept, commands, deadlines, ingest
from lanjie.service import channels as channel_accounts
from lanjie.service.carriers import CarrierGateway
from lanjie.service.channels import ChannelAccountRecord, ChannelGateway
from lanjie.service.ids import utcnow
from lanjie.service.jobbase import JobHandlers
from lanjie.service.preview import add_carrier_checks
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.service.workflows import Workflows
from lanjie.store import jobs, repository
from lanjie.store import tables as t
from lanjie.store.db import tenant
from lanjie.store.jobs import PermanentJobError

log = logging.getLogger("lanjie.channel_jobs")
T = TypeVar("T")

PROCESS_CHANNEL_INBOX = "channel.inbox"
SYNC_CASE = "channel.sync"
COMMIT_INTERCEPT = "channel.commit_intercept"
CONFIRM_RECEIVED = commands.CONFIRM_RECEIVED
#: After agreeing a refund, read the case again this long after if no message came to say it was paid.
CONFIRM_PAID_AFTER = timedelta(minutes=2)
#: How many times an agreed refund is read back (4, 8, 16 … minutes apart: about three days in all).
MAX_PAID_CHECKS = 10


class ChannelJobs(JobHandlers):
    """The handlers, bound to the database, both gateways and the carrier workflows they extend."""

    def __init__(self, engine: sa.Engine, channels: ChannelGateway, carriers: CarrierGateway, workflows: Workflows,
                 on_commit: Callable[[], None] | None = None, now: Callable[[], datetime] = utcnow) -> None:
        self.engine, self.channels, self.carriers, self.workflows = engine, channels, carriers, workflows
        self.on_commit, self.now = on_commit, now
        workflows.after_change.append(self._after_case_change)

    def handlers(self) -> dict[str, Callable[[jobs.Job], Any]]:
        return {
            PROCESS_CHANNEL_INBOX: self.process_inbox,
            SYNC_CASE: self.sync_case,
            commands.EXECUTE_REFUND: self.execute_refund,
            commands.REJECT_ON_PLATFORM: self.reject_refund,
            COMMIT_INTERCEPT: self.commit_intercept,
            CONFIRM_RECEIVED: self.confirm_received,
            autointercept.EVALUATE_RULES: self.evaluate_rules,
            deadlines.WATCH_DEADLINE: self.watch_deadline,
        }

    def _account(self, u: UnitOfWork, shop_id: str, channel: str) -> ChannelAccountRecord:
        account = channel_accounts.account_for(u.conn, shop_id, channel)
        if account is None or channel not in self.channels.registry:
            raise PermanentJobError(f"no {channel} channel account for shop {shop_id}")
        return account

    def _keep(self, u: UnitOfWork, shop_id: str, channel: str, case_id: str | None, adapter: Channel) -> None:
        u.record_exchanges(shop_id=shop_id, carrier=f"channel:{channel}", aftersale_id=case_id, subject_id=case_id,
                           exchanges=adapter.exchanges)
        adapter.exchanges.clear()

    async def _fetch(self, job: jobs.Job, channel: str, adapter: Channel, ref: str, case_id: str | None) -> ChannelCase:
        """Read the platform's case; the exchange is kept even when the call fails."""
        try:
            return await adapter.fetch_case(ref)
        except (ChannelError, CarrierUnavailable):
            def keep() -> None:
                with self.uow(job.payload["shop_id"]) as u:
                    self._keep(u, job.payload["shop_id"], channel, case_id, adapter)
                    u.commit()
            await self._db(keep)
            raise

    # ------------------------------------------------------------------ channel.inbox
    async def process_inbox(self, job: jobs.Job) -> None:
        """A stored platform push: each message about an after-sale queues a re-read of that case."""
        p = job.payload

        def run() -> None:
            with self.uow(p["shop_id"]) as u:
                row = u.conn.execute(sa.select(t.inbox).where(t.inbox.c.id == p["inbox_id"],
                                                              t.inbox.c.shop_id == p["shop_id"])).first()
                if row is None or row.processed_at is not None:
                    self._finish(u, job)
                    return
                channel = row.carrier.removeprefix(channel_accounts.INBOX_PREFIX)
                adapter = self.channels.adapter(self._account(u, row.shop_id, channel))
                inbound = adapter.parse_push(bytes(row.body), row.content_type, json.loads(row.headers or "{}"))
                for message in inbound.messages:
                    if message.ref and message.kind != MessageKind.other:
                        u.enqueue(SYNC_CASE, {"shop_id": row.shop_id, "channel": channel, "ref": message.ref,
                                              "trigger": f"{message.topic}:{message.message_key}"[:100]},
                                  key=f"sync:{channel}:{row.shop_id}:{message.message_key}"[:200],
                                  shop_id=row.shop_id, concurrency_key=f"channel:{channel}")
                u.conn.execute(t.inbox.update().where(t.inbox.c.id == row.id).values(processed_at=u.now))
                self._finish(u, job)

        await self._db(run)

    # ------------------------------------------------------------------ channel.sync
    async def sync_case(self, job: jobs.Job) -> None:
        """Read the platform's case and apply it (open it the first time)."""
        p = job.payload

        def load() -> tuple[Channel, str | None]:
            with self.uow(p["shop_id"]) as u:
                case_id = repository.case_by_channel_ref(u.conn, shop_id=p["shop_id"], channel=p["channel"],
                                                         channel_ref=p["ref"])
                return self.channels.adapter(self._account(u, p["shop_id"], p["channel"])), case_id

        adapter, case_id = await self._db(load)
        seen = await self._fetch(job, p["channel"], adapter, p["ref"], case_id)

        def apply() -> None:
            with self.uow(p["shop_id"]) as u:
                case = ingest.apply(u, p["shop_id"], p["channel"], seen, self.carriers)
                self._keep(u, p["shop_id"], p["channel"], case.id if case else None, adapter)
                if case is not None:
                    commands.enqueue_refund_if_new(u, case)
                    refund = case.live_refund
                    checks = int(p.get("checks", 0)) + 1
                    if refund is not None and refund.status == RefundStatus.approved and \
                            p.get("trigger", "").startswith("paid?") and checks <= MAX_PAID_CHECKS:
                        # Agreed but not yet paid, and no message said so: look again, less and less often.
                        self._queue_sync(u, case, trigger=f"paid?{refund.id}:{checks}", checks=checks,
                                         run_at=u.now + CONFIRM_PAID_AFTER * 2 ** checks)
                self._finish(u, job)

        await self._db(apply)

    # ------------------------------------------------------------------ refund.execute
    async def execute_refund(self, job: jobs.Job) -> None:
        """Agree the refund on the platform, with the version just read; REST and CSV cases settle in lanjie."""
        p = job.payload

        def load() -> tuple[AfterSale, Channel | None]:
            with self.uow(p["shop_id"]) as u:
                case = commands.load_case(u, p["shop_id"], p["case_id"])
                if not self.channels.can(case.channel, ChannelCapability.approve_refund) or case.channel == "rest":
                    return case, None
                return case, self.channels.adapter(self._account(u, case.shop_id, case.channel))

        case, adapter = await self._db(load)
        if adapter is None or case.channel_ref is None:
            await self.workflows.execute_refund(job)
            return
        refund = case.refund(p["refund_id"])
        if refund.status != RefundStatus.pending:
            await self._db(lambda: self._done(job))
            return
        seen = await self._fetch(job, case.channel, adapter, case.channel_ref, case.id)
        outcome: Exception | None = None
        if not (seen.refunded or seen.status == PlatformStatus.refunded) and seen.status in (
                PlatformStatus.awaiting_merchant, PlatformStatus.awaiting_receipt):
            try:
                [outcome] = await adapter.approve_refunds([ApproveItem(seen, refund.refund_no)])
            except CarrierTimeout:
                # It may have arrived: the next attempt reads the case first and sees whether it did.
                await self._db(lambda: self._keep_only(p["shop_id"], case, adapter))
                raise
            except (ChannelError, CarrierUnavailable) as exc:
                outcome = exc
            checkpoint("refund.after_platform_call")  # tests kill the worker here: the next attempt reads first
        if isinstance(outcome, ChannelRejected) and outcome.kind == RejectionKind.retry:
            await self._db(lambda: self._keep_only(p["shop_id"], case, adapter))
            raise outcome
        if isinstance(outcome, CarrierUnavailable):
            await self._db(lambda: self._keep_only(p["shop_id"], case, adapter))
            raise outcome

        def settle() -> None:
            with self.uow(p["shop_id"]) as u:
                current = commands.load_case(u, p["shop_id"], p["case_id"])
                current_refund = current.refund(p["refund_id"])
                self._keep(u, current.shop_id, current.channel, current.id, adapter)
                if seen.refunded or seen.status == PlatformStatus.refunded:
                    current.platform_refunded(u.now, timed_out=False)
                elif current_refund.status == RefundStatus.pending and (seen.status == PlatformStatus.agreed or (
                        outcome is None and seen.status in (PlatformStatus.awaiting_merchant,
                                                            PlatformStatus.awaiting_receipt))):
                    # Agreed now, or already (an earlier attempt whose answer was lost): paid comes next.
                    current.refund_approved(current_refund.id)
                    self._queue_sync(u, current, trigger=f"paid?{current_refund.id}",
                                     run_at=u.now + CONFIRM_PAID_AFTER)
                elif current_refund.status == RefundStatus.pending:
                    why = _refusal(outcome, seen)
                    current.refund_failed(current_refund.id, why)
                    if isinstance(outcome, ChannelRejected) and outcome.kind == RejectionKind.stale:
                        self._queue_sync(u, current, trigger=f"stale:{current_refund.id}")
                u.save(current)
                self._finish(u, job)

        await self._db(settle)

    def _done(self, job: jobs.Job) -> None:
        with self.uow(job.payload["shop_id"]) as u:
            self._finish(u, job)

    def _keep_only(self, shop_id: str, case: AfterSale, adapter: Channel) -> None:
        with self.uow(shop_id) as u:
            self._keep(u, shop_id, case.channel, case.id, adapter)
            u.commit()

    def _queue_sync(self, u: UnitOfWork, case: AfterSale, *, trigger: str, run_at: datetime | None = None,
                    checks: int = 0) -> None:
        u.enqueue(SYNC_CASE, {"shop_id": case.shop_id, "channel": case.channel, "ref": case.channel_ref,
                              "trigger": trigger, "checks": checks},
                  key=f"sync:{case.channel}:{case.shop_id}:{trigger}"[:200], shop_id=case.shop_id, run_at=run_at,
                  concurrency_key=f"channel:{case.channel}")

    # ------------------------------------------------------------------ channel.commit_intercept
    def _after_case_change(self, u: UnitOfWork, case: AfterSale) -> None:
        """Hook after every carrier-side change: a Taobao case whose parcel the carrier accepted to stop
        gets the seller's intercept commitment on the platform (it pauses the refund clock, 5 days)."""
        commits = self.channels.can(case.channel, ChannelCapability.commit_intercept)
        if commits and case.channel_ref and not case.closed and case.live_refund is None \
                and any(i.accepted for i in case.intercepts):
            u.enqueue(COMMIT_INTERCEPT, {"shop_id": case.shop_id, "case_id": case.id},
                      key=f"commit:{case.id}", shop_id=case.shop_id, concurrency_key=f"channel:{case.channel}")

    async def commit_intercept(self, job: jobs.Job) -> None:
        await self._platform_call(job, "commit_intercept")

    async def confirm_received(self, job: jobs.Job) -> None:
        await self._platform_call(job, "confirm_received")

    async def reject_refund(self, job: jobs.Job) -> None:
        await self._platform_call(job, "reject_refund")

    async def _platform_call(self, job: jobs.Job, operation: str) -> None:
        """A platform write that follows a lanjie decision; a refusal is kept on the case, not retried."""
        p = job.payload

        def load() -> tuple[AfterSale, Channel | None]:
            with self.uow(p["shop_id"]) as u:
                case = commands.load_case(u, p["shop_id"], p["case_id"])
                capability = ChannelCapability(operation)
                if case.channel_ref is None or not self.channels.can(case.channel, capability):
                    self._finish(u, job)
                    return case, None
                return case, self.channels.adapter(self._account(u, case.shop_id, case.channel))

        case, adapter = await self._db(load)
        if adapter is None:
            return
        assert case.channel_ref is not None
        seen = await self._fetch(job, case.channel, adapter, case.channel_ref, case.id)
        problem = ""
        try:
            if operation == "commit_intercept":
                if seen.can_commit_intercept:
                    await adapter.commit_intercept(seen)
                else:
                    problem = "the platform does not offer the intercept commitment for this case now"
            elif operation == "reject_refund":
                if seen.status != PlatformStatus.rejected:  # an earlier attempt may have arrived already
                    await adapter.reject_refund(seen, reason_code=p["reason_code"], reason=p["reason"],
                                                evidence=p.get("evidence") or ())
            else:
                await adapter.confirm_received(seen, received_at=case.received_at or self.now())
        except (ChannelRejected, NotSupported) as exc:
            if isinstance(exc, ChannelRejected) and exc.kind == RejectionKind.retry:
                await self._db(lambda: self._keep_only(p["shop_id"], case, adapter))
                raise
            problem = str(exc)
        except (ChannelError, CarrierUnavailable):
            await self._db(lambda: self._keep_only(p["shop_id"], case, adapter))
            raise

        def record() -> None:
            with self.uow(p["shop_id"]) as u:
                current = commands.load_case(u, p["shop_id"], p["case_id"])
                self._keep(u, current.shop_id, current.channel, current.id, adapter)
                current.platform_call(operation, ok=not problem, message=problem)
                if operation == "reject_refund":
                    if not problem:
                        current.platform_rejected(u.now)
                    elif not current.closed and current.live_refund is None:
                        # (a refund that went live meanwhile finishes the case; the failed reject is on the timeline)
                        current.needs_person("reject_failed")
                u.save(current)
                self._queue_sync(u, current, trigger=f"{operation}:{job.id}")
                self._finish(u, job)

        await self._db(record)

    # ------------------------------------------------------------------ rules.evaluate / case.deadline
    async def evaluate_rules(self, job: jobs.Job) -> None:
        """Decide a case by the shop's rules; a fee ceiling first asks the carriers that quote fees."""
        p = job.payload

        def parcels_to_quote() -> list[dict[str, Any]]:
            with self.uow(p["shop_id"]) as u:
                case = commands.load_case(u, p["shop_id"], p["case_id"])
                if not autointercept.needs_evaluation(u, case) or not autointercept.wants_fee(u.conn, case.shop_id):
                    return []
                return commands.preview_intercepts(u, p["shop_id"], p["case_id"])

        rows = await self._db(parcels_to_quote)
        fees: dict[str, int | None] | None = None
        if rows:
            await add_carrier_checks(self.carriers, tenant(self.engine, p["shop_id"]), p["shop_id"], p["case_id"],
                                     rows, self.now())
            fees = {row["shipment_id"]: row.get("fee_fen") for row in rows}

        def run() -> None:
            with self.uow(p["shop_id"]) as u:
                case = commands.load_case(u, p["shop_id"], p["case_id"])
                autointercept.evaluate(u, case, self.carriers, trigger=p.get("trigger", "job"), fees=fees)
                self._finish(u, job)

        await self._db(run)

    async def watch_deadline(self, job: jobs.Job) -> None:
        p = job.payload

        def run() -> None:
            with self.uow(p["shop_id"]) as u:
                case = commands.load_case(u, p["shop_id"], p["case_id"])
                done = deadlines.act(u, case, datetime.fromisoformat(p["deadline_at"]))
                log.info("deadline of %s: %s", case.id, done)
                self._finish(u, job)

        await self._db(run)


def _refusal(outcome: Exception | None, seen: ChannelCase) -> str:
    if outcome is None:
        return f"the platform shows the case {seen.status} ({seen.platform_status}): nothing to agree"
    if isinstance(outcome, ChannelRejected):
        return f"{outcome.kind}: {outcome.code} {outcome.message}"
    return str(outcome) or type(outcome).__name__

