"""Delivering platform messages to a shop's push URL: one POST per attempt, the platform's ack, retries.

The carriers' ``PushSender`` logs by waybill into the world's push log; a platform message belongs to
an after-sale and keeps its own attempts (``PlatformMessage.attempts``), so this sender is separate.
It uses the same world pieces: the shared HTTP client, the scheduler (a retry is a sim-time action,
so ``advance`` runs it), and tracked background tasks (``settle`` waits for them).

A message without an acknowledgement (a wrong body, a non-2xx status, an error, or no answer within
``push_timeout_seconds`` real seconds) is sent again ``push_retry_seconds`` of sim time later, up to
``push_retries`` times. Messages about one after-sale go out one after another (its ``order`` lock).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx

from lanjie.sandbox.config import PlatformSettings
from lanjie.sandbox.platforms.model import DeliveryAttempt, PlatformMessage
from lanjie.sandbox.push import PushBody

if TYPE_CHECKING:
    from lanjie.sandbox.world import SandboxWorld

AckCheck = Callable[[int, bytes], bool]


class MessageSender:
    """Sends platform messages for a world and records each attempt on the message."""

    def __init__(self, world: SandboxWorld, settings: PlatformSettings) -> None:
        self._world = world
        self._settings = settings

    def send(self, message: PlatformMessage, body: PushBody, ack: AckCheck, order: asyncio.Lock) -> None:
        """Start delivering ``message`` (already signed into ``body``) in the background."""
        if message.url is not None:
            self._world.spawn(self._attempt(message, body, ack, order, 0))

    async def _attempt(self, message: PlatformMessage, body: PushBody, ack: AckCheck, order: asyncio.Lock,
                       attempt: int) -> None:
        world, url = self._world, message.url
        assert url is not None
        async with order:
            sent_at = world.clock.now()
            try:
                response = await world.http.post(url, content=body.content, headers=dict(body.headers),
                                                 timeout=self._settings.push_timeout_seconds)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                acked, status, detail = False, None, f"{type(exc).__name__}: {exc}"[:200]
            else:
                acked, status = ack(response.status_code, response.content), response.status_code
                detail = response.text[:200]
            message.attempts.append(DeliveryAttempt(sent_at, attempt, acked, status, detail))
        if not acked and attempt < self._settings.push_retries:
            retry_at = world.clock.now() + timedelta(seconds=self._settings.push_retry_seconds)
            world.schedule(retry_at, lambda _at: world.spawn(self._attempt(message, body, ack, order, attempt + 1)))
