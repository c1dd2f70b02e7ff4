"""The worker runtime against a real database: concurrency, retries, leases, shutdown."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lanjie.store import job_listing, jobs
from lanjie.store.db import make_engine
from lanjie.store.jobs import Job
from lanjie.store.tables import shops
from lanjie.worker import PermanentJobError, RetryLater, Worker

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    """A clock the test moves by hand, so backoffs and leases pass without waiting."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def add(engine: sa.Engine, kind: str = "send", n: int = 1, **kwargs: Any) -> list[int]:
    with engine.begin() as conn:
        ids = [jobs.enqueue(conn, kind=kind, payload={"n": i}, **kwargs) for i in range(n)]
    return [i for i in ids if i is not None]


def row(engine: sa.Engine, job_id: int) -> dict[str, Any]:
    found = job_listing.get(engine, job_id)
    assert found is not None
    return found


def shop_ids(engine: sa.Engine) -> list[str]:
    with engine.begin() as conn:
        return list(conn.execute(sa.select(shops.c.id).order_by(shops.c.id)).scalars())


def add_shop(conn: sa.Connection, shop_id: str) -> None:
    conn.execute(shops.insert().values(id=shop_id, name=shop_id, settlement_policy="on_turned_back",
                                       created_at=T0, updated_at=T0))


def worker(engine: sa.Engine, handlers: dict[str, Any], **kwargs: Any) -> Worker:
    kwargs.setdefault("poll_seconds", 0.01)
    return Worker(engine, handlers, worker_id=kwargs.pop("worker_id", "w1"), **kwargs)


@pytest.mark.anyio
async def test_run_until_idle_runs_every_job_at_most_concurrency_at_a_time(engine: sa.Engine) -> None:
    ids = add(engine, n=30, run_at=T0)
    seen: list[int] = []
    in_flight = max_in_flight = 0

    async def send(job: Job) -> None:
        nonlocal in_flight, max_in_flight
        in_flight += 1
        max_in_flight = max(max_in_flight, in_flight)
        await asyncio.sleep(0.01)
        seen.append(job.payload["n"])
        in_flight -= 1

    assert await worker(engine, {"send": send}, concurrency=8, clock=Clock()).run_until_idle() == 30

    assert sorted(seen) == list(range(30))
    assert max_in_flight == 8
    assert job_listing.stats(engine) == {"queued": 0, "running": 0, "succeeded": 30, "dead": 0}
    assert {(row(engine, i)["attempts"], row(engine, i)["locked_by"]) for i in ids} == {(1, "w1")}


@pytest.mark.anyio
async def test_a_handler_completes_the_job_in_the_transaction_of_its_effects(
    engine: sa.Engine, caplog: pytest.LogCaptureFixture,
) -> None:
    [job_id] = add(engine, run_at=T0)

    async def send(job: Job) -> None:
        def effects() -> None:
            with engine.begin() as conn:
                add_shop(conn, f"shop-{job.id}")
                jobs.complete(conn, job_id=job.id, worker_id=job.locked_by, now=T0)
        await asyncio.to_thread(effects)

    with caplog.at_level(logging.DEBUG, logger="lanjie.worker"):
        assert await worker(engine, {"send": send}, clock=Clock()).run_until_idle() == 1

    assert shop_ids(engine) == [f"shop-{job_id}"]
    assert (row(engine, job_id)["status"], row(engine, job_id)["finished_at"]) == ("succeeded", T0)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.anyio
async def test_a_handler_that_fails_once_is_retried_after_its_backoff(engine: sa.Engine) -> None:
    [job_id] = add(engine, run_at=T0)
    calls: list[int] = []

    async def send(job: Job) -> None:
        calls.append(job.attempts)
        if job.attempts == 1:
            raise ValueError("carrier said 500")

    clock = Clock()
    w = worker(engine, {"send": send}, clock=clock)
    assert await w.run_until_idle() == 1
    failed = row(engine, job_id)
    assert (failed["status"], failed["attempts"]) == ("queued", 1)
    assert failed["last_error"].startswith("ValueError: carrier said 500\n\nTraceback")
    assert T0 + timedelta(seconds=0.5) <= failed["run_at"] < T0 + timedelta(seconds=1.5)

    clock.advance(seconds=1.5)
    assert await w.run_until_idle() == 1

    assert calls == [1, 2]
    done = row(engine, job_id)
    assert (done["status"], done["attempts"]) == ("succeeded", 2)


class CarrierAccountGone(Exception):
    permanent = True


@pytest.mark.anyio
@pytest.mark.parametrize("error", [PermanentJobError("no such intercept"), CarrierAccountGone("deleted")])
async def test_a_permanent_error_makes_the_job_dead_at_once(engine: sa.Engine, error: Exception) -> None:
    [job_id] = add(engine, run_at=T0)

    async def send(job: Job) -> None:
        raise error

    assert await worker(engine, {"send": send}, clock=Clock()).run_until_idle() == 1

    dead = row(engine, job_id)
    assert (dead["status"], dead["attempts"], dead["finished_at"]) == ("dead", 1, T0)
    assert dead["last_error"].startswith(f"{type(error).__name__}: {error}\n")


