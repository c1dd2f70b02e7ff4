"""How every carrier twin serves a request: read it, apply the faults, log it, answer it.

A twin's operation is a plain function from a ``WireRequest`` (the raw body, the form and query
fields, the headers with lower-cased names, the path parameters) to a ``WireAnswer`` (status, body,
media type and what the request log should say). ``serve`` wraps it with the world's faults for the
channel: added latency, an injected 500/502 without doing anything, a rate limit answered in the
carrier's own words, and an answer held back after the work was done (a client timeout whose effect
happened, the case lanjie must recover from by querying before it resubmits).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from lanjie.sandbox.model import Channel

if TYPE_CHECKING:
    from lanjie.sandbox.world import SandboxWorld

_FAULT_BODIES = {500: "Internal Server Error", 502: "Bad Gateway"}


@dataclass(frozen=True)
class WireRequest:
    """A request as a twin sees it: nothing parsed beyond the form, so signatures check the raw bytes."""

    body: bytes
    fields: Mapping[str, str]  # form fields (first value of each), then query parameters
    headers: Mapping[str, str]  # names lower-cased
    path: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"

    def json(self) -> Any:
        """The body decoded as JSON (ValueError when it is not)."""
        return json.loads(self.body)


@dataclass(frozen=True)
class WireAnswer:
    """What a twin answers, and what the request log records about it."""

    body: Any  # a JSON value, or str / bytes sent as they are
    code: str  # the protocol's result code, for the request log
    message: str
    task_id: str = ""
    status: int = 200
    media_type: str = "application/json"
    waybill_no: str = ""  # for the log when the twin knows it better than ``describe``
    headers: Mapping[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        if isinstance(self.body, bytes | str):
            return Response(self.body, status_code=self.status, media_type=self.media_type,
                            headers=dict(self.headers))
        return JSONResponse(self.body, status_code=self.status, media_type=self.media_type,
                            headers=dict(self.headers))


@dataclass(frozen=True)
class Described:
    """How the request log names a request: the protocol method, the waybill, the account."""

    method: str
    waybill_no: str = ""
    account: str = ""


async def read(request: Request) -> WireRequest:
    body = await request.body()
    fields: dict[str, str] = {}
    content_type = request.headers.get("content-type", "")
    if request.method == "POST" and content_type.startswith(("application/x-www-form-urlencoded",
                                                             "multipart/form-data")):
        async with request.form() as form:
            for name, value in form.multi_items():
                if isinstance(value, str):
                    fields.setdefault(name, value)
    for name, value in request.query_params.multi_items():
        fields.setdefault(name, value)
    headers = {name.lower(): value for name, value in request.headers.items()}
    return WireRequest(body, fields, headers, dict(request.path_params), request.method)


Operation = Callable[[WireRequest], WireAnswer]
Describe = Callable[[WireRequest], Described]


async def serve(world: SandboxWorld, channel: Channel, request: Request, operate: Operation, describe: Describe,
                *, rate_limited: Callable[[WireRequest], WireAnswer] | None = None,
                ack_latency: bool | None = None) -> Response:
    """Answer ``request`` with ``operate``, under the world's faults for ``channel``.

    ``rate_limited`` is the carrier's own "too many requests" answer, used when the channel's
    ``rate_limit_per_second`` fault is exceeded; ``ack_latency`` (default: on for intercepts) adds
    the world's configured acknowledgement latency.
    """
    wire = await read(request)
    received_at = world.clock.now()
    described = describe(wire)
    faults = world.faults.for_channel(channel)
    held = faults.latency_ms / 1000
    if held:
        await asyncio.sleep(held)
    if world.faults.roll(faults.error_rate):
        status = world.faults.choice((500, 502))
        world.log_request(channel=channel, path=request.url.path, method=described.method,
                          waybill_no=described.waybill_no, http_status=status, code=str(status),
                          message="injected fault", account=described.account, at=received_at, held_seconds=held)
        return PlainTextResponse(_FAULT_BODIES[status], status_code=status)
    if rate_limited is not None and world.faults.over_rate_limit(channel, faults.rate_limit_per_second):
        answer = rate_limited(wire)
    else:
        answer = operate(wire)
    hold = faults.timeout_seconds if world.faults.roll(faults.timeout_rate) else 0.0
    if ack_latency if ack_latency is not None else channel is Channel.intercept:
        hold += world.config.ack_latency_ms / 1000
    # Logged before the answer is held back: the effect has happened, as on a slow real server.
    world.log_request(channel=channel, path=request.url.path, method=described.method,
                      waybill_no=answer.waybill_no or described.waybill_no, http_status=answer.status,
                      code=answer.code, message=answer.message, account=described.account, at=received_at,
                      task_id=answer.task_id, held_seconds=held + hold)
    if hold:
        await asyncio.sleep(hold)
    return answer.response()
