"""Real HTTP on 127.0.0.1: the sandbox under uvicorn in a thread, and a receiver for its pushes.

Signatures here are computed from the recipes with hashlib, independently of the sandbox's code.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lanjie.sandbox import SandboxConfig, create_standalone_app

KEY, CUSTOMER, SECRET = "SANDBOXKEY", "SANDBOXCUSTOMER", "SANDBOXSECRET"
START_AT = datetime(2025, 3, 1, 2, 0, 0, tzinfo=UTC)  # 2025-03-01 10:00:00 in Beijing
T = "1740794400000"
GOOD_ACK = json.dumps({"result": True, "returnCode": "200", "message": "成功"}).encode()
BASE_CONFIG: dict[str, Any] = {
    "time_factor": 0.0,
    "propagation_seconds": 600.0,
    "ack_latency_ms": 0,
    "tick_seconds": 0.01,
    "push_retry_seconds": 35 * 60,
    "push_timeout_seconds": 2.0,
    "start_at": START_AT,
    "seed": 7,
}


def md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


class ServerThread:
    """An ASGI app served by uvicorn on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self, app: Any, lifespan: str = "on") -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(app, lifespan=lifespan, ws="none", http="h11", loop="asyncio",
                                log_config=None, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.005)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.signal_stop()
        self.join()

    def signal_stop(self) -> None:
        """Ask the server to shut down (its lifespan stops the world) without waiting for it."""
        self._server.should_exit = True

    def join(self) -> None:
        self._thread.join(10)
        self._sock.close()


@dataclass
class Received:
    path: str
    form: dict[str, str]
    raw: bytes
    content_type: str

    @property
    def param(self) -> dict[str, Any]:
        return json.loads(self.form["param"])


