"""The Kuaidi100 twin's HTTP routes, at Kuaidi100's own paths under ``/kuaidi100``.

``label/order`` (interceptOrder, https://api.kuaidi100.com), ``poll`` and ``poll/query.do``
(https://poll.kuaidi100.com). Every request is logged with its answer; faults (latency, 5xx, held
answers, rate limits) are applied here, around the twin's operations in ``kuaidi100_twin``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from lanjie.sandbox.kuaidi100_twin import WireAnswer
from lanjie.sandbox.model import Channel

if TYPE_CHECKING:
    from lanjie.sandbox.world import SandboxWorld

Operation = Callable[[dict[str, str]], WireAnswer]

_FAULT_BODIES = {500: "Internal Server Error", 502: "Bad Gateway"}


async def _fields(request: Request) -> dict[str, str]:
    """Form fields (and, as Kuaidi100 also takes GET, query parameters), first value of each."""
    fields: dict[str, str] = {}
    if request.method == "POST":
        async with request.form() as form:
            for name, value in form.multi_items():
                if isinstance(value, str):
                    fields.setdefault(name, value)
    for name, value in request.query_params.multi_items():
        fields.setdefault(name, value)
    return fields


def _describe(channel: Channel, fields: dict[str, str]) -> tuple[str, str, str]:
    """(method, waybill, account) of a request for the log, read leniently."""
    try:
        param = json.loads(fields.get("param", ""))
    except ValueError:
        param = {}
    if not isinstance(param, dict):
        param = {}

    def text(value: object) -> str:
        return value if isinstance(value, str) else ""

    if channel is Channel.intercept:
        return fields.get("method", ""), text(param.get("kuaidinum")), fields.get("key", "")
    if channel is Channel.subscribe:
        return "poll", text(param.get("number")), text(param.get("key"))
    return "query", text(param.get("num")), fields.get("customer", "")


async def _serve(world: SandboxWorld, channel: Channel, request: Request, operate: Operation) -> Response:
    fields = await _fields(request)
    received_at = world.clock.now()
    method, waybill_no, account = _describe(channel, fields)
    faults = world.faults.for_channel(channel)
    held = faults.latency_ms / 1000
    if held:
        await asyncio.sleep(held)
    if world.faults.roll(faults.error_rate):
        status = world.faults.choice((500, 502))
        world.log_request(channel=channel, path=request.url.path, method=method, waybill_no=waybill_no,
                          http_status=status, code=str(status), message="injected fault", account=account,
                          at=received_at, held_seconds=held)
        return PlainTextResponse(_FAULT_BODIES[status], status_code=status)
    if channel is Channel.intercept and world.faults.over_rate_limit(channel, faults.rate_limit_per_second):
        answer = world.kuaidi100.rate_limited()
    else:
        answer = operate(fields)
    hold = faults.timeout_seconds if world.faults.roll(faults.timeout_rate) else 0.0
    if channel is Channel.intercept:
        hold += world.config.ack_latency_ms / 1000
    # Logged before the answer is held back: the effect has happened, as on a slow real server.
    world.log_request(channel=channel, path=request.url.path, method=method, waybill_no=waybill_no,
                      http_status=200, code=answer.code, message=answer.message, account=account,
                      at=received_at, task_id=answer.task_id, held_seconds=held + hold)
    if hold:
        await asyncio.sleep(hold)
    return JSONResponse(answer.body)


def kuaidi100_router(world: SandboxWorld) -> APIRouter:
    """Routes of the Kuaidi100 twin, to be included under ``/kuaidi100``."""
    router = APIRouter()
    twin = world.kuaidi100

    @router.api_route("/label/order", methods=["GET", "POST"], summary="interceptOrder (订单拦截)")
    async def label_order(request: Request) -> Response:
        return await _serve(world, Channel.intercept, request, twin.intercept)

    @router.post("/poll", summary="Subscribe tracking pushes (订阅)")
    async def poll(request: Request) -> Response:
        return await _serve(world, Channel.subscribe, request, twin.subscribe)

    @router.api_route("/poll/query.do", methods=["GET", "POST"], summary="Real-time tracking query (实时查询)")
    async def query(request: Request) -> Response:
        return await _serve(world, Channel.query, request, twin.query)

    return router
