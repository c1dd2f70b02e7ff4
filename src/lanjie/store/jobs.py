"""The job queue: a transactional outbox in the application database.

A state change and the job that carries it out commit in one transaction (`enqueue` takes the
caller's connection). Workers lease due jobs with `claim` (PostgreSQL: ``FOR UPDATE SKIP LOCKED``;
SQLite: the engine's ``BEGIN IMMEDIATE`` makes each claim the only writer), keep them with
`heartbeat`, and finish them with `complete` in the same transaction as the job's effects. A worker
that dies leaves its job ``running`` with a lease that runs out; `reap` takes it back.

    queued ──claim──► running ──complete──► succeeded
      ▲                 │ fail (attempts left) / reap (lease expired) / reschedule
      └─────────────────┘
                        │ fail (attempts used up, or permanent) / reap (attempts used up)
                        ▼
                       dead ──retry_dead──► queued

A job that goes dead is reported to the caller's ``on_dead`` hook in the transaction of the dead
mark (in a savepoint, so a failing hook cannot keep the job alive): nothing gives up unseen.

Reading the queue for people (counts by status, the newest jobs, one row) is `job_listing`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from lanjie.store.db import reader
from lanjie.store.tables import jobs

__all__ = [
    "BACKOFF_BASE_SECONDS",
    "BACKOFF_CAP_SECONDS",
    "DeadHook",
    "DeadJob",
    "Job",
    "JobStatus",
    "LeaseLost",
    "backoff_seconds",
    "claim",
    "complete",
    "count_due",
    "enqueue",
    "fail",
    "finish",
    "heartbeat",
    "reap",
    "reschedule",
    "retry_dead",
]

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 300.0
# Enough to read the exception and the innermost frames; a job row is not a log file.
_MAX_ERROR_CHARS = 4000

_rng = random.Random()
log = logging.getLogger("lanjie.jobs")


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"  # leased to `locked_by` until `lease_until`
    SUCCEEDED = "succeeded"
    DEAD = "dead"  # out of attempts or failed permanently; waits for a human (`retry_dead`)


class PermanentJobError(Exception):
    """The job can never succeed (bad payload, object gone): dead at once, no retries."""

    permanent = True


class RetryLater(Exception):
    """Not now: run the job again at `run_at` without counting this attempt (carrier hours, rate limit)."""

    def __init__(self, run_at: datetime, reason: str = "") -> None:
        if run_at.tzinfo is None:
            raise ValueError("RetryLater needs an aware datetime")
        super().__init__(reason or f"retry at {run_at.isoformat()}")
        self.run_at, self.reason = run_at, reason


class LeaseLost(Exception):
    """This worker no longer holds the job: its lease ran out and the job was taken back."""

    def __init__(self, job_id: int, worker_id: str) -> None:
        super().__init__(f"job {job_id} is no longer held by {worker_id}")
        self.job_id, self.worker_id = job_id, worker_id


@dataclass(frozen=True)
class Job:
    """A job leased to a worker, as its handler sees it."""

    id: int
    kind: str
    key: str | None
    shop_id: str | None
    payload: dict[str, Any]
    attempts: int  # including the one now running
    max_attempts: int
    concurrency_key: str | None
    locked_by: str  # the worker id to pass to `complete`


@dataclass(frozen=True)
class DeadJob:
    """A job that has just gone dead, as the `on_dead` hook sees it."""

    id: int
    kind: str
    shop_id: str | None
    payload: dict[str, Any]
    attempts: int
    error: str


# Called with the connection of the dead mark's transaction; its writes commit with the mark.
DeadHook = Callable[[sa.Connection, DeadJob], None]


def _report_dead(conn: sa.Connection, on_dead: DeadHook | None, job: DeadJob) -> None:
    if on_dead is None:
        return
    try:
        with conn.begin_nested():
            on_dead(conn, job)
    except Exception:
        # The dead mark stands: `lanjie jobs --status dead` still lists the job.
        log.exception("job %d (%s) is dead and reporting it failed", job.id, job.kind)


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _transaction(bind: sa.Engine | sa.Connection) -> Iterator[sa.Connection]:
    if isinstance(bind, sa.Connection):
        yield bind  # the caller's transaction: the caller commits
    else:
        with bind.begin() as conn:
            yield conn


def _held(job_id: int, worker_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(jobs.c.id == job_id, jobs.c.status == JobStatus.RUNNING, jobs.c.locked_by == worker_id)


def enqueue(
    conn: sa.Connection,
    *,
    kind: str,
    payload: dict[str, Any],
    key: str | None = None,
    shop_id: str | None = None,
    run_at: datetime | None = None,
    concurrency_key: str | None = None,
    max_attempts: int = 12,
) -> int | None:
    """Add a job in the caller's transaction; a job with the same key already present → no-op, returns None."""
    now = _now()
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    # ON CONFLICT DO NOTHING rather than catching IntegrityError: on PostgreSQL a failed INSERT
    # would abort the caller's whole transaction, state change included.
    stmt = (
        insert(jobs)
        .values(
            kind=kind, key=key, shop_id=shop_id, payload=payload, status=JobStatus.QUEUED, attempts=0,
            max_attempts=max_attempts, run_at=run_at or now, concurrency_key=concurrency_key,
            last_error="", created_at=now, updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=[jobs.c.key])
        .returning(jobs.c.id)
    )
    return conn.execute(stmt).scalar_one_or_none()


