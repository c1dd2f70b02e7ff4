"""Outgoing webhooks at run time: fan-out of new events into deliveries, and the delivery job.

Fan-out (``run``): on ``wake()`` or every second, for each enabled endpoint whose shop has events
after its cursor, one transaction locks the endpoint row, reads up to ``BATCH`` events, inserts a
delivery per wanted event (unique per endpoint and event, so two processes fanning out at once
cannot send twice), queues its first attempt, and moves the cursor. Events of a shop get ids in
commit order (``repository.append_events``), so the cursor never skips one.

Delivery (job ``webhook.deliver``): read the delivery and its endpoint, check the target, sign and
POST outside any transaction, then in one transaction record the attempt, update the delivery, queue
the next scheduled attempt (or give up, or disable the endpoint on 410) and complete the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import anyio
import httpx
import sqlalchemy as sa

from lanjie.service.ids import utcnow
from lanjie.settings import Settings
from lanjie.store import jobs
from lanjie.store.db import ALL_SHOPS, reader, tenant
from lanjie.webhooks import delivery, events, manage, store
from lanjie.webhooks.delivery import Attempt, Verdict
from lanjie.webhooks.signing import new_message_id, sign_headers, signing_secrets
from lanjie.webhooks.store import DeliveryStatus
from lanjie.webhooks.targets import Resolver, TargetRefused, system_resolver, vet

__all__ = ["BATCH", "POLL_SECONDS", "Webhooks"]

log = logging.getLogger("lanjie.webhooks")
T = TypeVar("T")
#: Events read per endpoint per transaction.
BATCH = 500
POLL_SECONDS = 1.0
_MAX_ERROR_PAUSE_SECONDS = 30.0


@dataclass(frozen=True)
class _Send:
    """What one attempt sends, read before the request."""

    url: str
    message_id: str
    body: bytes
    secrets: list[str]


class Webhooks:
    """Turns the events table into signed deliveries to each shop's endpoints."""

    def __init__(self, engine: sa.Engine, http: httpx.AsyncClient, settings: Settings,
                 now: Callable[[], datetime] = utcnow, resolve: Resolver = system_resolver) -> None:
        self.engine, self.http, self.settings, self.now = engine, http, settings, now
        self.resolve = resolve  # the DNS lookup the SSRF guard uses (tests pass their own)
        self.batch = BATCH
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._threads: anyio.CapacityLimiter | None = None

    def handlers(self) -> dict[str, Callable[[Any], Awaitable[None]]]:
        """Job kinds this module runs on the shared worker."""
        return {manage.DELIVER: self.deliver}

    # ------------------------------------------------------------------ the target guard
    def vet(self, url: str) -> str:
        """The URL if it may receive webhooks under this deployment's settings; else TargetRefused (blocking)."""
        return vet(url, allow_private=self.settings.webhook_allow_private_targets, resolve=self.resolve)

    # ------------------------------------------------------------------ fan-out
    def wake(self) -> None:
        """Something committed: look for new events soon (safe from any thread)."""
        loop, wakeup = self._loop, self._wakeup
        if loop is None or wakeup is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed in between
            loop.call_soon_threadsafe(wakeup.set)

    async def run(self, stop: asyncio.Event) -> None:
        """Fan new events out to endpoints until ``stop`` is set."""
        self._loop, self._wakeup = asyncio.get_running_loop(), asyncio.Event()
        watch = asyncio.create_task(self._wake_when(stop))
        errors = 0
        try:
            while not stop.is_set():
                self._wakeup.clear()  # before reading, so a wake() during the pass is not lost
                more = False
                try:
                    more = await self._db(self.fan_out)
                    errors = 0
                except Exception:
                    errors += 1
                    log.exception("webhook fan-out failed")
                if more:
                    continue  # a full batch: the rest without waiting
                pause = min(POLL_SECONDS * 2 ** min(errors, 8), max(POLL_SECONDS, _MAX_ERROR_PAUSE_SECONDS))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await self._wakeup.wait()
        finally:
            watch.cancel()
            self._loop = self._wakeup = None

    async def _wake_when(self, stop: asyncio.Event) -> None:
        await stop.wait()
        if self._wakeup is not None:
            self._wakeup.set()

    def fan_out(self) -> bool:
        """One pass over every endpoint with new events (blocking); True if some endpoint has more waiting."""
        with tenant(reader(self.engine), ALL_SHOPS).connect() as conn:
            behind = store.endpoints_behind(conn)
        more = False
        for endpoint_id in behind:
            more = self._fan_out_endpoint(endpoint_id) or more
        return more

    def _fan_out_endpoint(self, endpoint_id: str) -> bool:
        now = self.now()
        with tenant(self.engine, ALL_SHOPS).begin() as conn:
            endpoint = store.lock_endpoint(conn, endpoint_id=endpoint_id)
            if endpoint is None or not endpoint.enabled:
                return False  # another process is on it, or it was just disabled
            rows = store.events_after(conn, shop_id=endpoint.shop_id, after=endpoint.cursor, limit=self.batch)
            if not rows:
                return False
            new = []
            for row in rows:
                public = events.public_type(row.type)
                if public is None or not events.wants(endpoint.event_types, public):
                    continue
                body = events.body(event_id=row.id, internal_type=row.type, public=public,
                                   aftersale_id=row.aftersale_id, subject_type=row.subject_type,
                                   subject_id=row.subject_id, payload=row.payload, created_at=row.created_at)
                new.append({"shop_id": endpoint.shop_id, "endpoint_id": endpoint.id, "event_id": row.id,
                            "event_type": public, "message_id": new_message_id(), "body": body,
                            "status": DeliveryStatus.pending, "attempts": 0, "next_attempt_at": now,
                            "last_status_code": None, "last_error": "", "created_at": now, "updated_at": now})
            for delivery_id in store.add_deliveries(conn, new):
                d = store.get_delivery(conn, shop_id=endpoint.shop_id, delivery_id=delivery_id)
                assert d is not None
                manage.enqueue_attempt(conn, delivery=d, trigger="automatic", n=1, run_at=now)
            store.set_cursor(conn, endpoint_id=endpoint.id, cursor=rows[-1].id)
        return len(rows) == self.batch

    # ------------------------------------------------------------------ delivery
    async def deliver(self, job: jobs.Job) -> None:
        """Job ``webhook.deliver``: one attempt at one delivery, then its record and the next step."""
        send = await self._db(lambda: self._prepare(job))
        if send is None:
            return
        try:
            await self._db(lambda: self.vet(send.url))
        except TargetRefused as exc:
            attempt = Attempt(None, 0, "", f"target refused: {exc}")
        else:
            at = self.now()
            headers = sign_headers(message_id=send.message_id, at=at, body=send.body, secrets_=send.secrets)
            attempt = await delivery.send(self.http, url=send.url, headers=headers, body=send.body,
                                          timeout=self.settings.webhook_timeout_seconds, now=at)
        await self._db(lambda: self._record(job, attempt))

    def _prepare(self, job: jobs.Job) -> _Send | None:
        """Read what to send; complete the job at once when there is nothing to send."""
        p, now = job.payload, self.now()
        with tenant(self.engine, p["shop_id"]).begin() as conn:
            d = store.get_delivery(conn, shop_id=p["shop_id"], delivery_id=p["delivery_id"])
            endpoint = None if d is None else store.get_endpoint(conn, shop_id=d.shop_id, endpoint_id=d.endpoint_id)
            manual = p["trigger"] == "manual"
            if d is None or endpoint is None or (not manual and d.status != DeliveryStatus.pending):
                jobs.complete(conn, job_id=job.id, worker_id=job.locked_by)
                return None  # delivered by a manual attempt meanwhile, given up, or cancelled
            if not endpoint.enabled:
                if d.status == DeliveryStatus.pending:
                    store.update_delivery(conn, shop_id=d.shop_id, delivery_id=d.id, now=now,
                                          status=DeliveryStatus.cancelled, next_attempt_at=None,
                                          last_error=f"endpoint disabled: {endpoint.disabled_reason}"[:500])
                jobs.complete(conn, job_id=job.id, worker_id=job.locked_by)
                return None
            return _Send(url=endpoint.url, message_id=d.message_id, body=d.body,
                         secrets=signing_secrets(endpoint.secret, endpoint.previous_secret,
                                                 endpoint.previous_secret_expires_at, now))

    def _record(self, job: jobs.Job, attempt: Attempt) -> None:
        """Log the attempt and decide what follows, with the job's completion, in one transaction."""
        p, now = job.payload, self.now()
        manual = p["trigger"] == "manual"
        verdict = delivery.judge(attempt)
        with tenant(self.engine, p["shop_id"]).begin() as conn:
            jobs.complete(conn, job_id=job.id, worker_id=job.locked_by)  # first: locks the job against the reaper
            d = manage.require_delivery(conn, shop_id=p["shop_id"], delivery_id=p["delivery_id"], for_update=True)
            store.record_attempt(conn, delivery=d, at=now, status_code=attempt.status_code,
                                 duration_ms=attempt.duration_ms, response_body=attempt.response_body,
                                 error=attempt.error, trigger=p["trigger"])
            error = attempt.error or ("" if verdict == Verdict.delivered else f"HTTP {attempt.status_code}")
            values: dict[str, Any] = {"attempts": d.attempts + 1, "last_status_code": attempt.status_code,
                                      "last_error": error[:500]}
            if verdict == Verdict.delivered:
                values.update(status=DeliveryStatus.succeeded, next_attempt_at=None)
            elif d.status != DeliveryStatus.pending:
                pass  # delivered before (a manual resend) or cancelled meanwhile: the status stands
            elif verdict == Verdict.gone:
                values.update(status=DeliveryStatus.failed, next_attempt_at=None)
            elif manual:
                if d.next_attempt_at is None:  # no automatic attempt left to wait for
                    values.update(status=DeliveryStatus.failed)
            else:
                delay = delivery.next_delay(p["n"], attempt.retry_after)
                if delay is None:
                    values.update(status=DeliveryStatus.failed, next_attempt_at=None)
                else:
                    values.update(next_attempt_at=now + delay)
                    manage.enqueue_attempt(conn, delivery=d, trigger="automatic", n=p["n"] + 1, run_at=now + delay)
            store.update_delivery(conn, shop_id=d.shop_id, delivery_id=d.id, now=now, **values)
            if verdict == Verdict.gone:
                manage.disable_endpoint(conn, shop_id=d.shop_id, endpoint_id=d.endpoint_id, now=now,
                                        reason=f"the endpoint answered 410 Gone at {events.iso_utc(now)}")
        if verdict == Verdict.gone:
            log.warning("webhook endpoint %s answered 410 Gone: disabled", d.endpoint_id)

    async def _db(self, fn: Callable[[], T]) -> T:
        if self._threads is None:
            self._threads = anyio.CapacityLimiter(4)
        return await anyio.to_thread.run_sync(fn, limiter=self._threads)
