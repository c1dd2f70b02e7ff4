"""Carrier side: pushes from carriers (inbox), and the shop's carrier accounts."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Path, Request, Response

from lanjie.api import inbox
from lanjie.api.auth import current_shop
from lanjie.api.idempotency import IdempotencyKey, idempotent
from lanjie.api.problems import Problem
from lanjie.api.responses import PROBLEMS, CarrierAccountListOut, CarrierAccountOut, ShopOut
from lanjie.api.schemas import CarrierAccountIn, SettlementPolicyIn
from lanjie.carriers.base import Capability
from lanjie.carriers.errors import MalformedPush, NotSupported, SignatureInvalid
from lanjie.carriers.registry import credential_problem
from lanjie.service import commands, shops
from lanjie.service.ids import utcnow
from lanjie.service.unit_of_work import UnitOfWork

router = APIRouter(tags=["carriers"])
Shop = Annotated[str, Depends(current_shop)]
MAX_PUSH_BYTES = 256 * 1024


async def _capped_body(request: Request) -> bytes:
    """The push's raw bytes, refused (413) as soon as it passes MAX_PUSH_BYTES, before it is all read."""
    too_large = Problem(413, "Push too large", f"pushes are limited to {MAX_PUSH_BYTES} bytes",
                        type_="/problems/push-too-large")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_PUSH_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_PUSH_BYTES:
            raise too_large
    return bytes(body)


def _no_pushes(carrier: str) -> Problem:
    return Problem(404, "No pushes", f"carrier {carrier} sends no pushes: lanjie polls it instead",
                   type_="/problems/carrier-sends-no-pushes")


@router.post("/v1/carriers/{carrier}/callbacks/{token}",
             summary="Carrier pushes (tracking, intercept results): verified, stored, acknowledged after commit",
             responses={code: {**PROBLEMS[400], "description": text} for code, text in (
                 (400, "the push could not be parsed"), (401, "the push's signature did not verify"),
                 (404, "no such callback URL, or a carrier that sends no pushes"),
                 (413, f"the push is larger than {MAX_PUSH_BYTES} bytes"))})
async def callback(carrier: Annotated[str, Path(pattern=r"^[a-z0-9_]{2,40}$")],
                   token: Annotated[str, Path(pattern=r"^[0-9a-f]{16,64}$")], request: Request) -> Response:
    container = request.app.state.container
    plugin = container.gateway.registry.get(carrier)
    # A plugin that declares no capabilities may still push; its parse_push says so (NotSupported below).
    if Capability.parse_push not in getattr(plugin, "capabilities", Capability):
        raise _no_pushes(carrier)
    body = await _capped_body(request)
    content_type = request.headers.get("content-type", "")
    headers = inbox.kept_headers(request)

    def receive() -> Response:
        with UnitOfWork(container.engine, utcnow(), on_commit=container.wake) as uow:
            account = shops.account_by_token(uow.conn, carrier, token)
            if account is None or carrier not in container.gateway.registry:
                raise Problem(404, "Not found", "no such callback endpoint")
            adapter = container.gateway.adapter(account)
            try:
                push = adapter.parse_push(body, content_type, headers)
            except SignatureInvalid as exc:
                raise Problem(401, "Signature invalid", str(exc) or "push signature did not verify",
                              type_="/problems/signature-invalid") from None
            except MalformedPush as exc:
                raise Problem(400, "Malformed push", str(exc), type_="/problems/malformed-push") from None
            except NotSupported:
                raise _no_pushes(carrier) from None
            inserted = inbox.store(uow, shop_id=account.shop_id, source=carrier,
                                   message_key=push.message_key or hashlib.sha256(body).hexdigest(),
                                   content_type=content_type, body=body, headers=headers)
            if inserted is not None:  # a duplicate is acknowledged without being processed again
                uow.enqueue(commands.PROCESS_INBOX, {"shop_id": account.shop_id, "inbox_id": inserted},
                            key=f"inbox:{inserted}", shop_id=account.shop_id)
            uow.commit()
            return Response(push.ack_body, media_type=push.ack_media_type)

    return await anyio.to_thread.run_sync(receive)


def _account_view(container: Any, record: shops.AccountRecord) -> dict[str, Any]:
    # Credentials are write-only: never returned after creation.
    return {"id": record.id, "carrier": record.carrier, "credential_fields": sorted(record.credentials),
            "callback_url": container.gateway.callback_url(record)}


@router.post("/v1/carrier-accounts", status_code=201, tags=["shop"], response_model=CarrierAccountOut,
             responses=PROBLEMS,
             summary="Set the shop's credentials for a carrier (write-only)")
async def set_account(body: CarrierAccountIn, request: Request, shop_id: Shop,
                      _: IdempotencyKey = None) -> Any:
    container = request.app.state.container
    if body.carrier not in container.gateway.registry:
        raise Problem(422, "Unknown carrier", f"unknown carrier {body.carrier!r}; known: "
                      f"{', '.join(sorted(container.gateway.registry))}", field="carrier")
    problem = credential_problem(container.gateway.registry[body.carrier], body.credentials)
    if problem is not None:
        raise Problem(422, "Invalid credentials", problem, field=problem.split(" ", 1)[0])

    def work(uow: UnitOfWork) -> Any:
        return _account_view(container, shops.upsert_carrier_account(uow.conn, shop_id, body.carrier,
                                                                     dict(body.credentials)))
    return await idempotent(request, shop_id, 201, work)


@router.get("/v1/carrier-accounts", tags=["shop"], summary="The shop's carrier accounts (no credentials)",
            response_model=CarrierAccountListOut, responses=PROBLEMS)
async def list_accounts(request: Request, shop_id: Shop) -> Any:
    container = request.app.state.container

    def read() -> Any:
        with container.for_shop(shop_id, read_only=True).connect() as conn:
            return {"items": [_account_view(container, a) for a in shops.accounts_of(conn, shop_id)]}
    return await anyio.to_thread.run_sync(read)


@router.get("/v1/shop", tags=["shop"], summary="The calling shop", response_model=ShopOut, responses=PROBLEMS)
async def get_shop(request: Request, shop_id: Shop) -> Any:
    def read() -> Any:
        with request.app.state.container.for_shop(shop_id, read_only=True).connect() as conn:
            shop = shops.get_shop(conn, shop_id)
        assert shop is not None
        return {"id": shop.id, "name": shop.name, "settlement_policy": shop.settlement_policy,
                "timezone": shop.timezone}
    return await anyio.to_thread.run_sync(read)


@router.put("/v1/shop/settlement-policy", tags=["shop"], response_model=SettlementPolicyIn, responses=PROBLEMS,
            summary="When refunds of intercepted cases are approved: on_accept, on_turned_back, on_received")
async def set_policy(body: SettlementPolicyIn, request: Request, shop_id: Shop) -> Any:
    await anyio.to_thread.run_sync(shops.set_settlement_policy, request.app.state.container.for_shop(shop_id), shop_id,
                                   body.settlement_policy)
    return {"settlement_policy": body.settlement_policy}
