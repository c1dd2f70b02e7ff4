"""A job that gave up is put before a person, not left to die quietly in the job table.

The worker calls `record` in the transaction that marks a job dead (out of attempts, failed for
good, or its worker's lease ran out on the last attempt). Every case the job served gets a
``job.dead`` event naming the job, its kind, its last error and the command that retries it, and
``attention = job_dead`` — its status stays where it was, so a retried job carries on from there.
`retry` is that command: the job gets a fresh set of attempts and the flag comes off its cases.

Jobs that serve no case (a carrier's or a platform's raw push, a webhook delivery) are left to
``lanjie jobs --status dead`` and, for webhooks, the delivery log.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from lanjie.service.ids import utcnow
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store import jobs, repository
from lanjie.store import tables as t

log = logging.getLogger("lanjie.dead_jobs")

JOB_DEAD = "job_dead"  # the case's attention while a job serving it is dead


def retry_command(job_id: int) -> str:
    return f"lanjie jobs --retry {job_id}"


def record(conn: sa.Connection, job: jobs.DeadJob) -> None:
    """Flag every case the dead job served, in the caller's transaction (the dead mark's)."""
    shop_id = job.shop_id or job.payload.get("shop_id")
    case_ids = _cases_served(conn, shop_id, job.payload) if shop_id else []
    if not case_ids:
        log.warning("job %d (%s) is dead and serves no case: see `lanjie jobs --status dead`", job.id, job.kind)
        return
    assert shop_id is not None
    error = job.error.split("\n", 1)[0]  # the summary line; the traceback stays on the job row
    with UnitOfWork(conn.engine, utcnow(), within=conn) as u:
        for case_id in case_ids:
            case = u.case(shop_id, case_id)
            if case is not None:
                case.job_dead(job_id=job.id, kind=job.kind, attempts=job.attempts, error=error,
                              retry=retry_command(job.id))
                u.save(case)
        u.commit()


def retry(engine: sa.Engine, job_id: int, *, now: datetime | None = None) -> bool:
    """Give a dead job a fresh set of attempts and take the flag off its cases; False if it is not dead."""
    with engine.begin() as conn:
        row = conn.execute(sa.select(t.jobs.c.kind, t.jobs.c.shop_id, t.jobs.c.payload)
                           .where(t.jobs.c.id == job_id)).first()
        if not jobs.retry_dead(conn, job_id=job_id, now=now):
            return False
        shop_id = row.shop_id or row.payload.get("shop_id")
        if not shop_id:
            return True
        with UnitOfWork(engine, now or utcnow(), within=conn) as u:
            for case_id in _cases_served(conn, shop_id, row.payload):
                case = u.case(shop_id, case_id)
                if case is not None:
                    case.job_retried(job_id=job_id, kind=row.kind)
                    u.save(case)
            u.commit()
    return True


def _cases_served(conn: sa.Connection, shop_id: str, payload: dict[str, Any]) -> list[str]:
    """The cases a job works for, found from the ids in its payload."""
    if payload.get("case_id"):
        return [payload["case_id"]]
    for key, table in (("claim_id", t.claims), ("leg_id", t.return_legs)):
        if payload.get(key):
            found = conn.execute(sa.select(table.c.aftersale_id).where(
                table.c.id == payload[key], table.c.shop_id == shop_id)).scalar_one_or_none()
            return [found] if found else []
    if payload.get("shipment_id"):  # tracking: a parcel without its trace leaves its cases blind
        return repository.case_ids_for_shipment(conn, shop_id=shop_id, shipment_id=payload["shipment_id"])
    if payload.get("channel") and payload.get("ref"):  # a platform sync (the case may not exist yet)
        a = t.aftersales
        return list(conn.execute(sa.select(a.c.id).where(a.c.shop_id == shop_id, a.c.channel == payload["channel"],
                                                         a.c.channel_ref == payload["ref"])).scalars())
    return []
