"""The composition root: the one place adapters are wired into the service layer.

The API, the worker, the CLI and the tests all call ``bootstrap``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
import sqlalchemy as sa

from lanjie.carriers.base import Carrier
from lanjie.carriers.registry import load_carriers
from lanjie.channels.base import Channel
from lanjie.channels.registry import load_channels
from lanjie.files import store_from_settings
from lanjie.files.store import FileStore
from lanjie.service import dead_jobs
from lanjie.service.carriers import CarrierGateway
from lanjie.service.channel_jobs import ChannelJobs
from lanjie.service.channels import ChannelGateway
from lanjie.service.claim_jobs import ClaimJobs
from lanjie.service.workflows import Workflows
from lanjie.settings import Settings
from lanjie.store.db import make_engine, migrate, reader, tenant
from lanjie.webhooks import Webhooks
from lanjie.worker import Worker


@dataclass
class Container:
    settings: Settings
    engine: sa.Engine
    http: httpx.AsyncClient
    gateway: CarrierGateway
    workflows: Workflows
    webhooks: Webhooks
    channels: ChannelGateway
    files: FileStore
    channel_jobs: ChannelJobs | None = None
    claim_jobs: ClaimJobs | None = None
    worker: Worker | None = None
    wake_hooks: list = field(default_factory=list)

    @property
    def reader(self) -> sa.Engine:
        """The engine for read-only transactions (no SQLite write lock)."""
        return reader(self.engine)

    def for_shop(self, shop_id: str, *, read_only: bool = False) -> sa.Engine:
        """The engine for one shop's request: its transactions see only that shop (PostgreSQL RLS)."""
        return tenant(self.reader if read_only else self.engine, shop_id)

    def wake(self) -> None:
        """Tell in-process listeners (worker, event streams) that something committed."""
        for hook in self.wake_hooks:
            hook()

    def make_worker(self) -> Worker:
        s = self.settings
        assert self.channel_jobs is not None and self.claim_jobs is not None
        # The channel side settles refunds on the platform, so its refund.execute replaces the plain one.
        handlers = {**self.workflows.handlers(), **self.channel_jobs.handlers(), **self.claim_jobs.handlers(),
                    **self.webhooks.handlers()}
        self.worker = Worker(self.engine, handlers, concurrency=s.worker_concurrency,
                             poll_seconds=s.worker_poll_seconds, lease_seconds=s.job_lease_seconds,
                             default_limit=s.carrier_concurrency, reap_every_seconds=s.job_reap_seconds,
                             on_dead=dead_jobs.record)
        self.wake_hooks.append(self.worker.wake)
        return self.worker

    async def aclose(self) -> None:
        await self.http.aclose()
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, *, engine: sa.Engine | None = None,
              http: httpx.AsyncClient | None = None, carriers: Mapping[str, type[Carrier]] | None = None,
              channels: Mapping[str, type[Channel]] | None = None, run_migrations: bool = True) -> Container:
    """Build everything lanjie needs from settings; pass pieces in to replace them (tests)."""
    settings = settings or Settings()
    engine = engine or make_engine(settings.resolved_database_url())
    if run_migrations:
        migrate(engine)
    http = http or httpx.AsyncClient(timeout=httpx.Timeout(settings.carrier_timeout_seconds),
                                     follow_redirects=False)
    gateway = CarrierGateway(settings, http, carriers or load_carriers())
    channel_gateway = ChannelGateway(settings, http, channels if channels is not None else load_channels())
    container = Container(settings=settings, engine=engine, http=http, gateway=gateway,
                          workflows=None, webhooks=Webhooks(engine, http, settings),  # type: ignore[arg-type]
                          channels=channel_gateway, files=store_from_settings(settings))
    container.wake_hooks.append(container.webhooks.wake)
    container.workflows = Workflows(engine, gateway, on_commit=container.wake)
    container.channel_jobs = ChannelJobs(engine, channel_gateway, gateway, container.workflows,
                                         on_commit=container.wake)
    container.claim_jobs = ClaimJobs(engine, gateway, container.workflows, container.files, on_commit=container.wake)
    return container
