"""Shared pieces of the Kuaidi100 tests: a test account, a fixed clock, recordings and a scripted carrier."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import httpx

from lanjie.carriers.base import CarrierAccount
from lanjie.carriers.kuaidi100 import Kuaidi100

KEY = "K3yAbCdEf0123456"
CUSTOMER = "CUST0000FFFF1111"
SECRET = "s3cr3tValue998877"
SALT = "sa1tForPushes2024xyz"
API = "https://api.k100.test"
POLL = "https://poll.k100.test"
CALLBACK = "https://lanjie.example/cb/k100/tok123"
WAYBILL = "78912345678901"

ACCOUNT = CarrierAccount(
    carrier="kuaidi100",
    credentials={"key": KEY, "customer": CUSTOMER, "secret": SECRET, "salt": SALT},
    endpoints={"api": API, "poll": POLL},
)

#: The fixed instant every signed request in these tests is made at; t = 1717228800123.
NOW = datetime(2024, 6, 1, 8, 0, 0, 123000, tzinfo=UTC)

RECORDINGS = Path(__file__).parent / "recordings" / "kuaidi100"


def recording(name: str) -> bytes:
    """The exact bytes of a recorded Kuaidi100 answer or push param, e.g. ``"intercept/200.json"``."""
    return (RECORDINGS / name).read_bytes()


def form_of(request: httpx.Request) -> dict[str, list[str]]:
    """The form fields a request carried, decoded the way a server decodes them."""
    return parse_qs(request.content.decode("ascii"), keep_blank_values=True, strict_parsing=True)


Reply = httpx.Response | Exception
JSON_UTF8 = "application/json;charset=UTF-8"


@dataclass
class ScriptedCarrier:
    """A MockTransport handler that answers from a script and keeps every request it saw."""

    replies: list[Reply]
    seen: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def answer(body: bytes, status_code: int = 200, content_type: str = JSON_UTF8) -> Reply:
    """A recorded answer as the carrier sends it."""
    return httpx.Response(status_code, content=body, headers={"Content-Type": content_type})


Wired = tuple[Kuaidi100, ScriptedCarrier]


@asynccontextmanager
async def kuaidi100(*replies: Reply, account: CarrierAccount = ACCOUNT,
                    clock: Callable[[], datetime] = lambda: NOW) -> AsyncIterator[Wired]:
    """An adapter wired to a scripted carrier through httpx.MockTransport; every reply must be used."""
    script = ScriptedCarrier(list(replies))
    async with httpx.AsyncClient(transport=httpx.MockTransport(script)) as client:
        yield Kuaidi100(account, client, clock=clock), script
    assert script.replies == [], f"{len(script.replies)} scripted replies were never asked for"
