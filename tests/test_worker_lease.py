"""A run whose lease is lost mid-job is cancelled before it calls out: the job belongs to another run."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa

from lanjie.store import jobs
from lanjie.store.jobs import Job
from tests.test_worker import T0, Clock, add, row, worker


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_handler_whose_lease_is_lost_is_cancelled_before_its_carrier_call(
    engine: sa.Engine, caplog: pytest.LogCaptureFixture,
) -> None:
    [job_id] = add(engine, "submit", run_at=T0)
    steps: list[str] = []
    waiting, cancelled = asyncio.Event(), asyncio.Event()
    database_step = asyncio.Event()  # never set: the handler is stuck in a slow step when its lease goes

    async def submit(job: Job) -> None:
        steps.append("read the case")
        waiting.set()
        try:
            await database_step.wait()
        except asyncio.CancelledError:
            steps.append("cancelled")
            cancelled.set()
            raise
        steps.append("carrier call")

    # Heartbeats every 0.1 s (real time) on the worker's fake clock; the reaper there never sees it expire.
    w = worker(engine, {"submit": submit}, clock=Clock(), lease_seconds=0.3, reap_every_seconds=3600)
    stop = asyncio.Event()
    with caplog.at_level(logging.WARNING, logger="lanjie.worker"):
        running = asyncio.create_task(w.run(stop))
        await asyncio.wait_for(waiting.wait(), 10)
        # Another worker's reaper, an hour on, took the job back while this run was stuck.
        assert jobs.reap(engine, now=T0 + timedelta(hours=1)) == 1
        await asyncio.wait_for(cancelled.wait(), 10)
        stop.set()
        await asyncio.wait_for(running, 10)

    assert steps == ["read the case", "cancelled"]
    back = row(engine, job_id)
    # Queued by the reaper for its next run, not handed back or failed by the cancelled one.
    assert (back["status"], back["locked_by"], back["attempts"], back["run_at"]) == (
        "queued", None, 1, T0 + timedelta(hours=1))
    assert back["last_error"] == "lease expired; worker w1 presumed dead"
    assert [r.getMessage() for r in caplog.records] == [
        f"job {job_id} (submit): lease lost while running", f"job {job_id} (submit): lease lost, handler cancelled"]
