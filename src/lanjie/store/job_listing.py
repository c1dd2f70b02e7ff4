"""Reading the job queue for people: counts by status, the newest jobs, one job's row (`lanjie jobs`,
support, tests). The queue's own moves (claim, complete, fail, reap…) are in `jobs`."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from lanjie.store.jobs import JobStatus
from lanjie.store.tables import jobs

__all__ = ["get", "list_jobs", "stats"]


def stats(engine: sa.Engine) -> dict[str, int]:
    """How many jobs are in each status."""
    with engine.begin() as conn:
        counts = dict(conn.execute(sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)).all())
    return {status.value: counts.get(status.value, 0) for status in JobStatus}


def get(engine: sa.Engine, job_id: int) -> dict[str, Any] | None:
    """One job row, for the console and for support."""
    with engine.begin() as conn:
        row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
    return None if row is None else dict(row._mapping)


def list_jobs(engine: sa.Engine, *, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The newest jobs, optionally only those in one status (the console's dead-letter view)."""
    query = sa.select(jobs).order_by(jobs.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(jobs.c.status == status)
    with engine.begin() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
