"""Delivery of pushes and callbacks: one POST per attempt, an acknowledgement check, retries.

Each twin builds the exact bytes it signs (a form, a JSON document) as a ``PushBody``; this module
sends them unchanged.

A delivery that gets no valid acknowledgement (a wrong body, a non-2xx status, an error or no answer
within ``push_timeout_seconds``) is tried again ``push_retry_seconds`` (result callbacks:
``callback_retry_seconds``) of sim time later, up to ``push_retries`` times. Deliveries that share an
``order`` lock go out strictly one after another, so a subscriber sees its snapshots in the order they
were made unless a fault says otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import httpx

from lanjie.sandbox.model import Channel, PushResult

if TYPE_CHECKING:
    from lanjie.sandbox.world import SandboxWorld

AckCheck = Callable[[int, bytes], bool]


@dataclass(frozen=True)
class PushBody:
    """The exact bytes of one push, with their headers (content type, signature headers)."""

    content: bytes
    headers: Mapping[str, str]

    @staticmethod
    def form(fields: Mapping[str, str], headers: Mapping[str, str] | None = None) -> PushBody:
        return PushBody(urlencode(fields, encoding="utf-8").encode("ascii"),
                        {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})

    @staticmethod
    def json_text(text: str, headers: Mapping[str, str] | None = None) -> PushBody:
        return PushBody(text.encode("utf-8"), {"Content-Type": "application/json;charset=utf-8", **(headers or {})})


@dataclass
class Delivery:
    """Something the sandbox owes a subscriber: where, what, and how to tell it arrived."""

    channel: Channel
    waybill_no: str
    url: str
    body: PushBody
    summary: str  # for the push log, e.g. "polling, 5 scans"
    ack: AckCheck
    order: asyncio.Lock | None = None
    superseded: Callable[[], bool] | None = None  # checked before each retry
    on_acked: Callable[[], None] | None = None
    stale_body: PushBody | None = None  # an older snapshot, re-sent by the out-of-order fault


class PushSender:
    """Sends deliveries for a world, logging every attempt in the world's push log."""

    def __init__(self, world: SandboxWorld) -> None:
        self._world = world

    def send(self, delivery: Delivery) -> None:
        """Start delivering in the background (the world tracks the task for ``settle``)."""
        self._world.spawn(self._attempt(delivery, 0))

    async def _attempt(self, delivery: Delivery, attempt: int) -> None:
        world = self._world
        acked = False
        async with delivery.order or contextlib.nullcontext():
            if attempt > 0 and delivery.superseded is not None and delivery.superseded():
                world.record_push(delivery, attempt, PushResult.superseded, None, "a newer push was acknowledged")
                return
            faults = world.faults.for_channel(delivery.channel)
            if faults.latency_ms:
                await asyncio.sleep(faults.latency_ms / 1000)
            acked, status, detail = await self._post(delivery, delivery.body)
            world.record_push(delivery, attempt, PushResult.acked if acked else PushResult.failed, status, detail)
            if acked and delivery.on_acked is not None:
                delivery.on_acked()
            if world.faults.roll(faults.duplicate_push_rate):
                extra, status, detail = await self._post(delivery, delivery.body)
                world.record_push(delivery, attempt, PushResult.acked if extra else PushResult.failed,
                                  status, detail, fault="duplicate")
            if delivery.stale_body is not None and world.faults.roll(faults.out_of_order_rate):
                extra, status, detail = await self._post(delivery, delivery.stale_body)
                world.record_push(delivery, attempt, PushResult.acked if extra else PushResult.failed,
                                  status, detail, fault="out_of_order")
        if not acked and attempt < world.config.push_retries:
            retry_at = world.clock.now() + world.retry_delta(delivery.channel)
            world.schedule(retry_at, lambda _at: world.spawn(self._attempt(delivery, attempt + 1)))

    async def _post(self, delivery: Delivery, body: PushBody) -> tuple[bool, int | None, str]:
        try:
            response = await self._world.http.post(delivery.url, content=body.content, headers=dict(body.headers))
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return False, None, f"{type(exc).__name__}: {exc}"[:200]
        return delivery.ack(response.status_code, response.content), response.status_code, response.text[:200]
