"""The push bookkeeping the native track twins share: one ``Feed`` per subscription.

Two kinds of twin use it. A per-event twin (ZTO, STO, J&T) takes the scans its feed has not had yet
(``new_scans``) and ``send``s one push per event. A full-history twin (Yunda, Kdniao) ``send_history``s
the parcel's whole trace on every new scan: a snapshot still being retried is dropped once a newer
one was acknowledged, and the feed ends with the push of a finished parcel. Either way a feed's
pushes go out one after another (its ``order`` lock) and the body before the newest is kept, so the
out-of-order fault can re-send it after the newer one.

What a push says, how it is signed and which answer acknowledges it stay in each twin: only the
bookkeeping lives here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from lanjie.sandbox.model import Channel, Parcel, Scan
from lanjie.sandbox.push import AckCheck, Delivery, PushBody

if TYPE_CHECKING:
    from lanjie.sandbox.world import SandboxWorld

S = TypeVar("S")


@dataclass
class Feed:
    """One subscription's pushes: sent in order, counted, the newest body kept for the out-of-order fault."""

    order: asyncio.Lock = field(default_factory=asyncio.Lock)  # its pushes go out one at a time
    pushed: int = 0  # the parcel's scans already handed to the push sender (per-event feeds)
    acked: int = 0  # the scans in the newest snapshot acknowledged (full-history feeds)
    last_body: PushBody | None = None  # the newest push, for the out-of-order fault
    active: bool = True  # a full-history feed ends with the push of a finished parcel

    def new_scans(self, parcel: Parcel) -> list[Scan]:
        """The parcel's scans this feed has not had yet; from now on they count as pushed."""
        new, self.pushed = parcel.scans[self.pushed:], len(parcel.scans)
        return new

    def send(self, world: SandboxWorld, *, waybill_no: str, url: str, body: PushBody, summary: str, ack: AckCheck,
             superseded: Callable[[], bool] | None = None, on_acked: Callable[[], None] | None = None) -> None:
        """Hand one push to the world's sender, to go out after this feed's earlier ones."""
        stale, self.last_body = self.last_body, body
        world.pushes.send(Delivery(
            channel=Channel.push, waybill_no=waybill_no, url=url, body=body, summary=summary, ack=ack,
            order=self.order, superseded=superseded, on_acked=on_acked, stale_body=stale,
        ))

    def send_history(self, world: SandboxWorld, parcel: Parcel, *, url: str, body: PushBody, summary: str,
                     ack: AckCheck) -> None:
        """Push a snapshot of the parcel's whole history; retries stop once a newer snapshot was acknowledged."""
        count = len(parcel.scans)
        if parcel.finished:
            self.active = False

        def acked() -> None:
            self.acked = max(self.acked, count)

        self.send(world, waybill_no=parcel.waybill_no, url=url, body=body, summary=summary, ack=ack,
                  superseded=lambda: self.acked > count, on_acked=acked)


def subscribed(subscriptions: Mapping[tuple[str, str], S], waybill_no: str) -> list[S]:
    """The subscriptions to one waybill, from a twin's map keyed by (account, waybill number).

    A list, not a view, so pushing to them cannot trip over a subscription added meanwhile.
    """
    return [subscription for (_account, number), subscription in subscriptions.items() if number == waybill_no]


def first_push(world: SandboxWorld, parcel: Parcel | None, push: Callable[[], None]) -> None:
    """Schedule a new subscription's push of the scans so far, if the parcel has any.

    It runs ``first_push_seconds`` of sim time later, never within the request: the subscriber has
    its answer to the subscription before the first push, as from a real carrier.
    """
    if parcel is not None and parcel.scans:
        at = world.clock.now() + timedelta(seconds=world.config.first_push_seconds)
        world.schedule(at, lambda _at: push())


def ack_object(status_code: int, body: bytes) -> dict[str, Any] | None:
    """The JSON object a subscriber acknowledged with; None for a non-2xx answer or any other body."""
    if not 200 <= status_code < 300:
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None
