"""The worker runtime: leases due jobs from the database and runs their handlers.

A handler is an async callable taking a `Job`. It normally ends with one transaction that writes
the job's effects and calls `jobs.complete`, so effects and completion commit together; if it
returns without doing so, the worker marks the job succeeded. What a handler raises decides what
happens next:

    RetryLater(run_at)           queued again at run_at; the attempt does not count
    PermanentJobError, or any exception whose class sets ``permanent = True``
                                 dead at once
    LeaseLost                    nothing: the job was taken back and belongs to another run

A heartbeat that finds the lease lost cancels the handler at its next await, so a run whose job was
taken back calls no carrier and no platform; what it was waiting on (a database step) rolls back.
    any other Exception          queued again after a backoff; dead when out of attempts

A job that goes dead (here or in the reaper) is passed to ``on_dead`` in the transaction of the dead
mark, so whatever the job served can say so to a person.

This module knows nothing of lanjie's domain: `bootstrap` builds the handlers and runs the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import socket
import traceback
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from lanjie.store import jobs
from lanjie.store.jobs import Job, LeaseLost, PermanentJobError, RetryLater

__all__ = ["Handler", "PermanentJobError", "RetryLater", "Worker", "default_worker_id"]

log = logging.getLogger("lanjie.worker")

Handler = Callable[[Job], Awaitable[None]]
T = TypeVar("T")

# Longest pause between polls while the database keeps failing, so an outage is not a log flood.
_MAX_ERROR_PAUSE_SECONDS = 5.0


def default_worker_id() -> str:
    """Unique per process and per start, readable in the console: host:pid:random."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _describe(exc: BaseException) -> str:
    # The summary first: the job row keeps only the head of a long traceback.
    return f"{type(exc).__name__}: {exc}\n\n" + "".join(traceback.format_exception(exc))


