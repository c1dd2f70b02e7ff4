"""Sim-time scheduling for a sandbox world: due actions in time order, and the pushes they start.

Actions are plain functions run on the event loop when sim time reaches them; they never block.
Pushes are background tasks the scheduler tracks, so ``advance`` and ``settle`` can wait until
every push they caused has been attempted once. One pass over due actions runs at a time (the
ticker skips a tick while ``advance`` or ``settle`` runs); protocol request handlers never take
that lock, so a push receiver may call the sandbox back while a pass waits for its answer.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from lanjie.sandbox.clock import SimClock

logger = logging.getLogger(__name__)

Action = Callable[[datetime], None]

_MAX_ACTIONS_PER_PASS = 100_000
_MAX_ROUNDS = 10_000


class Scheduler:
    """A queue of actions by sim time, a ticker that runs them, and the background pushes they start."""

    def __init__(self, clock: SimClock, tick_seconds: float) -> None:
        self.clock = clock
        self._tick_seconds = tick_seconds
        self._queue: list[tuple[datetime, int, Action]] = []
        self._order = itertools.count()
        self._inflight: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._ticker: asyncio.Task[None] | None = None

    def schedule(self, at: datetime, action: Action) -> None:
        """Run ``action(at)`` once sim time reaches ``at`` (actions due together run in the order given)."""
        heapq.heappush(self._queue, (at, next(self._order), action))

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a push in the background; ``settle`` and ``advance`` wait for it."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._inflight.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("sandbox background task failed", exc_info=task.exception())

    def start(self) -> None:
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_forever(), name="sandbox-ticker")

    async def stop(self) -> None:
        """Stop ticking and abandon pushes in flight."""
        tasks = [task for task in [self._ticker, *self._inflight] if task is not None]
        self._ticker = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _run_due(self) -> int:
        ran = 0
        while self._queue and self._queue[0][0] <= self.clock.now() and ran < _MAX_ACTIONS_PER_PASS:
            at, _, action = heapq.heappop(self._queue)
            try:
                action(at)
            except Exception:  # one broken action must not stop the world
                logger.exception("sandbox action failed")
            ran += 1
        return ran

    async def _quiesce(self) -> int:
        """Run everything due now and wait for the pushes it starts, until nothing is left."""
        total = 0
        for _ in range(_MAX_ROUNDS):
            ran = self._run_due()
            total += ran
            if self._inflight:
                await asyncio.wait(set(self._inflight))
            elif ran == 0:
                break
        return total

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self._tick_seconds)
            if self._lock.locked():
                continue
            async with self._lock:
                self._run_due()

    async def advance(self, seconds: float) -> int:
        """Move sim time forward, running every action at its own time and waiting for its pushes.

        Returns how many actions ran. A push that fails during the advance is retried within it
        when the retry falls before the new now.
        """
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        async with self._lock:
            target = self.clock.now() + timedelta(seconds=seconds)
            ran = await self._quiesce()
            while self._queue and self._queue[0][0] <= target:
                self.clock.advance_to(self._queue[0][0])
                ran += await self._quiesce()
            self.clock.advance_to(target)
            ran += await self._quiesce()
        return ran

    async def settle(self) -> int:
        """Run what is due now and wait until every push it (or the ticker) started was attempted."""
        async with self._lock:
            return await self._quiesce()
