"""A job that runs out of attempts puts its case before a person; retrying it takes the flag off."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from lanjie.bootstrap import Container
from lanjie.carriers.base import InterceptAck
from lanjie.carriers.errors import CarrierUnavailable
from lanjie.service import case_search, dead_jobs
from lanjie.service.ids import utcnow
from lanjie.store import tables as t

# The case with one intercept requested, and its scripted carrier (pytest finds fixtures by module name).
from tests.service.test_workflows import ScriptedCarrier, _state, anyio_backend, world  # noqa: F401

pytestmark = pytest.mark.anyio

ERROR = "CarrierUnavailable: HTTP 503"


async def _run(container: Container) -> None:
    """Run every due job once through the worker bootstrap builds, then make backoffs due (as test_workflows)."""
    worker = container.make_worker()
    frozen = utcnow() + timedelta(seconds=5)
    worker.clock = lambda: frozen
    await worker.run_until_idle()
    with container.engine.begin() as conn:
        conn.execute(t.jobs.update().where(t.jobs.c.status == "queued").values(run_at=utcnow()))


def _jobs(container: Container) -> list[tuple[Any, ...]]:
    with container.engine.connect() as conn:
        rows = conn.execute(sa.select(t.jobs.c.kind, t.jobs.c.status, t.jobs.c.attempts, t.jobs.c.last_error)
                            .order_by(t.jobs.c.id)).all()
    return [(kind, status, attempts, error.split("\n", 1)[0]) for kind, status, attempts, error in rows]


def _job_id(container: Container, kind: str) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(sa.select(t.jobs.c.id).where(t.jobs.c.kind == kind)).scalar_one())


def _case_events(container: Container, case_id: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    with container.engine.connect() as conn:
        rows = conn.execute(sa.select(t.events.c.type, t.events.c.subject_type, t.events.c.subject_id,
                                      t.events.c.payload)
                            .where(t.events.c.aftersale_id == case_id).order_by(t.events.c.id)).all()
    return [tuple(r) for r in rows]


def _attention(container: Container, case_id: str) -> tuple[str, str]:
    with container.engine.connect() as conn:
        row = conn.execute(sa.select(t.aftersales.c.status, t.aftersales.c.attention)
                           .where(t.aftersales.c.id == case_id)).one()
    return row.status, row.attention


async def _outage_outlasts_the_retries(container: Container) -> None:
    ScriptedCarrier.intercepts += [CarrierUnavailable("HTTP 503")] * 12
    for _ in range(12):
        await _run(container)


async def test_an_intercept_request_out_of_attempts_puts_its_case_before_a_person(world: Any) -> None:  # noqa: F811
    container, shop_id, case_id = world
    await _outage_outlasts_the_retries(container)

    submit = _job_id(container, "intercept.submit")
    assert _jobs(container) == [("tracking.subscribe", "succeeded", 1, ""),
                                ("intercept.submit", "dead", 12, ERROR)]
    assert ScriptedCarrier.calls == ["subscribe"] + ["intercept"] * 12
    # The status stays where the job left it, so the job, retried, carries on; the flag says why.
    assert _state(container, shop_id, case_id) == ("intercepting", "requested", None, None, 12, [])
    assert _attention(container, case_id) == ("intercepting", "job_dead")
    assert [e[0] for e in _case_events(container, case_id)] == [
        "aftersale.created", "aftersale.status_changed", "intercept.requested", "job.dead"]
    assert _case_events(container, case_id)[-1] == ("job.dead", "aftersale", case_id, {
        "aftersale_id": case_id, "job_id": submit, "kind": "intercept.submit", "attempts": 12, "error": ERROR,
        "retry": f"lanjie jobs --retry {submit}"})
    with container.engine.connect() as conn:
        flagged = conn.execute(case_search.case_query(shop_id, case_search.CaseFilter(needs_person=True))).all()
    assert [c.id for c in flagged] == [case_id]


async def test_retrying_the_dead_job_takes_the_flag_off_and_the_intercept_carries_on(world: Any) -> None:  # noqa: F811
    container, shop_id, case_id = world
    await _outage_outlasts_the_retries(container)
    submit = _job_id(container, "intercept.submit")

    assert dead_jobs.retry(container.engine, submit) is True
    assert dead_jobs.retry(container.engine, submit) is False  # no longer dead

    assert _attention(container, case_id) == ("intercepting", "")
    assert _case_events(container, case_id)[-1] == ("job.retried", "aftersale", case_id, {
        "aftersale_id": case_id, "job_id": submit, "kind": "intercept.submit"})
    ScriptedCarrier.intercepts.append(InterceptAck(True, "T1"))
    await _run(container)
    assert _jobs(container) == [("tracking.subscribe", "succeeded", 1, ""),
                                ("intercept.submit", "succeeded", 1, ERROR)]
    assert _state(container, shop_id, case_id) == ("intercepting", "submitted", None, "T1", 13, [])
    assert _attention(container, case_id) == ("intercepting", "")