@pytest.mark.anyio
async def test_retry_later_runs_the_job_again_without_counting_the_attempt(engine: sa.Engine) -> None:
    [job_id] = add(engine, run_at=T0, max_attempts=1)
    opens_at = T0 + timedelta(hours=1)

    async def send(job: Job) -> None:
        if clock() < opens_at:
            raise RetryLater(opens_at, "carrier closed until 09:00")

    clock = Clock()
    w = worker(engine, {"send": send}, clock=clock)
    assert await w.run_until_idle() == 1
    waiting = row(engine, job_id)
    assert (waiting["status"], waiting["attempts"], waiting["run_at"], waiting["last_error"]) == (
        "queued", 0, opens_at, "carrier closed until 09:00")

    clock.now = opens_at
    assert await w.run_until_idle() == 1
    assert (row(engine, job_id)["status"], row(engine, job_id)["attempts"]) == ("succeeded", 1)


@pytest.mark.anyio
async def test_a_job_of_unknown_kind_is_dead_with_a_clear_error(engine: sa.Engine) -> None:
    [job_id] = add(engine, "nobody.handles.this", run_at=T0)

    assert await worker(engine, {"send": _noop}, clock=Clock()).run_until_idle() == 1

    dead = row(engine, job_id)
    assert (dead["status"], dead["attempts"]) == ("dead", 1)
    assert dead["last_error"] == "no handler for job kind 'nobody.handles.this'"


async def _noop(job: Job) -> None:
    return None


@pytest.mark.anyio
async def test_concurrency_limit_holds_across_two_workers(engine: sa.Engine, database_url: str) -> None:
    add(engine, n=16, run_at=T0, concurrency_key="carrier:x")
    add(engine, n=4, run_at=T0)
    in_flight: Counter[str | None] = Counter()
    max_seen: Counter[str | None] = Counter()

    async def send(job: Job) -> None:
        in_flight[job.concurrency_key] += 1
        max_seen[job.concurrency_key] = max(max_seen[job.concurrency_key], in_flight[job.concurrency_key])
        await asyncio.sleep(0.02)
        in_flight[job.concurrency_key] -= 1

    other_engine = make_engine(database_url)
    try:
        workers = [worker(e, {"send": send}, worker_id=f"w{n}", concurrency=8, clock=Clock(),
                          concurrency_limits={"carrier:x": 2}) for n, e in enumerate([engine, other_engine])]
        ran = await asyncio.gather(*(w.run_until_idle() for w in workers))
    finally:
        other_engine.dispose()

    assert sum(ran) == 20
    # One claim takes two jobs of the key at once, so the limit is reached; never passed.
    assert max_seen["carrier:x"] == 2
    assert job_listing.stats(engine) == {"queued": 0, "running": 0, "succeeded": 20, "dead": 0}


@pytest.mark.anyio
async def test_heartbeats_keep_a_job_that_outlives_its_lease(engine: sa.Engine) -> None:
    [job_id] = add(engine)

    async def slow(job: Job) -> None:
        await asyncio.sleep(1.0)

    # Real time here: heartbeats every 0.3 s renew a 0.9 s lease while the reaper looks every 0.05 s.
    w = worker(engine, {"send": slow}, lease_seconds=0.9, reap_every_seconds=0.05)
    assert await w.run_until_idle() == 1

    done = row(engine, job_id)
    assert (done["status"], done["attempts"], done["last_error"]) == ("succeeded", 1, "")


@pytest.mark.anyio
async def test_the_reaper_takes_back_the_job_of_a_dead_worker(engine: sa.Engine) -> None:
    [job_id] = add(engine, run_at=T0)
    jobs.claim(engine, worker_id="killed", limit=1, lease_seconds=30, now=T0)
    ran: list[int] = []

    async def send(job: Job) -> None:
        ran.append(job.attempts)

    assert await worker(engine, {"send": send}, clock=Clock(T0 + timedelta(seconds=29))).run_until_idle() == 0
    assert row(engine, job_id)["locked_by"] == "killed"
    assert await worker(engine, {"send": send}, clock=Clock(T0 + timedelta(seconds=31))).run_until_idle() == 1

    assert ran == [2]
    assert (row(engine, job_id)["status"], row(engine, job_id)["locked_by"]) == ("succeeded", "w1")


@pytest.mark.anyio
async def test_a_job_taken_back_mid_run_keeps_its_new_holder_and_drops_the_old_effects(
    engine: sa.Engine, caplog: pytest.LogCaptureFixture,
) -> None:
    [job_id] = add(engine, run_at=T0)
    later = T0 + timedelta(hours=1)

    async def send(job: Job) -> None:
        def stalled_then_commits() -> None:
            # While this run stalled, its lease ran out and another worker took the job.
            jobs.reap(engine, now=later)
            jobs.claim(engine, worker_id="other", limit=1, lease_seconds=30, now=later)
            with engine.begin() as conn:
                add_shop(conn, "stale-effect")
                jobs.complete(conn, job_id=job.id, worker_id=job.locked_by)
        await asyncio.to_thread(stalled_then_commits)

    with caplog.at_level(logging.WARNING, logger="lanjie.worker"):
        assert await worker(engine, {"send": send}, clock=Clock()).run_until_idle() == 1

    assert shop_ids(engine) == []
    taken = row(engine, job_id)
    assert (taken["status"], taken["locked_by"], taken["attempts"]) == ("running", "other", 2)
    assert [r.getMessage() for r in caplog.records] == [f"job {job_id} (send): lease lost, result discarded"]


