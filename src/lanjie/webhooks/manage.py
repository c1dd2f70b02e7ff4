"""What a shop does with its webhooks: endpoints, secret rotation and redelivery (the API calls these).

Each function works in the caller's transaction and raises ``NotFound`` for another shop's object.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from lanjie.domain.errors import NotFound, RuleViolation
from lanjie.service.ids import new_id
from lanjie.store import jobs
from lanjie.webhooks import store
from lanjie.webhooks.signing import new_secret
from lanjie.webhooks.store import Delivery, DeliveryStatus, Endpoint

__all__ = [
    "CONCURRENCY_KEY",
    "DELIVER",
    "ROTATION_OVERLAP",
    "change_endpoint",
    "create_endpoint",
    "disable_endpoint",
    "enqueue_attempt",
    "redeliver",
    "require_delivery",
    "require_endpoint",
    "rotate_secret",
]

#: The job kind of one attempt at a delivery.
DELIVER = "webhook.deliver"
CONCURRENCY_KEY = "webhooks"
#: How long a replaced secret keeps signing, so receivers can switch without losing a delivery.
ROTATION_OVERLAP = timedelta(hours=24)


def require_endpoint(conn: sa.Connection, *, shop_id: str, endpoint_id: str, for_update: bool = False) -> Endpoint:
    """The shop's endpoint, or NotFound."""
    endpoint = store.get_endpoint(conn, shop_id=shop_id, endpoint_id=endpoint_id, for_update=for_update)
    if endpoint is None:
        raise NotFound("webhook endpoint", endpoint_id)
    return endpoint


def require_delivery(conn: sa.Connection, *, shop_id: str, delivery_id: int, for_update: bool = False) -> Delivery:
    """The shop's delivery, or NotFound."""
    delivery = store.get_delivery(conn, shop_id=shop_id, delivery_id=delivery_id, for_update=for_update)
    if delivery is None:
        raise NotFound("webhook delivery", str(delivery_id))
    return delivery


def create_endpoint(conn: sa.Connection, *, shop_id: str, url: str, description: str, event_types: Sequence[str],
                    now: datetime) -> tuple[Endpoint, str]:
    """Register an endpoint (URL already vetted); returns it and its secret, which is shown this once."""
    secret = new_secret()
    endpoint = store.add_endpoint(conn, endpoint_id=new_id("whe"), shop_id=shop_id, url=url,
                                  description=description, event_types=event_types, secret=secret, now=now)
    return endpoint, secret


def change_endpoint(conn: sa.Connection, *, shop_id: str, endpoint_id: str, now: datetime, url: str | None = None,
                    description: str | None = None, event_types: Sequence[str] | None = None,
                    enabled: bool | None = None) -> Endpoint:
    """Change what is given (URL already vetted); enabling again starts from the shop's newest event."""
    endpoint = require_endpoint(conn, shop_id=shop_id, endpoint_id=endpoint_id, for_update=True)
    values: dict[str, Any] = {}
    if url is not None:
        values["url"] = url
    if description is not None:
        values["description"] = description
    if event_types is not None:
        values["event_types"] = list(event_types)
    if enabled is True and not endpoint.enabled:
        # Events of the disabled period are not sent in a burst; the event stream has them.
        values.update(enabled=True, disabled_at=None, disabled_reason="",
                      cursor=store.last_event_id(conn, shop_id=shop_id))
    if values:
        store.update_endpoint(conn, shop_id=shop_id, endpoint_id=endpoint_id, now=now, **values)
    if enabled is False and endpoint.enabled:
        disable_endpoint(conn, shop_id=shop_id, endpoint_id=endpoint_id, reason="disabled by the shop", now=now)
    return require_endpoint(conn, shop_id=shop_id, endpoint_id=endpoint_id)


def disable_endpoint(conn: sa.Connection, *, shop_id: str, endpoint_id: str, reason: str, now: datetime) -> Endpoint:
    """Stop sending to the endpoint and cancel its pending deliveries; the delivery log is kept."""
    endpoint = require_endpoint(conn, shop_id=shop_id, endpoint_id=endpoint_id, for_update=True)
    if endpoint.enabled:
        store.update_endpoint(conn, shop_id=shop_id, endpoint_id=endpoint_id, now=now, enabled=False,
                              disabled_at=now, disabled_reason=reason[:200])
        store.cancel_pending(conn, shop_id=shop_id, endpoint_id=endpoint_id, now=now,
                             reason=f"endpoint disabled: {reason}")
    return require_endpoint(conn, shop_id=shop_id, endpoint_id=endpoint_id)


def rotate_secret(conn: sa.Connection, *, shop_id: str, endpoint_id: str, now: datetime) -> tuple[Endpoint, str]:
    """A new secret; the current one keeps signing alongside it for 24 hours (an older one stops at once)."""
    require_endpoint(conn, shop_id=shop_id, endpoint_id=endpoint_id, for_update=True)
    secret = new_secret()
    store.update_endpoint(conn, shop_id=shop_id, endpoint_id=endpoint_id, now=now, secret=secret,
                          previous_secret=store.E.c.secret, previous_secret_expires_at=now + ROTATION_OVERLAP)
    return require_endpoint(conn, shop_id=shop_id, endpoint_id=endpoint_id), secret


def redeliver(conn: sa.Connection, *, shop_id: str, delivery_id: int, now: datetime) -> Delivery:
    """Send the delivery again now, with the same webhook-id; a failed or cancelled one is pending again."""
    delivery = require_delivery(conn, shop_id=shop_id, delivery_id=delivery_id, for_update=True)
    endpoint = require_endpoint(conn, shop_id=shop_id, endpoint_id=delivery.endpoint_id)
    if not endpoint.enabled:
        raise RuleViolation("endpoint_disabled", f"webhook endpoint {endpoint.id!r} is disabled "
                            f"({endpoint.disabled_reason}); enable it before redelivering")
    if delivery.status in (DeliveryStatus.failed, DeliveryStatus.cancelled):
        store.update_delivery(conn, shop_id=shop_id, delivery_id=delivery_id, now=now,
                              status=DeliveryStatus.pending)
    enqueue_attempt(conn, delivery=delivery, trigger="manual", n=None, run_at=now)
    return require_delivery(conn, shop_id=shop_id, delivery_id=delivery_id)


def enqueue_attempt(conn: sa.Connection, *, delivery: Delivery, trigger: str, n: int | None,
                    run_at: datetime) -> None:
    """Queue one attempt: the ``n``-th automatic one of the schedule, or a manual one (``n`` None)."""
    key = f"webhook:{delivery.id}:{n}" if n is not None else f"webhook:{delivery.id}:manual:{new_id('r')}"
    payload = {"shop_id": delivery.shop_id, "delivery_id": delivery.id, "trigger": trigger, "n": n}
    jobs.enqueue(conn, kind=DELIVER, payload=payload, key=key, shop_id=delivery.shop_id,
                 concurrency_key=CONCURRENCY_KEY, run_at=run_at)
