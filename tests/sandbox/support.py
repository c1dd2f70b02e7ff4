"""Shared setup of the in-process twin tests: a world served over ASGI, its pushes sent to a stand-in for lanjie.

The real-HTTP fixtures (uvicorn, a receiver on 127.0.0.1) are in ``conftest.py``; these need no socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs

import httpx

from lanjie.sandbox import SandboxConfig, SandboxWorld, create_sandbox_app

START_AT = datetime(2025, 3, 1, 2, 0, 0, tzinfo=UTC)  # 2025-03-01 10:00:00 in Beijing

Receive = TypeVar("Receive", bound=Callable[[httpx.Request], httpx.Response])


@asynccontextmanager
async def in_process(receiver: Receive,
                     **config: Any) -> AsyncIterator[tuple[SandboxWorld, httpx.AsyncClient, Receive]]:
    """A world whose clock moves only when told (``config`` overrides), a client of its app, and ``receiver``.

    The world's pushes go to ``receiver`` through a MockTransport instead of the network.
    """
    world = SandboxWorld(SandboxConfig(**{"time_factor": 0.0, "ack_latency_ms": 0, "start_at": START_AT,
                                          "seed": 7, **config}))
    world._http = httpx.AsyncClient(transport=httpx.MockTransport(receiver))
    transport = httpx.ASGITransport(app=create_sandbox_app(world))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
            yield world, client, receiver
    finally:
        await world.stop()


@dataclass
class PushReceiver:
    """Stands for lanjie: records each push and answers from a script, then with the right ack."""

    ack: bytes
    answers: list[httpx.Response] = field(default_factory=list)
    pushes: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.pushes.append(request)
        return self.answers.pop(0) if self.answers else httpx.Response(200, content=self.ack)

    def forms(self) -> list[dict[str, str]]:
        return [{k: v[0] for k, v in parse_qs(p.content.decode("ascii"), keep_blank_values=True).items()}
                for p in self.pushes]