@pytest.mark.anyio
async def test_stopping_hands_back_a_job_that_outlasts_the_grace_period(engine: sa.Engine) -> None:
    [job_id] = add(engine, run_at=T0)
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def stuck(job: Job) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    stop = asyncio.Event()
    w = worker(engine, {"send": stuck}, clock=Clock(), shutdown_grace_seconds=0.05)
    running = asyncio.create_task(w.run(stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    await asyncio.wait_for(running, 5)

    assert cancelled.is_set()
    back = row(engine, job_id)
    assert (back["status"], back["attempts"], back["locked_by"], back["run_at"], back["last_error"]) == (
        "queued", 0, None, T0, "worker stopped mid-job")


@pytest.mark.anyio
async def test_stopping_lets_running_jobs_finish_within_the_grace_period(engine: sa.Engine) -> None:
    [job_id] = add(engine, run_at=T0)
    started, release = asyncio.Event(), asyncio.Event()

    async def send(job: Job) -> None:
        started.set()
        await release.wait()

    stop = asyncio.Event()
    running = asyncio.create_task(worker(engine, {"send": send}, clock=Clock()).run(stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    await asyncio.sleep(0.05)
    assert not running.done()
    release.set()
    await asyncio.wait_for(running, 5)

    assert (row(engine, job_id)["status"], row(engine, job_id)["attempts"]) == ("succeeded", 1)


@pytest.mark.anyio
async def test_run_until_idle_gives_up_after_its_timeout_and_hands_the_job_back(engine: sa.Engine) -> None:
    [job_id] = add(engine, run_at=T0)

    async def stuck(job: Job) -> None:
        await asyncio.Event().wait()

    with pytest.raises(TimeoutError):
        await worker(engine, {"send": stuck}, clock=Clock()).run_until_idle(timeout=0.2)

    assert (row(engine, job_id)["status"], row(engine, job_id)["attempts"]) == ("queued", 0)


@pytest.mark.anyio
async def test_wake_from_another_thread_claims_without_waiting_for_the_poll(engine: sa.Engine) -> None:
    done = asyncio.Event()

    async def send(job: Job) -> None:
        done.set()

    stop = asyncio.Event()
    w = worker(engine, {"send": send}, poll_seconds=60)
    running = asyncio.create_task(w.run(stop))
    await asyncio.sleep(0.1)  # let the worker find the queue empty and settle into its 60 s wait

    [job_id] = await asyncio.to_thread(add, engine)
    await asyncio.to_thread(w.wake)
    await asyncio.wait_for(done.wait(), 5)
    stop.set()
    await asyncio.wait_for(running, 5)

    assert row(engine, job_id)["status"] == "succeeded"


@pytest.mark.anyio
async def test_cancelling_mid_claim_hands_back_the_jobs_the_claim_leased(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    [job_id] = add(engine, run_at=T0)
    entered, proceed = threading.Event(), threading.Event()
    real_claim = jobs.claim

    def held_claim(*args: Any, **kwargs: Any) -> list[Job]:
        entered.set()
        proceed.wait(5)
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(jobs, "claim", held_claim)
    running = asyncio.create_task(worker(engine, {"send": _noop}, clock=Clock()).run_until_idle())
    assert await asyncio.to_thread(entered.wait, 5)
    running.cancel()
    await asyncio.sleep(0)
    proceed.set()
    with pytest.raises(asyncio.CancelledError):
        await running

    back = row(engine, job_id)
    assert (back["status"], back["attempts"], back["locked_by"]) == ("queued", 0, None)


@pytest.mark.anyio
async def test_a_failing_database_is_logged_and_polled_with_growing_pauses(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    broken = make_engine(f"sqlite:///{tmp_path / 'no-schema.db'}")  # no jobs table: every claim fails
    stop = asyncio.Event()
    try:
        with caplog.at_level(logging.ERROR, logger="lanjie.worker"):
            running = asyncio.create_task(worker(broken, {}, poll_seconds=0.01).run(stop))
            await asyncio.sleep(0.2)
            stop.set()
            await asyncio.wait_for(running, 5)
    finally:
        broken.dispose()

    claims = [r for r in caplog.records if r.getMessage() == "claiming jobs failed"]
    # Pauses of 0.02, 0.04, 0.08, 0.16 s: at most five tries in 0.2 s, where a fixed poll would make twenty.
    assert 1 <= len(claims) <= 5
    assert [r.getMessage() for r in caplog.records if r not in claims] == ["reaping expired leases failed"]
