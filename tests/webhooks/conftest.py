"""Webhook test support: a real HTTP receiver on 127.0.0.1, shops with events, and claiming due attempts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa

from lanjie.domain.events import Event
from lanjie.service import shops
from lanjie.store import jobs, repository
from lanjie.store import tables as t

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a sender that gave up (timeout, 2 KB read) hangs up mid-answer: expected here


class Receiver:
    """An HTTP server that records each POST and answers from a script (then 200 once the script is used up)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: list[Answer] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                answer = receiver.script.pop(0) if receiver.script else Answer(200)
                if answer.delay:
                    time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()
    r.thread.join(timeout=5)


def new_shop(engine: sa.Engine, name: str) -> str:
    shop, _ = shops.create_shop(engine, name)
    return shop.id


def add_events(engine: sa.Engine, shop_id: str, *types: str, case_id: str = "as_1",
               at: datetime = T0) -> list[int]:
    """Append events of the given internal types for one case; returns their ids."""
    with engine.begin() as conn:
        before = _last_event_id(conn, shop_id)
        repository.append_events(conn, shop_id=shop_id, now=at, events=[
            Event(type_, type_.partition(".")[0], case_id if type_.startswith("aftersale") else f"sub_{n}",
                  {"aftersale_id": case_id, "n": n}) for n, type_ in enumerate(types)])
        return list(conn.execute(sa.select(t.events.c.id).where(t.events.c.shop_id == shop_id,
                                                                t.events.c.id > before)
                                 .order_by(t.events.c.id)).scalars())


def _last_event_id(conn: sa.Connection, shop_id: str) -> int:
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.events.c.id), 0))
                            .where(t.events.c.shop_id == shop_id)).scalar_one())


def claim_due(engine: sa.Engine, *, at: datetime | None = None) -> list[jobs.Job]:
    """Lease every webhook attempt due at ``at`` (default: now), the way a worker would."""
    return jobs.claim(engine, worker_id="test-worker", limit=100, lease_seconds=60,
                      kinds=["webhook.deliver"], now=at or datetime.now(UTC))


def queued(engine: sa.Engine) -> list[dict[str, Any]]:
    """The queued webhook attempts: payload and when each is due."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.jobs).where(t.jobs.c.kind == "webhook.deliver",
                                                    t.jobs.c.status == "queued").order_by(t.jobs.c.id)).all()
    return [{**r.payload, "run_at": r.run_at} for r in rows]


def loads(body: bytes) -> Any:
    return json.loads(body.decode("utf-8"))

