"""The Kuaidi100 twin's HTTP routes, at Kuaidi100's own paths under ``/kuaidi100``.

``label/order`` (interceptOrder) and ``workorder/api/create`` / ``workorder/api/detail`` (work orders,
工单) of https://api.kuaidi100.com; ``poll`` and ``poll/query.do`` (https://poll.kuaidi100.com). Every
request is logged with its answer; faults (latency, 5xx, held answers, rate limits) are applied here,
around the twin's operations in ``kuaidi100_twin`` and ``kuaidi100_workorder``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, Request, Response

from lanjie.sandbox.model import Channel
from lanjie.sandbox.serving import Describe, Described, WireRequest, serve

if TYPE_CHECKING:
    from lanjie.sandbox.world import SandboxWorld


def _describe(channel: Channel) -> Describe:
    """How the request log names a request of ``channel`` (read leniently: the twin judges it)."""

    def describe(wire: WireRequest) -> Described:
        fields = wire.fields
        try:
            param = json.loads(fields.get("param", ""))
        except ValueError:
            param = {}
        if not isinstance(param, dict):
            param = {}

        def text(value: object) -> str:
            return value if isinstance(value, str) else ""

        if wire.path.get("workorder"):
            return Described(f"workorder.{wire.path['workorder']}", text(param.get("kuaidinum")),
                             fields.get("key", ""))
        if channel is Channel.intercept:
            return Described(fields.get("method", ""), text(param.get("kuaidinum")), fields.get("key", ""))
        if channel is Channel.subscribe:
            return Described("poll", text(param.get("number")), text(param.get("key")))
        return Described("query", text(param.get("num")), fields.get("customer", ""))

    return describe


def kuaidi100_router(world: SandboxWorld) -> APIRouter:
    """Routes of the Kuaidi100 twin, to be included under ``/kuaidi100``."""
    router = APIRouter()
    twin = world.kuaidi100

    @router.api_route("/label/order", methods=["GET", "POST"], summary="interceptOrder (订单拦截)")
    async def label_order(request: Request) -> Response:
        return await serve(world, Channel.intercept, request, lambda w: twin.intercept(w.fields),
                           _describe(Channel.intercept), rate_limited=lambda _w: twin.rate_limited())

    @router.post("/poll", summary="Subscribe tracking pushes (订阅)")
    async def poll(request: Request) -> Response:
        return await serve(world, Channel.subscribe, request, lambda w: twin.subscribe(w.fields),
                           _describe(Channel.subscribe))

    @router.api_route("/poll/query.do", methods=["GET", "POST"], summary="Real-time tracking query (实时查询)")
    async def query(request: Request) -> Response:
        return await serve(world, Channel.query, request, lambda w: twin.query(w.fields),
                           _describe(Channel.query))

    @router.post("/workorder/api/{workorder}", summary="Work orders (工单): create, detail")
    async def workorder(request: Request, workorder: str) -> Response:
        desk = twin.workorders
        if workorder == "create":
            return await serve(world, Channel.intercept, request, lambda w: desk.create(w.fields),
                               _describe(Channel.intercept), rate_limited=lambda _w: desk.rate_limited())
        if workorder == "detail":
            return await serve(world, Channel.query, request, lambda w: desk.detail(w.fields),
                               _describe(Channel.query))
        raise HTTPException(404, f"no work-order API {workorder!r}")

    return router
