"""Misbehaviour on demand: latency, 5xx answers, held answers, rate limits, duplicate and stale pushes.

Settings are given for all channels (``default``) and per channel; a channel's setting wins over the
default field by field. Every random choice comes from the world's seeded ``random.Random``.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from lanjie.sandbox.model import Channel

Rate = Annotated[float | None, Field(ge=0.0, le=1.0)]
T = TypeVar("T")


class FaultSettings(BaseModel):
    """Fault settings; a field left out (None) inherits from the default, then from "no fault"."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: Annotated[int | None, Field(ge=0)] = None  # added to every answer (or before a push)
    error_rate: Rate = None  # answer HTTP 500/502 without doing anything
    timeout_rate: Rate = None  # do the work, then hold the answer for timeout_seconds
    timeout_seconds: Annotated[float | None, Field(ge=0.0)] = None
    duplicate_push_rate: Rate = None  # deliver the same push or callback twice
    out_of_order_rate: Rate = None  # after a tracking push, re-send the previous (older) snapshot
    rate_limit_per_second: Annotated[float | None, Field(gt=0.0)] = None  # intercept code 429 above this


class FaultPlan(BaseModel):
    """All fault settings of a world."""

    model_config = ConfigDict(extra="forbid")

    default: FaultSettings = Field(default_factory=FaultSettings)
    channels: dict[Channel, FaultSettings] = Field(default_factory=dict)


@dataclass(frozen=True)
class ChannelFaults:
    """The settings in force for one channel, defaults filled in."""

    latency_ms: int = 0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0
    duplicate_push_rate: float = 0.0
    out_of_order_rate: float = 0.0
    rate_limit_per_second: float | None = None


class Faults:
    """The fault plan in force and the dice it rolls."""

    def __init__(self, rng: random.Random, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.plan = FaultPlan()
        self._rng = rng
        self._monotonic = monotonic
        self._recent: dict[Channel, deque[float]] = {}

    def set_plan(self, plan: FaultPlan) -> None:
        self.plan = plan

    def for_channel(self, channel: Channel) -> ChannelFaults:
        specific = self.plan.channels.get(channel, FaultSettings())
        values = {}
        for name in FaultSettings.model_fields:
            value = getattr(specific, name)
            if value is None:
                value = getattr(self.plan.default, name)
            if value is not None:
                values[name] = value
        return ChannelFaults(**values)

    def roll(self, rate: float) -> bool:
        """True with probability ``rate``; consumes no randomness when the rate is 0."""
        return rate > 0.0 and self._rng.random() < rate

    def choice(self, options: Sequence[T]) -> T:
        return self._rng.choice(options)

    def over_rate_limit(self, channel: Channel, per_second: float | None) -> bool:
        """Count a request on ``channel``; True when the last real second already had ``per_second``."""
        if per_second is None:
            return False
        now = self._monotonic()
        recent = self._recent.setdefault(channel, deque())
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        if len(recent) >= per_second:
            return True
        recent.append(now)
        return False
