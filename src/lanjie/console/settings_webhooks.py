"""Settings: the shop's webhook endpoints, their signing secrets and their delivery log.

The same service functions as ``/v1/webhook-endpoints`` (lanjie.webhooks.manage); a new or rotated secret
is shown once, in the answer to the POST that made it, never in a URL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from lanjie.console.settings_frame import ObjectId, Owner, done, not_found, page
from lanjie.console.web import CheckedForm, container, engine_for
from lanjie.domain.errors import NotFound, RuleViolation
from lanjie.service.console_users import ConsoleSession
from lanjie.service.ids import utcnow
from lanjie.webhooks import events, manage, store
from lanjie.webhooks.targets import TargetRefused

router = APIRouter(include_in_schema=False)
PATH = "/console/settings/webhooks"
DeliveryId = Annotated[int, Path(ge=1, le=2**62)]
#: What an endpoint may subscribe to from the form (none ticked: everything).
CHOICES = [*(str(e) for e in events.EventType), "intercept.*", "return.*", "claim.*"]
#: ``DELETE /v1/webhook-endpoints/{id}`` disables with this reason; the delivery log is kept.
DELETED = "deleted by the shop"
DELIVERIES_SHOWN = 50


def _shop(session: ConsoleSession) -> str:
    return session.user.shop_id


def _list(request: Request, session: ConsoleSession, *, status_code: int = 200, error: str = "", detail: str = "",
          secret: tuple[str, str] | None = None) -> Response:
    with engine_for(request, session, read_only=True).connect() as conn:
        endpoints = store.list_endpoints(conn, shop_id=_shop(session))
    context = {"endpoints": endpoints, "choices": CHOICES, "deleted": DELETED, "secret": secret}
    return page(request, session, "settings_webhooks.html", "webhooks", context, status_code=status_code,
                error=error, detail=detail)


@router.get(PATH)
def webhooks_page(request: Request, session: Owner) -> Response:
    return _list(request, session)


@router.post(PATH)
def create_endpoint(request: Request, session: Owner, form: CheckedForm) -> Response:
    chosen = [str(v) for v in form.getlist("event_types") if str(v) in CHOICES]
    description = str(form.get("description", "")).strip()[:200]
    try:
        url = container(request).webhooks.vet(str(form.get("url", "")).strip()[:2000])
    except TargetRefused as exc:
        return _list(request, session, status_code=422, error="settings.webhooks.url_refused", detail=str(exc))
    with engine_for(request, session).begin() as conn:
        endpoint, secret = manage.create_endpoint(conn, shop_id=_shop(session), url=url, description=description,
                                                  event_types=chosen, now=utcnow())
    return _list(request, session, status_code=201, secret=(endpoint.id, secret))


def _change(request: Request, session: ConsoleSession, endpoint_id: str, action: str) -> Response:
    now = utcnow()
    try:
        with engine_for(request, session).begin() as conn:
            if action == "enable":
                manage.change_endpoint(conn, shop_id=_shop(session), endpoint_id=endpoint_id, now=now, enabled=True)
            else:
                reason = DELETED if action == "delete" else "disabled by the shop"
                manage.disable_endpoint(conn, shop_id=_shop(session), endpoint_id=endpoint_id, reason=reason,
                                        now=now)
                if action == "delete":  # one already disabled is marked deleted too
                    store.update_endpoint(conn, shop_id=_shop(session), endpoint_id=endpoint_id, now=now,
                                          disabled_reason=DELETED)
    except NotFound:
        return not_found(request, session, "webhooks")
    return done(PATH, {"enable": "webhook_enabled", "disable": "webhook_disabled", "delete": "webhook_deleted"}[action])


@router.post(PATH + "/{endpoint_id}/enable")
def enable_endpoint(endpoint_id: ObjectId, request: Request, session: Owner, form: CheckedForm) -> Response:
    return _change(request, session, endpoint_id, "enable")


@router.post(PATH + "/{endpoint_id}/disable")
def disable_endpoint(endpoint_id: ObjectId, request: Request, session: Owner, form: CheckedForm) -> Response:
    return _change(request, session, endpoint_id, "disable")


@router.post(PATH + "/{endpoint_id}/delete")
def delete_endpoint(endpoint_id: ObjectId, request: Request, session: Owner, form: CheckedForm) -> Response:
    return _change(request, session, endpoint_id, "delete")


@router.post(PATH + "/{endpoint_id}/rotate-secret")
def rotate_secret(endpoint_id: ObjectId, request: Request, session: Owner, form: CheckedForm) -> Response:
    try:
        with engine_for(request, session).begin() as conn:
            _, secret = manage.rotate_secret(conn, shop_id=_shop(session), endpoint_id=endpoint_id, now=utcnow())
    except NotFound:
        return not_found(request, session, "webhooks")
    return _list(request, session, secret=(endpoint_id, secret))


@router.get(PATH + "/{endpoint_id}")
def endpoint_page(endpoint_id: ObjectId, request: Request, session: Owner) -> Response:
    with engine_for(request, session, read_only=True).connect() as conn:
        endpoint = store.get_endpoint(conn, shop_id=_shop(session), endpoint_id=endpoint_id)
        deliveries = [] if endpoint is None else store.list_deliveries(
            conn, shop_id=_shop(session), endpoint_id=endpoint_id, status=None, limit=DELIVERIES_SHOWN, before=None)
    if endpoint is None:
        return not_found(request, session, "webhooks")
    return page(request, session, "settings_webhook.html", "webhooks",
                {"endpoint": endpoint, "deliveries": deliveries, "deleted": DELETED})


def _delivery_page(request: Request, session: ConsoleSession, delivery_id: int, *, status_code: int = 200,
                   error: str = "", detail: str = "") -> Response:
    with engine_for(request, session, read_only=True).connect() as conn:
        delivery = store.get_delivery(conn, shop_id=_shop(session), delivery_id=delivery_id)
        attempts = store.attempts_of(conn, shop_id=_shop(session), delivery_id=delivery_id) if delivery else []
    if delivery is None:
        return not_found(request, session, "webhooks")
    context: dict[str, Any] = {"delivery": delivery, "attempts": attempts,
                               "body": delivery.body.decode("utf-8", "replace")}
    return page(request, session, "settings_delivery.html", "webhooks", context, status_code=status_code,
                error=error, detail=detail)


@router.get("/console/settings/webhook-deliveries/{delivery_id}")
def delivery_page(delivery_id: DeliveryId, request: Request, session: Owner) -> Response:
    return _delivery_page(request, session, delivery_id)


@router.post("/console/settings/webhook-deliveries/{delivery_id}/redeliver")
def redeliver(delivery_id: DeliveryId, request: Request, session: Owner, form: CheckedForm) -> Response:
    try:
        with engine_for(request, session).begin() as conn:
            manage.redeliver(conn, shop_id=_shop(session), delivery_id=delivery_id, now=utcnow())
    except NotFound:
        return not_found(request, session, "webhooks")
    except RuleViolation:
        return _delivery_page(request, session, delivery_id, status_code=409, error="settings.webhooks.disabled_error")
    container(request).wake()  # the worker claims the attempt now rather than at its next poll
    return done(f"/console/settings/webhook-deliveries/{delivery_id}", "redelivered")