@dataclass
class Receiver:
    """Records every POST and answers with scripted responses, then with the right acknowledgement."""

    url: str = ""
    calls: list[Received] = field(default_factory=list)
    _script: dict[str, deque[tuple[int, bytes, float]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, path: str, *answers: tuple[int, bytes, float]) -> None:
        """Answer the next POSTs to ``path`` with (status, body, delay seconds), in order."""
        with self._lock:
            self._script.setdefault(path, deque()).extend(answers)

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [call for call in self.calls if call.path == path]

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        call = Received(request.url.path, dict(parse_qsl(raw.decode(), keep_blank_values=True)), raw,
                        request.headers.get("content-type", ""))
        with self._lock:
            self.calls.append(call)
            queue = self._script.get(call.path)
            status, body, delay = queue.popleft() if queue else (200, GOOD_ACK, 0.0)
        if delay:
            await asyncio.sleep(delay)
        return Response(body, status_code=status, media_type="application/json")


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    recv = Receiver()
    app = Starlette(routes=[Route("/{path:path}", recv.handle, methods=["POST"])])
    with ServerThread(app, lifespan="off") as url:
        recv.url = url
        yield recv


@dataclass
class Sandbox:
    """Drives one sandbox over HTTP: the control API and signed Kuaidi100 requests.

    Its pushes and callbacks go to receiver paths under a token of its own, so a push still in
    flight from another test's sandbox can never be counted here.
    """

    http: httpx.Client
    receiver: Receiver
    token: str

    def url(self, name: str) -> str:
        return f"{self.receiver.url}/{self.token}/{name}"

    def received(self, name: str) -> list[Received]:
        """What the receiver got at ``name`` (e.g. "track", "intercept-result") from this sandbox."""
        return self.receiver.at(f"/{self.token}/{name}")

    def script(self, name: str, *answers: tuple[int, bytes, float]) -> None:
        self.receiver.script(f"/{self.token}/{name}", *answers)

    def create(self, waybill_no: str, stage: str, carrier: str = "zto", **extra: Any) -> dict[str, Any]:
        response = self.http.post("/control/parcels",
                                  json={"carrier": carrier, "waybill_no": waybill_no, "stage": stage, **extra})
        assert response.status_code == 201, response.text
        return response.json()

    def parcel(self, waybill_no: str) -> dict[str, Any]:
        response = self.http.get(f"/control/parcels/{waybill_no}")
        assert response.status_code == 200, response.text
        return response.json()

    def advance(self, seconds: float) -> dict[str, Any]:
        response = self.http.post("/control/clock/advance", json={"seconds": seconds})
        assert response.status_code == 200, response.text
        return response.json()

    def settle(self) -> None:
        assert self.http.post("/control/settle").status_code == 200

    def faults(self, plan: dict[str, Any]) -> None:
        response = self.http.put("/control/faults", json=plan)
        assert response.status_code == 200, response.text

    def intercept_param(self, waybill_no: str, **overrides: Any) -> str:
        param: dict[str, Any] = {
            "kuaidicom": "zhongtong", "kuaidinum": waybill_no, "interceptType": "RETURN_SEND_ADDR",
            "reason": "买家申请仅退款", "orderId": f"O-{waybill_no}", "salt": "salt-1",
            "callbackUrl": self.url("intercept-result"),
        }
        param.update(overrides)
        return json.dumps({k: v for k, v in param.items() if v is not None}, ensure_ascii=False)

    def intercept(self, waybill_no: str = "", *, param: str | None = None, key: str = KEY,
                  secret: str = SECRET, sign: str | None = None, **overrides: Any) -> dict[str, Any]:
        param = param if param is not None else self.intercept_param(waybill_no, **overrides)
        form = {"method": "interceptOrder", "key": key, "t": T, "param": param,
                "sign": sign if sign is not None else md5_upper(param + T + key + secret)}
        response = self.http.post("/kuaidi100/label/order", data=form)
        assert response.status_code == 200, response.text
        return response.json()

    def subscribe(self, number: str, *, company: str = "zhongtong", key: str = KEY, salt: str = "push-salt",
                  callback: str | None = None, **parameters: Any) -> dict[str, Any]:
        params = {"callbackurl": callback if callback is not None else self.url("track"),
                  "salt": salt, "resultv2": "4", **parameters}
        param = {"company": company, "number": number, "key": key,
                 "parameters": {k: v for k, v in params.items() if v is not None}}
        response = self.http.post("/kuaidi100/poll",
                                  data={"schema": "json", "param": json.dumps(param, ensure_ascii=False)})
        assert response.status_code == 200, response.text
        return response.json()

    def query(self, number: str, *, com: str = "zhongtong", customer: str = CUSTOMER, key: str = KEY,
              sign: str | None = None, **extra: str) -> dict[str, Any]:
        param = json.dumps({"com": com, "num": number, "phone": "", "resultv2": "4", "show": "0",
                            "order": "desc", **extra})
        form = {"customer": customer, "param": param,
                "sign": sign if sign is not None else md5_upper(param + key + customer)}
        response = self.http.post("/kuaidi100/poll/query.do", data=form)
        assert response.status_code == 200, response.text
        return response.json()

    def requests(self, waybill_no: str | None = None) -> list[dict[str, Any]]:
        params = {"waybill_no": waybill_no} if waybill_no else {}
        return self.http.get("/control/requests", params=params).json()["requests"]


@pytest.fixture(scope="session")
def _stopping() -> Iterator[list[ServerThread]]:
    """Sandbox servers asked to stop; joined once at the end so no test waits for a shutdown."""
    servers: list[ServerThread] = []
    yield servers
    for server in servers:
        server.join()


@pytest.fixture
def make_sandbox(receiver: Receiver, _stopping: list[ServerThread]) -> Iterator[Callable[..., Sandbox]]:
    """Start a fresh sandbox (manual clock unless overridden) on its own server."""
    with ExitStack() as stack:

        def make(**overrides: Any) -> Sandbox:
            server = ServerThread(create_standalone_app(SandboxConfig(**{**BASE_CONFIG, **overrides})))
            url = server.__enter__()
            _stopping.append(server)
            stack.callback(server.signal_stop)
            client = stack.enter_context(httpx.Client(base_url=f"{url}/sandbox", trust_env=False, timeout=10))
            return Sandbox(client, receiver, f"sandbox{len(_stopping)}")

        yield make


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox()