def claim(
    engine: sa.Engine,
    *,
    worker_id: str,
    limit: int,
    lease_seconds: float,
    concurrency_limits: Mapping[str, int] | None = None,
    default_limit: int | None = None,
    kinds: Collection[str] | None = None,
    now: datetime | None = None,
) -> list[Job]:
    """Lease up to `limit` due jobs to this worker."""
    if limit <= 0:
        return []
    now = now or _now()
    limits = dict(concurrency_limits or {})
    limited = bool(limits) or default_limit is not None

    def cap_of(key: str | None) -> int | None:
        return None if key is None else limits.get(key, default_limit)

    claimed: list[Job] = []
    if count_due(reader(engine), now=now) == 0:
        return claimed  # an idle poll should not take SQLite's write lock
    with engine.begin() as conn:
        # Keys that take no more jobs in this claim. Seeded from a lock-free count so saturated
        # keys are not fetched and locked for nothing; the authoritative count comes below.
        closed: set[str] = set()
        if limited:
            closed = {key for key, n in _running_by_key(conn, now=now).items()
                      if (cap := cap_of(key)) is not None and n >= cap}
        room: dict[str, int] = {}
        # Each round either fills the claim, runs out of due jobs, or closes at least one more key,
        # so a backlog of one saturated key never hides the jobs queued behind it.
        while len(claimed) < limit:
            want = limit - len(claimed)
            query = (
                sa.select(jobs)
                .where(jobs.c.status == JobStatus.QUEUED, jobs.c.run_at <= now)
                .order_by(jobs.c.run_at, jobs.c.id)
                .limit(want)
                .with_for_update(skip_locked=True)
            )
            if kinds is not None:
                query = query.where(jobs.c.kind.in_(list(kinds)))
            if closed:
                query = query.where(sa.or_(jobs.c.concurrency_key.is_(None),
                                           jobs.c.concurrency_key.not_in(sorted(closed))))
            rows = conn.execute(query).all()
            taken = []
            for row in rows:
                key, cap = row.concurrency_key, cap_of(row.concurrency_key)
                if cap is not None:
                    if key in closed:
                        continue
                    if key not in room:
                        if not _lock_concurrency_key(conn, key):
                            closed.add(key)  # another worker is claiming this key right now
                            continue
                        room[key] = cap - _running_by_key(conn, now=now, key=key).get(key, 0)
                    if room[key] <= 0:
                        closed.add(key)
                        continue
                    room[key] -= 1
                    if room[key] == 0:
                        closed.add(key)
                taken.append(row)
            if taken:
                conn.execute(
                    sa.update(jobs)
                    .where(jobs.c.id.in_([row.id for row in taken]))
                    .values(status=JobStatus.RUNNING, locked_by=worker_id, attempts=jobs.c.attempts + 1,
                            lease_until=now + timedelta(seconds=lease_seconds), updated_at=now)
                )
                claimed += [_leased(row, worker_id) for row in taken]
            if len(rows) < want:
                break
    return claimed


def _leased(row: sa.Row[Any], worker_id: str) -> Job:
    return Job(id=row.id, kind=row.kind, key=row.key, shop_id=row.shop_id, payload=row.payload,
               attempts=row.attempts + 1, max_attempts=row.max_attempts,
               concurrency_key=row.concurrency_key, locked_by=worker_id)


