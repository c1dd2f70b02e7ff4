"""Outgoing webhooks: fan-out of events to endpoints, delivery jobs, retries (placeholder, being built)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
import sqlalchemy as sa

from lanjie.service.ids import utcnow
from lanjie.settings import Settings


class Webhooks:
    """Turns the events table into signed deliveries to each shop's endpoints."""

    def __init__(self, engine: sa.Engine, http: httpx.AsyncClient, settings: Settings,
                 now: Callable[[], datetime] = utcnow) -> None:
        self.engine, self.http, self.settings, self.now = engine, http, settings, now

    def handlers(self) -> dict[str, Callable[[Any], Awaitable[None]]]:
        """Job kinds this module runs on the shared worker."""
        return {}

    def wake(self) -> None:
        """Something committed: look for new events soon."""

    async def run(self, stop: asyncio.Event) -> None:
        """Fan new events out to endpoints until ``stop`` is set."""
        await stop.wait()
