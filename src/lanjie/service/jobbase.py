"""What the families of job handlers beside the carrier workflows share (channel jobs, claim jobs)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa

from lanjie.service.unit_of_work import UnitOfWork
from lanjie.service.workflows import Workflows
from lanjie.store import jobs
from lanjie.store.db import tenant

T = TypeVar("T")


class JobHandlers:
    """A unit of work per shop, database work on the workflows' threads, and a job completed with its writes."""

    engine: sa.Engine
    workflows: Workflows
    on_commit: Callable[[], None] | None
    now: Callable[[], datetime]

    def uow(self, shop_id: str) -> UnitOfWork:
        return UnitOfWork(tenant(self.engine, shop_id), self.now(), on_commit=self.on_commit)

    async def _db(self, fn: Callable[[], T]) -> T:
        return await self.workflows.db(fn)

    def _finish(self, u: UnitOfWork, job: jobs.Job) -> None:
        jobs.complete(u.conn, job_id=job.id, worker_id=job.locked_by)
        u.commit()