def _running_by_key(conn: sa.Connection, *, now: datetime, key: str | None = None) -> dict[str, int]:
    # An expired lease does not count: its worker is presumed dead and the reaper will take the job back.
    query = (
        sa.select(jobs.c.concurrency_key, sa.func.count())
        .where(jobs.c.status == JobStatus.RUNNING, jobs.c.lease_until > now,
               jobs.c.concurrency_key.is_not(None))
        .group_by(jobs.c.concurrency_key)
    )
    if key is not None:
        query = query.where(jobs.c.concurrency_key == key)
    return {k: n for k, n in conn.execute(query).all()}


def _lock_concurrency_key(conn: sa.Connection, key: str) -> bool:
    """Make this transaction the only claimer of `key` until it commits; False if another holds it."""
    if conn.dialect.name != "postgresql":
        return True  # SQLite: BEGIN IMMEDIATE already made this transaction the only writer
    # A transaction-scoped advisory lock: the count taken after it sees every other claimer's
    # committed leases (READ COMMITTED), and no two claimers count the same key at once. Trying,
    # not waiting, means no lock-order deadlocks; the loser claims that key on its next poll.
    lock_id = sa.func.hashtextextended(sa.literal(f"lanjie.jobs.concurrency:{key}", sa.Text), 0)
    return bool(conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(lock_id))).scalar_one())


def heartbeat(
    bind: sa.Engine | sa.Connection, *, job_id: int, worker_id: str, lease_seconds: float,
    now: datetime | None = None,
) -> bool:
    """Extend the lease; False when this worker no longer holds the job."""
    now = now or _now()
    with _transaction(bind) as conn:
        result = conn.execute(
            sa.update(jobs).where(_held(job_id, worker_id))
            .values(lease_until=now + timedelta(seconds=lease_seconds), updated_at=now)
        )
    return result.rowcount == 1


def complete(conn: sa.Connection, *, job_id: int, worker_id: str, now: datetime | None = None) -> None:
    """Mark the job succeeded in the caller's transaction; raise LeaseLost if this worker no longer holds it."""
    # Call it in the transaction that writes the job's effects, so both commit or neither does.
    # On PostgreSQL calling it early in that transaction also row-locks the job against the reaper.
    now = now or _now()
    result = conn.execute(
        sa.update(jobs).where(_held(job_id, worker_id))
        .values(status=JobStatus.SUCCEEDED, lease_until=None, finished_at=now, updated_at=now)
    )
    if result.rowcount != 1:
        raise LeaseLost(job_id, worker_id)


def finish(engine: sa.Engine, *, job_id: int, worker_id: str, now: datetime | None = None) -> bool:
    """Mark the job succeeded unless its handler already did; False when this worker lost it."""
    now = now or _now()
    with reader(engine).connect() as conn:
        row = conn.execute(sa.select(jobs.c.status, jobs.c.locked_by).where(jobs.c.id == job_id)).first()
    if row is not None and row.status == JobStatus.SUCCEEDED and row.locked_by == worker_id:
        return True  # the handler completed it in its own transaction: no write needed
    with engine.begin() as conn:
        try:
            complete(conn, job_id=job_id, worker_id=worker_id, now=now)
            return True
        except LeaseLost:
            row = conn.execute(sa.select(jobs.c.status, jobs.c.locked_by).where(jobs.c.id == job_id)).first()
    # `locked_by` stays on a finished job, which tells "my handler completed it" from "lost it".
    return row is not None and row.status == JobStatus.SUCCEEDED and row.locked_by == worker_id


def backoff_seconds(attempts: int, *, rng: random.Random | None = None) -> float:
    """Delay before the next try after `attempts` failed ones: capped exponential, full jitter in [0.5, 1.5)."""
    backoff = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    return backoff * (0.5 + (rng or _rng).random())


def fail(
    bind: sa.Engine | sa.Connection,
    *,
    job_id: int,
    worker_id: str,
    error: str,
    retry: bool = True,
    now: datetime | None = None,
    rng: random.Random | None = None,
    on_dead: DeadHook | None = None,
) -> str:
    """Record a failed attempt: queued again after a backoff, or dead when out of attempts or not retryable."""
    now = now or _now()
    with _transaction(bind) as conn:
        row = conn.execute(
            sa.select(jobs.c.kind, jobs.c.shop_id, jobs.c.payload, jobs.c.attempts, jobs.c.max_attempts)
            .where(_held(job_id, worker_id)).with_for_update()
        ).first()
        if row is None:
            raise LeaseLost(job_id, worker_id)
        values: dict[str, Any] = {"lease_until": None, "last_error": error[:_MAX_ERROR_CHARS], "updated_at": now}
        if retry and row.attempts < row.max_attempts:
            delay = backoff_seconds(row.attempts, rng=rng)
            values |= {"status": JobStatus.QUEUED, "locked_by": None, "run_at": now + timedelta(seconds=delay)}
        else:
            values |= {"status": JobStatus.DEAD, "finished_at": now}
        conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(**values))
        if values["status"] == JobStatus.DEAD:
            _report_dead(conn, on_dead, DeadJob(job_id, row.kind, row.shop_id, row.payload, row.attempts,
                                                values["last_error"]))
    return str(values["status"])


