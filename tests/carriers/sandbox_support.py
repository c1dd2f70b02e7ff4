"""Shared setup of the against-sandbox tests: a sandbox world in process, its clock still, served over ASGI.

Each test file builds its own adapter on the client this yields, from credentials written out in the
test (the adapter must not need the twin); nothing here knows a carrier's protocol.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx

from lanjie.sandbox import SandboxConfig, SandboxWorld, create_sandbox_app
from lanjie.sandbox.faults import FaultPlan, Faults, FaultSettings
from lanjie.sandbox.model import Channel

START_AT = datetime(2025, 3, 1, 2, 0, 0, tzinfo=UTC)  # 2025-03-01 10:00:00 in Beijing


class Deadline(httpx.AsyncBaseTransport):
    """ASGITransport ignores client timeouts; enforce the read timeout as a socket would."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        seconds = request.extensions.get("timeout", {}).get("read")
        try:
            return await asyncio.wait_for(self.inner.handle_async_request(request), seconds)
        except TimeoutError as exc:
            raise httpx.ReadTimeout("no answer in time", request=request) from exc


@asynccontextmanager
async def sandbox(timeout: float) -> AsyncIterator[tuple[SandboxWorld, httpx.AsyncClient]]:
    """A world and a client of its app that gives up after ``timeout``; the world is stopped afterwards."""
    # time_factor 0: the sandbox clock moves only when told. The rate-limit window never slides.
    world = SandboxWorld(SandboxConfig(time_factor=0.0, ack_latency_ms=0, start_at=START_AT, seed=7))
    world.faults = Faults(world.rng, monotonic=lambda: 0.0)
    transport = Deadline(httpx.ASGITransport(app=create_sandbox_app(world)))
    try:
        async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
            yield world, client
    finally:
        await world.stop()


def capture_pushes(world: SandboxWorld, acknowledge: Callable[[httpx.Request], httpx.Response]) -> list[httpx.Request]:
    """The list the world's pushes land in from now on, each answered by ``acknowledge`` (no network)."""
    pushed: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        pushed.append(request)
        return acknowledge(request)

    world._http = httpx.AsyncClient(transport=httpx.MockTransport(receive))
    return pushed


def channel_faults(channel: Channel, **settings: float) -> FaultPlan:
    """A fault plan with ``settings`` on one channel only."""
    return FaultPlan(channels={channel: FaultSettings(**settings)})