class Worker:
    """Runs due jobs, `concurrency` at a time, with lease heartbeats, retries and a reaper."""

    def __init__(
        self,
        engine: sa.Engine,
        handlers: Mapping[str, Handler],
        *,
        worker_id: str | None = None,
        concurrency: int = 16,
        poll_seconds: float = 0.05,
        lease_seconds: float = 30.0,
        concurrency_limits: Mapping[str, int] | None = None,
        default_limit: int | None = None,
        reap_every_seconds: float = 5.0,
        shutdown_grace_seconds: float = 10.0,
        clock: Callable[[], datetime] = _utcnow,
        on_dead: jobs.DeadHook | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.engine = engine
        self.handlers = dict(handlers)
        self.worker_id = worker_id or default_worker_id()
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.concurrency_limits = dict(concurrency_limits or {})
        self.default_limit = default_limit
        self.reap_every_seconds = reap_every_seconds
        self.shutdown_grace_seconds = shutdown_grace_seconds
        self.clock = clock  # tests inject a fake clock to step over backoffs and leases
        self.on_dead = on_dead
        self._tasks: set[asyncio.Task[None]] = set()
        self._ran = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._executor: ThreadPoolExecutor | None = None

    def wake(self) -> None:
        """Claim now instead of at the next poll (the API calls it after enqueueing); safe from any thread."""
        loop, wakeup = self._loop, self._wakeup
        if loop is None or wakeup is None:
            return
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            wakeup.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(wakeup.set)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run jobs until `stop` is set, then give running jobs the grace period to finish.

        Cancelling instead of setting `stop` cancels running jobs at once and hands them back.
        """
        await self._serve(stop or asyncio.Event(), until_idle=False)

    async def run_until_idle(self, timeout: float = 10.0) -> int:
        """Run jobs until none is due or running; returns how many were run. For tests and one-off runs."""
        ran_before = self._ran
        try:
            async with asyncio.timeout(timeout):
                await self._serve(asyncio.Event(), until_idle=True)
        except TimeoutError:
            raise TimeoutError(f"jobs still due or running after {timeout} s") from None
        return self._ran - ran_before

    async def _serve(self, stop: asyncio.Event, *, until_idle: bool) -> None:
        loop = self._loop = asyncio.get_running_loop()
        wakeup = self._wakeup = asyncio.Event()
        # Our own threads for bookkeeping, so heartbeats never queue behind handlers' blocking work
        # in the default executor and lose their lease.
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lanjie-worker")
        stop_watch = asyncio.create_task(self._wake_when(stop))
        next_reap = loop.time()
        errors = 0
        graceful = False
        try:
            while not stop.is_set():
                wakeup.clear()  # before claiming, so a wake() during the claim is not lost
                if loop.time() >= next_reap:
                    await self._reap()
                    next_reap = loop.time() + self.reap_every_seconds
                free = self.concurrency - len(self._tasks)
                claimed: list[Job] = []
                if free > 0:
                    try:
                        claimed = await self._claim(free)
                        errors = 0
                    except Exception:
                        errors += 1
                        log.exception("claiming jobs failed")
                for job in claimed:
                    self._start(job)
                idle = not claimed and not self._tasks and not errors
                # A due job we could not claim (another worker is claiming it, or its key is full) is not idle.
                if until_idle and idle and await self._db(jobs.count_due, now=self.clock()) == 0:
                    break
                pause = min(self.poll_seconds * 2 ** min(errors, 16),
                            max(self.poll_seconds, _MAX_ERROR_PAUSE_SECONDS))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await wakeup.wait()  # set by wake(), by a finished job, or by stop
            graceful = True
        finally:
            stop_watch.cancel()
            await self._stop_jobs(grace=self.shutdown_grace_seconds if graceful else 0.0)
            self._executor.shutdown(wait=False)
            self._loop = self._wakeup = self._executor = None

    async def _wake_when(self, stop: asyncio.Event) -> None:
        await stop.wait()
        if self._wakeup is not None:
            self._wakeup.set()

    async def _stop_jobs(self, *, grace: float) -> None:
        pending = set(self._tasks)
        try:
            if pending and grace > 0:
                _, pending = await asyncio.wait(pending, timeout=grace)
        finally:  # also when cancelled while waiting out the grace period
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _db(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """Run a blocking `jobs` call on the worker's own threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, self.engine, **kwargs))

    async def _claim(self, limit: int) -> list[Job]:
        claiming = asyncio.ensure_future(self._db(
            jobs.claim, worker_id=self.worker_id, limit=limit, lease_seconds=self.lease_seconds,
            concurrency_limits=self.concurrency_limits, default_limit=self.default_limit, now=self.clock(),
        ))
        try:
            return await asyncio.shield(claiming)
        except asyncio.CancelledError:
            # Cancelled mid-claim: the claim still commits in its thread. Hand back what it leased
            # now rather than leave those jobs to wait out their leases.
            with contextlib.suppress(Exception):
                for job in await claiming:
                    await self._hand_back(job)
            raise

    async def _reap(self) -> None:
        try:
            taken = await self._db(jobs.reap, now=self.clock(), on_dead=self.on_dead)
        except Exception:
            log.exception("reaping expired leases failed")
            return
        if taken:
            log.warning("took back %d job(s) whose worker stopped heartbeating", taken)

    def _start(self, job: Job) -> None:
        task = asyncio.create_task(self._run_job(job), name=f"lanjie-job-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._job_done)

    def _job_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._wakeup is not None:
            self._wakeup.set()  # a slot is free

    async def _run_job(self, job: Job) -> None:
        self._ran += 1
        this = asyncio.current_task()
        assert this is not None
        lost = asyncio.Event()
        heart = asyncio.create_task(self._heartbeat(job, this, lost))
        try:
            await self._handle(job)
        except asyncio.CancelledError:
            if lost.is_set() and this.uncancel() == 0:
                # Only our heartbeat cancelled it: the job belongs to another run now; nothing to hand back.
                log.warning("job %d (%s): lease lost, handler cancelled", job.id, job.kind)
                return
            # Stopped mid-job: hand the job back now rather than after its lease runs out. If the
            # handler's last transaction is still in flight, one of the two meets LeaseLost.
            await self._hand_back(job)
            raise
        except LeaseLost:
            log.warning("job %d (%s): lease lost, result discarded", job.id, job.kind)
        except Exception:
            # The database failed during bookkeeping; the lease runs out and the reaper retries the job.
            log.exception("job %d (%s): could not record the outcome", job.id, job.kind)
        finally:
            heart.cancel()

    async def _handle(self, job: Job) -> None:
        handler = self.handlers.get(job.kind)
        if handler is None:
            await self._db(jobs.fail, job_id=job.id, worker_id=self.worker_id, retry=False,
                           error=f"no handler for job kind {job.kind!r}", now=self.clock(), on_dead=self.on_dead)
            log.error("job %d: no handler for job kind %r; marked dead", job.id, job.kind)
            return
        log.debug("job %d (%s) attempt %d/%d", job.id, job.kind, job.attempts, job.max_attempts)
        try:
            await handler(job)
        except RetryLater as exc:
            await self._db(jobs.reschedule, job_id=job.id, worker_id=self.worker_id, run_at=exc.run_at,
                           reason=exc.reason or None, now=self.clock())
            log.info("job %d (%s): retry at %s: %s", job.id, job.kind, exc.run_at.isoformat(), exc)
        except LeaseLost:
            raise
        except Exception as exc:
            retry = getattr(exc, "permanent", False) is not True
            status = await self._db(jobs.fail, job_id=job.id, worker_id=self.worker_id, error=_describe(exc),
                                    retry=retry, now=self.clock(), on_dead=self.on_dead)
            level = logging.ERROR if status == jobs.JobStatus.DEAD else logging.WARNING
            log.log(level, "job %d (%s) attempt %d/%d failed, now %s", job.id, job.kind, job.attempts,
                    job.max_attempts, status, exc_info=exc)
        else:
            if not await self._db(jobs.finish, job_id=job.id, worker_id=self.worker_id, now=self.clock()):
                raise LeaseLost(job.id, self.worker_id)

    async def _heartbeat(self, job: Job, task: asyncio.Task[Any], lost: asyncio.Event) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                held = await self._db(jobs.heartbeat, job_id=job.id, worker_id=self.worker_id,
                                      lease_seconds=self.lease_seconds, now=self.clock())
            except Exception:
                log.exception("job %d: heartbeat failed", job.id)
                continue
            if not held:
                log.warning("job %d (%s): lease lost while running", job.id, job.kind)
                lost.set()
                task.cancel()
                return

    async def _hand_back(self, job: Job) -> None:
        try:
            await self._db(jobs.reschedule, job_id=job.id, worker_id=self.worker_id, run_at=self.clock(),
                           reason="worker stopped mid-job", now=self.clock())
        except LeaseLost:
            pass  # the handler's own transaction finished the job first
        except Exception:
            log.exception("job %d: could not hand back; the reaper will take it after its lease", job.id)