def reschedule(
    bind: sa.Engine | sa.Connection,
    *,
    job_id: int,
    worker_id: str,
    run_at: datetime,
    reason: str | None = None,
    now: datetime | None = None,
) -> None:
    """Put the job back to run at `run_at` without counting this attempt (e.g. outside carrier hours)."""
    now = now or _now()
    values: dict[str, Any] = {
        "status": JobStatus.QUEUED, "run_at": run_at, "lease_until": None, "locked_by": None,
        "attempts": sa.case((jobs.c.attempts > 0, jobs.c.attempts - 1), else_=0), "updated_at": now,
    }
    if reason is not None:
        values["last_error"] = reason[:_MAX_ERROR_CHARS]
    with _transaction(bind) as conn:
        result = conn.execute(sa.update(jobs).where(_held(job_id, worker_id)).values(**values))
        if result.rowcount != 1:
            raise LeaseLost(job_id, worker_id)


def reap(engine: sa.Engine, *, now: datetime | None = None, on_dead: DeadHook | None = None) -> int:
    """Take back jobs whose lease expired (their worker died): queued again, or dead if out of attempts."""
    now = now or _now()
    # SET expressions read the row as it was, so the message names the worker that held it.
    error = sa.literal("lease expired; worker ", sa.Text) + jobs.c.locked_by + sa.literal(" presumed dead")
    with engine.begin() as conn:
        # Lock first, in id order and skipping rows others hold: reapers in several workers then
        # share the work instead of deadlocking on each other's multi-row UPDATEs.
        expired = conn.execute(
            sa.select(jobs.c.id, jobs.c.kind, jobs.c.shop_id, jobs.c.payload, jobs.c.attempts, jobs.c.max_attempts,
                      jobs.c.locked_by)
            .where(jobs.c.status == JobStatus.RUNNING, jobs.c.lease_until < now)
            .order_by(jobs.c.id)
            .with_for_update(skip_locked=True)
        ).all()
        dead = [r.id for r in expired if r.attempts >= r.max_attempts]
        again = [r.id for r in expired if r.attempts < r.max_attempts]
        if dead:
            conn.execute(
                sa.update(jobs).where(jobs.c.id.in_(dead))
                .values(status=JobStatus.DEAD, lease_until=None, finished_at=now, last_error=error,
                        updated_at=now)
            )
            for r in expired:
                if r.attempts >= r.max_attempts:
                    _report_dead(conn, on_dead, DeadJob(r.id, r.kind, r.shop_id, r.payload, r.attempts,
                                                        f"lease expired; worker {r.locked_by} presumed dead"))
        if again:
            conn.execute(
                sa.update(jobs).where(jobs.c.id.in_(again))
                .values(status=JobStatus.QUEUED, lease_until=None, locked_by=None, run_at=now,
                        last_error=error, updated_at=now)
            )
    return len(expired)


def retry_dead(bind: sa.Engine | sa.Connection, *, job_id: int, now: datetime | None = None) -> bool:
    """Give a dead job a fresh set of attempts; False if the job is not dead."""
    now = now or _now()
    with _transaction(bind) as conn:
        result = conn.execute(
            sa.update(jobs).where(jobs.c.id == job_id, jobs.c.status == JobStatus.DEAD)
            .values(status=JobStatus.QUEUED, attempts=0, run_at=now, locked_by=None, lease_until=None,
                    finished_at=None, updated_at=now)
        )
    return result.rowcount == 1


def count_due(engine: sa.Engine, *, now: datetime | None = None) -> int:
    """How many queued jobs are due to run now."""
    now = now or _now()
    with engine.begin() as conn:
        query = sa.select(sa.func.count()).where(jobs.c.status == JobStatus.QUEUED, jobs.c.run_at <= now)
        return int(conn.execute(query).scalar_one())
