"""The sandbox's simulated clock: real time scaled by a factor, plus manual jumps.

With ``time_factor=0`` the clock stands still and only ``advance`` moves it, which is what tests want:
every scan, callback and retry then happens at an exact, repeatable instant.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SimClock:
    """Simulated time (aware UTC) that runs ``time_factor`` sim seconds per real second."""

    def __init__(self, start_at: datetime, time_factor: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if start_at.tzinfo is None:
            raise ValueError("start_at must be timezone-aware")
        if time_factor < 0:
            raise ValueError("time_factor must be >= 0")
        self._monotonic = monotonic
        self._base_at = start_at.astimezone(UTC)
        self._base_real = monotonic()
        self._factor = float(time_factor)

    @property
    def time_factor(self) -> float:
        return self._factor

    def now(self) -> datetime:
        """The current simulated time."""
        elapsed = (self._monotonic() - self._base_real) * self._factor
        return self._base_at + timedelta(seconds=elapsed)

    def _rebase(self) -> None:
        # Fold the real time elapsed so far into the base, so a factor change or jump starts from "now".
        self._base_at = self.now()
        self._base_real = self._monotonic()

    def set_time_factor(self, time_factor: float) -> None:
        """Change the speed of time from now on (0 stops it)."""
        if time_factor < 0:
            raise ValueError("time_factor must be >= 0")
        self._rebase()
        self._factor = float(time_factor)

    def advance(self, seconds: float) -> datetime:
        """Jump forward by ``seconds`` of simulated time; return the new now."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._rebase()
        self._base_at += timedelta(seconds=seconds)
        return self._base_at

    def advance_to(self, at: datetime) -> datetime:
        """Jump forward to ``at`` if it is in the future; never move back."""
        now = self.now()
        if at > now:
            return self.advance((at - now).total_seconds())
        return now
