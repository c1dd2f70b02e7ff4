"""Requests per second per carrier account: a token bucket every adapter awaits before it sends.

Carriers refuse bursts (ZTO ``S206``, Kuaidi100 429, UPS 429); waiting a few milliseconds here is
cheaper than a refusal, a retry and a line in the case timeline. The bucket is per process (each
worker keeps its own), so N processes may together send N times the rate; the carrier's own
rate-limit answer still reaches the service layer as ``rate_limited`` and is retried with backoff.
The wait is computed under a thread lock and slept on whichever event loop asks, so the API's
previews and the worker's jobs share one bucket.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` requests per second on average, bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate, self.burst, self._clock = rate, burst if burst is not None else max(1.0, rate), clock
        self._tokens, self._at = self.burst, clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take one token; the seconds to wait before using it (0 when one was available)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)


class RateLimits:
    """One bucket per carrier account, made on first use."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, account_id: str, rate: float) -> TokenBucket:
        with self._lock:
            bucket = self._buckets.get(account_id)
            if bucket is None or bucket.rate != rate:
                bucket = self._buckets[account_id] = TokenBucket(rate)
            return bucket
