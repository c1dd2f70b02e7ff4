"""A job going dead is reported to the `on_dead` hook in the transaction of the dead mark."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from lanjie.store import jobs
from lanjie.store.jobs import DeadJob
from tests.store.test_jobs import T0, add, add_shop, claim, row, shop_ids

PAYLOAD = {"shop_id": "s1", "case_id": "as_1"}


class Hook:
    """Records what it is told and writes a row, to show its writes share the dead mark's transaction."""

    def __init__(self, *, fails: bool = False) -> None:
        self.told: list[DeadJob] = []
        self.fails = fails

    def __call__(self, conn: sa.Connection, job: DeadJob) -> None:
        self.told.append(job)
        add_shop(conn, f"told-{job.id}")
        if self.fails:
            raise RuntimeError("the hook broke")


def test_a_job_out_of_attempts_is_reported_once_with_its_payload_and_error(engine: sa.Engine) -> None:
    job_id = add(engine, "intercept.submit", run_at=T0, max_attempts=2, shop_id="s1", payload=PAYLOAD)
    hook = Hook()
    claim(engine, now=T0)
    assert jobs.fail(engine, job_id=job_id, worker_id="w1", error="one", now=T0, on_dead=hook) == "queued"
    assert hook.told == []
    claim(engine, now=T0 + timedelta(minutes=1))
    assert jobs.fail(engine, job_id=job_id, worker_id="w1", error="two\ntrace", now=T0, on_dead=hook) == "dead"

    assert hook.told == [DeadJob(job_id, "intercept.submit", "s1", PAYLOAD, 2, "two\ntrace")]
    assert shop_ids(engine) == [f"told-{job_id}"]


def test_a_permanent_failure_is_reported_at_its_first_attempt(engine: sa.Engine) -> None:
    job_id = add(engine, "refund.execute", run_at=T0, payload=PAYLOAD)
    hook = Hook()
    claim(engine, now=T0)
    assert jobs.fail(engine, job_id=job_id, worker_id="w1", error="gone", retry=False, now=T0, on_dead=hook) == "dead"
    assert hook.told == [DeadJob(job_id, "refund.execute", None, PAYLOAD, 1, "gone")]


def test_a_reaped_job_out_of_attempts_is_reported_and_one_with_attempts_left_is_not(engine: sa.Engine) -> None:
    last = add(engine, "intercept.submit", run_at=T0, max_attempts=1, payload=PAYLOAD)
    again = add(engine, "intercept.submit", run_at=T0, max_attempts=2, payload=PAYLOAD)
    hook = Hook()
    claim(engine, "killed", now=T0)

    assert jobs.reap(engine, now=T0 + timedelta(minutes=1), on_dead=hook) == 2
    assert hook.told == [DeadJob(last, "intercept.submit", None, PAYLOAD, 1,
                                 "lease expired; worker killed presumed dead")]
    assert (row(engine, last)["status"], row(engine, again)["status"]) == ("dead", "queued")
    assert shop_ids(engine) == [f"told-{last}"]


def test_a_failing_hook_is_undone_but_the_job_is_dead_all_the_same(
    engine: sa.Engine, caplog: pytest.LogCaptureFixture,
) -> None:
    job_id = add(engine, "intercept.submit", run_at=T0, max_attempts=1, payload=PAYLOAD)
    hook = Hook(fails=True)
    claim(engine, now=T0)

    assert jobs.fail(engine, job_id=job_id, worker_id="w1", error="boom", now=T0, on_dead=hook) == "dead"

    assert len(hook.told) == 1
    assert shop_ids(engine) == []  # the hook's own write rolled back with its savepoint
    assert (row(engine, job_id)["status"], row(engine, job_id)["last_error"]) == ("dead", "boom")
    assert [r.getMessage() for r in caplog.records if r.name == "lanjie.jobs"] == [
        f"job {job_id} (intercept.submit) is dead and reporting it failed"]
