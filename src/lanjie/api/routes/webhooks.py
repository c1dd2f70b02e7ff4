"""Routes: the shop's outgoing webhook endpoints, their delivery log and redelivery."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request

from lanjie.api.auth import current_shop
from lanjie.api.idempotency import IdempotencyKey, idempotent
from lanjie.api.problems import Problem
from lanjie.api.responses import PROBLEMS
from lanjie.api.schemas import ObjectId
from lanjie.api.webhook_schemas import (
    WebhookDeliveryDetailOut,
    WebhookDeliveryListOut,
    WebhookDeliveryOut,
    WebhookEndpointIn,
    WebhookEndpointListOut,
    WebhookEndpointOut,
    WebhookEndpointPatch,
    WebhookEndpointWithSecretOut,
)
from lanjie.service.ids import utcnow
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.webhooks import events, manage, store
from lanjie.webhooks.store import Delivery, DeliveryStatus, Endpoint
from lanjie.webhooks.targets import TargetRefused

router = APIRouter(tags=["webhooks"])
Shop = Annotated[str, Depends(current_shop)]
DeliveryId = Annotated[int, Path(ge=1, le=2**62, description="a delivery's number")]


# --------------------------------------------------------------------------- views
def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _endpoint(e: Endpoint, secret: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": e.id, "url": e.url, "description": e.description, "event_types": e.event_types,
        "enabled": e.enabled, "disabled_at": _ts(e.disabled_at), "disabled_reason": e.disabled_reason,
        "previous_secret_expires_at": _ts(e.previous_secret_expires_at), "created_at": _ts(e.created_at),
        "updated_at": _ts(e.updated_at)}
    if secret is not None:
        view["secret"] = secret
    return view


def _delivery(d: Delivery) -> dict[str, Any]:
    return {"id": d.id, "endpoint_id": d.endpoint_id, "event_id": d.event_id, "event_type": d.event_type,
            "message_id": d.message_id, "status": d.status, "attempts": d.attempts,
            "next_attempt_at": _ts(d.next_attempt_at), "last_status_code": d.last_status_code,
            "last_error": d.last_error, "created_at": _ts(d.created_at), "updated_at": _ts(d.updated_at)}


def _attempt(a: dict[str, Any]) -> dict[str, Any]:
    return {"n": a["n"], "at": _ts(a["at"]), "status_code": a["status_code"], "duration_ms": a["duration_ms"],
            "response_body": a["response_body"], "error": a["error"], "trigger": a["trigger"]}


# --------------------------------------------------------------------------- checks before any write
def _check_event_types(names: list[str] | None) -> list[str] | None:
    if names is None:
        return None
    bad = events.invalid_event_types(names)
    if bad:
        known = ", ".join(str(t) for t in events.EventType)
        raise Problem(422, "Unknown event type", f"unknown event types {bad}; known: {known}, a family such as "
                      "intercept.*, or return.*/claim.* names", type_="/problems/unknown-event-type",
                      field="event_types")
    return list(dict.fromkeys(names))  # once each, in the order given


async def _check_url(request: Request, url: str | None) -> str | None:
    if url is None:
        return None
    try:
        # Blocking: the guard may resolve the host.
        return await anyio.to_thread.run_sync(request.app.state.container.webhooks.vet, url)
    except TargetRefused as exc:
        raise Problem(422, "Webhook URL refused", str(exc), type_="/problems/webhook-url-refused",
                      field="url") from None


# --------------------------------------------------------------------------- endpoints
@router.post("/v1/webhook-endpoints", status_code=201, response_model=WebhookEndpointWithSecretOut,
             responses=PROBLEMS, summary="Register a webhook endpoint; the answer shows its signing secret once")
async def create_endpoint(body: WebhookEndpointIn, request: Request, shop_id: Shop,
                          _: IdempotencyKey = None) -> Any:
    event_types = _check_event_types(body.event_types) or []
    url = await _check_url(request, body.url)
    assert url is not None

    def work(uow: UnitOfWork) -> Any:
        endpoint, secret = manage.create_endpoint(uow.conn, shop_id=shop_id, url=url, description=body.description,
                                                  event_types=event_types, now=uow.now)
        return _endpoint(endpoint, secret)
    return await idempotent(request, shop_id, 201, work)


@router.get("/v1/webhook-endpoints", response_model=WebhookEndpointListOut, responses=PROBLEMS,
            summary="The shop's webhook endpoints (no secrets)")
async def list_endpoints(request: Request, shop_id: Shop) -> Any:
    def read() -> Any:
        with request.app.state.container.for_shop(shop_id, read_only=True).connect() as conn:
            return {"items": [_endpoint(e) for e in store.list_endpoints(conn, shop_id=shop_id)]}
    return await anyio.to_thread.run_sync(read)


@router.get("/v1/webhook-endpoints/{endpoint_id}", response_model=WebhookEndpointOut, responses=PROBLEMS,
            summary="One webhook endpoint (no secret)")
async def get_endpoint(endpoint_id: ObjectId, request: Request, shop_id: Shop) -> Any:
    def read() -> Any:
        with request.app.state.container.for_shop(shop_id, read_only=True).connect() as conn:
            return _endpoint(manage.require_endpoint(conn, shop_id=shop_id, endpoint_id=endpoint_id))
    return await anyio.to_thread.run_sync(read)


@router.patch("/v1/webhook-endpoints/{endpoint_id}", response_model=WebhookEndpointOut, responses=PROBLEMS,
              summary="Change an endpoint's URL, description or event types, or disable / enable it")
async def update_endpoint(endpoint_id: ObjectId, body: WebhookEndpointPatch, request: Request, shop_id: Shop) -> Any:
    event_types = _check_event_types(body.event_types)
    url = await _check_url(request, body.url)

    def write() -> Any:
        with request.app.state.container.for_shop(shop_id).begin() as conn:
            return _endpoint(manage.change_endpoint(
                conn, shop_id=shop_id, endpoint_id=endpoint_id, now=utcnow(), url=url,
                description=body.description, event_types=event_types, enabled=body.enabled))
    return await anyio.to_thread.run_sync(write)


@router.delete("/v1/webhook-endpoints/{endpoint_id}", response_model=WebhookEndpointOut, responses=PROBLEMS,
               summary="Disable an endpoint: nothing more is sent, pending deliveries are cancelled, the log is kept")
async def delete_endpoint(endpoint_id: ObjectId, request: Request, shop_id: Shop) -> Any:
    def write() -> Any:
        with request.app.state.container.for_shop(shop_id).begin() as conn:
            return _endpoint(manage.disable_endpoint(conn, shop_id=shop_id, endpoint_id=endpoint_id,
                                                     reason="deleted by the shop", now=utcnow()))
    return await anyio.to_thread.run_sync(write)


@router.post("/v1/webhook-endpoints/{endpoint_id}/rotate-secret", response_model=WebhookEndpointWithSecretOut,
             responses=PROBLEMS, summary="A new signing secret, shown once; the old one keeps signing for 24 hours")
async def rotate_secret(endpoint_id: ObjectId, request: Request, shop_id: Shop, _: IdempotencyKey = None) -> Any:
    def work(uow: UnitOfWork) -> Any:
        endpoint, secret = manage.rotate_secret(uow.conn, shop_id=shop_id, endpoint_id=endpoint_id, now=uow.now)
        return _endpoint(endpoint, secret)
    return await idempotent(request, shop_id, 200, work)


# --------------------------------------------------------------------------- deliveries
@router.get("/v1/webhook-endpoints/{endpoint_id}/deliveries", response_model=WebhookDeliveryListOut,
            responses=PROBLEMS, summary="The endpoint's delivery log, newest first")
async def list_deliveries(endpoint_id: ObjectId, request: Request, shop_id: Shop,
                          status: DeliveryStatus | None = None,
                          limit: Annotated[int, Query(ge=1, le=200)] = 50,
                          before: Annotated[int | None, Query(ge=1, le=2**62,
                                                              description="only deliveries older than this id")] = None,
                          ) -> Any:
    def read() -> Any:
        with request.app.state.container.for_shop(shop_id, read_only=True).connect() as conn:
            manage.require_endpoint(conn, shop_id=shop_id, endpoint_id=endpoint_id)
            items = store.list_deliveries(conn, shop_id=shop_id, endpoint_id=endpoint_id, status=status,
                                          limit=limit, before=before)
        return {"items": [_delivery(d) for d in items],
                "next_before": items[-1].id if len(items) == limit else None}
    return await anyio.to_thread.run_sync(read)


@router.get("/v1/webhook-deliveries/{delivery_id}", response_model=WebhookDeliveryDetailOut, responses=PROBLEMS,
            summary="One delivery: the exact body sent and every attempt")
async def get_delivery(delivery_id: DeliveryId, request: Request, shop_id: Shop) -> Any:
    def read() -> Any:
        with request.app.state.container.for_shop(shop_id, read_only=True).connect() as conn:
            d = manage.require_delivery(conn, shop_id=shop_id, delivery_id=delivery_id)
            log = store.attempts_of(conn, shop_id=shop_id, delivery_id=delivery_id)
        return {**_delivery(d), "body": d.body.decode("utf-8"), "attempt_log": [_attempt(a) for a in log]}
    return await anyio.to_thread.run_sync(read)


@router.post("/v1/webhook-deliveries/{delivery_id}/redeliver", status_code=202, response_model=WebhookDeliveryOut,
             responses=PROBLEMS, summary="Send a delivery again now, with the same webhook-id")
async def redeliver(delivery_id: DeliveryId, request: Request, shop_id: Shop, _: IdempotencyKey = None) -> Any:
    container = request.app.state.container

    def work(uow: UnitOfWork) -> Any:
        return _delivery(manage.redeliver(uow.conn, shop_id=shop_id, delivery_id=delivery_id, now=uow.now))
    answer = await idempotent(request, shop_id, 202, work)
    container.wake()  # the worker claims the attempt now rather than at its next poll
    return answer
