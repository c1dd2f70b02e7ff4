"""The UPS twin's HTTP routes, at UPS's own paths under ``/ups``.

``/security/v1/oauth/token``, ``/api/deliveryintercept/v2/...``, ``/api/track/v1/details/{tn}`` and
``/api/claims/v2/claims``, each served through ``serving.serve`` so the world's faults apply: intercept
requests (return, redirect, will call, cancel) and filing a claim on Channel.intercept; the token,
eligibility, charges, tracking and a claim's status on Channel.query.
UPS has no subscription, so Channel.subscribe is not used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response

from lanjie.sandbox.model import Channel
from lanjie.sandbox.serving import Describe, Described, WireAnswer, WireRequest, serve
from lanjie.sandbox.ups import wire

if TYPE_CHECKING:
    from lanjie.sandbox.ups.twin import Call, UPSTwin

INTERCEPT = "/api/deliveryintercept/v2"
CLAIMS = "/api/claims/v2/claims"


def ups_router(twin: UPSTwin) -> APIRouter:
    """Routes of the UPS twin, to be included under ``/ups``."""
    router = APIRouter()
    world = twin.world

    def describe(method: str) -> Describe:
        def described(request: WireRequest) -> Described:
            return Described(method, request.path.get("tracking_number", ""), twin.account_of(request))

        return described

    async def answer(request: Request, channel: Channel, name: str, operation: Callable[[Call], WireAnswer],
                     track: bool = False) -> Response:
        return await serve(world, channel, request,
                           lambda wired: twin.serve_call(wired, operation, track=track, name=name),
                           describe(name), rate_limited=twin.rate_limited)

    @router.post("/security/v1/oauth/token", summary="OAuth client credentials token")
    async def token(request: Request) -> Response:
        return await serve(world, Channel.query, request, twin.token, describe("token"),
                           rate_limited=twin.rate_limited)

    @router.get(INTERCEPT + "/eligibility/intercept/{tracking_number}", summary="Eligibility of each intercept")
    async def eligibility(request: Request) -> Response:
        return await answer(request, Channel.query, "eligibility", twin.eligibility)

    @router.post(INTERCEPT + "/charges/{tracking_number}", summary="Intercept charges")
    async def charges(request: Request) -> Response:
        return await answer(request, Channel.query, "charges", twin.charges)

    @router.post(INTERCEPT + "/return/{tracking_number}", summary="Return to sender (RS)")
    async def return_to_sender(request: Request) -> Response:
        return await answer(request, Channel.intercept, "return", lambda call: twin.intercept(call, {"RS"}))

    @router.post(INTERCEPT + "/redirect/address/{tracking_number}", summary="Deliver to another address (AA)")
    async def redirect(request: Request) -> Response:
        return await answer(request, Channel.intercept, "redirect", lambda call: twin.intercept(call, {"AA"}))

    @router.post(INTERCEPT + "/willcall/{tracking_number}", summary="Hold at a UPS facility (WC, SC)")
    async def will_call(request: Request) -> Response:
        return await answer(request, Channel.intercept, "willcall",
                            lambda call: twin.intercept(call, wire.FREE_OPTIONS))

    @router.post(INTERCEPT + "/cancel/{tracking_number}", summary="Cancel a pending intercept")
    async def cancel(request: Request) -> Response:
        return await answer(request, Channel.intercept, "cancel", twin.cancel)

    @router.get("/api/track/v1/details/{tracking_number}", summary="Track API: a package's activities")
    async def track(request: Request) -> Response:
        return await answer(request, Channel.query, "track", twin.track, track=True)

    def described_claim(request: WireRequest) -> Described:
        return Described("claims", request.path.get("claim_id", ""), twin.account_of(request))

    @router.post(CLAIMS, summary="File a claim (EasyPost-style)")
    async def file_claim(request: Request) -> Response:
        return await serve(world, Channel.intercept, request, twin.claim_desk.create, described_claim,
                           rate_limited=twin.rate_limited, ack_latency=False)

    @router.get(CLAIMS + "/{claim_id}", summary="A claim and where its review stands")
    async def claim(request: Request) -> Response:
        return await serve(world, Channel.query, request, twin.claim_desk.get, described_claim,
                           rate_limited=twin.rate_limited)

    return router
