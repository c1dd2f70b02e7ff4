"""The webhook routes: endpoints, the secret shown once, rotation, the delivery log, redelivery, tenancy."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from lanjie.api.webhook_schemas import (
    WebhookDeliveryDetailOut,
    WebhookDeliveryListOut,
    WebhookEndpointListOut,
    WebhookEndpointOut,
    WebhookEndpointWithSecretOut,
)
from lanjie.store import tables as t
from tests.api.conftest import Api, Tenant
from tests.api.conftest import api as api  # noqa: F401 (the fixture, shared with tests/api)

URL = "https://hooks.example.com/lanjie"


def _public_dns(host: str, port: int) -> Iterable[str]:
    if host.endswith("example.com"):
        return ["93.184.215.14"]
    raise OSError("Name or service not known")


@pytest.fixture
def hooks(api: Api) -> Api:  # noqa: F811
    api.container.webhooks.resolve = _public_dns
    return api


def _create(api: Api, tenant: Tenant, idem: str = "create-endpoint-0001", **body: object) -> dict[str, object]:
    r = api.client.post("/v1/webhook-endpoints", json={"url": URL, **body}, headers=tenant.headers(idem))
    assert r.status_code == 201, r.text
    return WebhookEndpointWithSecretOut.model_validate(r.json()).model_dump(mode="json")


def _delivery_id(api: Api, tenant: Tenant) -> int:
    """Open a case (one case.created event) and fan it out; the new delivery's id."""
    api.seed_case(tenant)
    api.container.webhooks.fan_out()
    with api.container.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.max(t.webhook_deliveries.c.id))).scalar_one())


def test_the_secret_is_shown_once_at_creation_and_never_again(hooks: Api) -> None:
    created = _create(hooks, hooks.a, description="ERP", event_types=["case.settled", "intercept.*", "case.settled"])
    secret = created["secret"]
    assert isinstance(secret, str) and secret.startswith("whsec_")
    assert {k: created[k] for k in ("url", "description", "event_types", "enabled", "disabled_reason")} == \
        {"url": URL, "description": "ERP", "event_types": ["case.settled", "intercept.*"], "enabled": True,
         "disabled_reason": ""}
    one = hooks.client.get(f"/v1/webhook-endpoints/{created['id']}", headers=hooks.a.headers())
    listed = hooks.client.get("/v1/webhook-endpoints", headers=hooks.a.headers())
    assert one.status_code == listed.status_code == 200
    assert WebhookEndpointOut.model_validate(one.json()).id == created["id"]
    assert [e.id for e in WebhookEndpointListOut.model_validate(listed.json()).items] == [created["id"]]
    assert secret not in one.text + listed.text and '"secret"' not in one.text + listed.text


def test_creating_twice_with_one_key_replays_the_same_answer_and_makes_one_endpoint(hooks: Api) -> None:
    first = hooks.client.post("/v1/webhook-endpoints", json={"url": URL}, headers=hooks.a.headers("same-key-00000001"))
    again = hooks.client.post("/v1/webhook-endpoints", json={"url": URL}, headers=hooks.a.headers("same-key-00000001"))
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert hooks.counts()["webhook_endpoints"] == 1


@pytest.mark.parametrize(("url", "detail"), [
    ("http://hooks.example.com/x", "webhooks are sent over https only"),
    ("https://127.0.0.1/x", "resolves to a private, loopback or reserved address (127.0.0.1)"),
    ("https://nowhere.invalid/x", "does not resolve"),
    ("ftp://hooks.example.com/x", "the URL must start with https://"),
])
def test_a_refused_url_answers_422_naming_url_and_writes_nothing(hooks: Api, url: str, detail: str) -> None:
    before = hooks.counts()
    r = hooks.client.post("/v1/webhook-endpoints", json={"url": url}, headers=hooks.a.headers("bad-url-key-0000001"))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == "url" and detail in r.json()["detail"]
    assert hooks.counts() == before


def test_unknown_event_types_answer_422_naming_event_types(hooks: Api) -> None:
    before = hooks.counts()
    r = hooks.client.post("/v1/webhook-endpoints", json={"url": URL, "event_types": ["case.created", "refund.done"]},
                          headers=hooks.a.headers("bad-types-key-00001"))
    assert r.status_code == 422 and r.json()["field"] == "event_types" and "['refund.done']" in r.json()["detail"]
    r = hooks.client.patch("/v1/webhook-endpoints/whe_x", json={"event_types": ["case"]}, headers=hooks.a.headers())
    assert r.status_code == 422 and r.json()["field"] == "event_types"
    assert hooks.counts() == before


def test_patch_changes_what_is_given_and_disables_and_enables(hooks: Api) -> None:
    endpoint = _create(hooks, hooks.a)
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    r = hooks.client.patch(path, json={"url": "https://other.example.com/h", "event_types": ["claim.*"]},
                           headers=hooks.a.headers())
    assert r.status_code == 200
    assert (r.json()["url"], r.json()["event_types"], r.json()["description"]) == \
        ("https://other.example.com/h", ["claim.*"], "")
    off = hooks.client.patch(path, json={"enabled": False}, headers=hooks.a.headers()).json()
    assert (off["enabled"], off["disabled_reason"]) == (False, "disabled by the shop") and off["disabled_at"]
    hooks.seed_case(hooks.a)  # an event while disabled: not sent later
    on = hooks.client.patch(path, json={"enabled": True}, headers=hooks.a.headers()).json()
    assert (on["enabled"], on["disabled_reason"], on["disabled_at"]) == (True, "", None)
    hooks.container.webhooks.fan_out()
    assert hooks.counts()["webhook_deliveries"] == 0
    r = hooks.client.patch(path, json={"url": "http://10.0.0.1/h"}, headers=hooks.a.headers())
    assert r.status_code == 422 and r.json()["field"] == "url"


def test_delete_disables_the_endpoint_cancels_pending_deliveries_and_keeps_the_log(hooks: Api) -> None:
    endpoint = _create(hooks, hooks.a)
    delivery_id = _delivery_id(hooks, hooks.a)
    r = hooks.client.delete(f"/v1/webhook-endpoints/{endpoint['id']}", headers=hooks.a.headers())
    assert r.status_code == 200
    assert (r.json()["enabled"], r.json()["disabled_reason"]) == (False, "deleted by the shop")
    d = hooks.client.get(f"/v1/webhook-deliveries/{delivery_id}", headers=hooks.a.headers()).json()
    assert (d["status"], d["last_error"]) == ("cancelled", "endpoint disabled: deleted by the shop")
    r = hooks.client.post(f"/v1/webhook-deliveries/{delivery_id}/redeliver",
                          headers=hooks.a.headers("redeliver-gone-01"))
    assert r.status_code == 409 and r.json()["rule"] == "endpoint_disabled"


def test_rotating_the_secret_shows_a_new_one_and_keeps_the_old_signing_for_24_hours(hooks: Api) -> None:
    endpoint = _create(hooks, hooks.a)
    r = hooks.client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret",
                          headers=hooks.a.headers("rotate-key-0000001"))
    assert r.status_code == 200
    rotated = WebhookEndpointWithSecretOut.model_validate(r.json())
    assert rotated.secret.startswith("whsec_") and rotated.secret != endpoint["secret"]
    assert rotated.previous_secret_expires_at is not None
    assert rotated.previous_secret_expires_at - datetime.fromisoformat(str(rotated.updated_at)) == timedelta(hours=24)
    with hooks.container.engine.connect() as conn:
        row = conn.execute(sa.select(t.webhook_endpoints)).one()
    assert (row.secret, row.previous_secret) == (rotated.secret, endpoint["secret"])


def test_the_delivery_log_pages_filters_and_shows_the_body_and_attempts(hooks: Api) -> None:
    endpoint = _create(hooks, hooks.a)
    first = _delivery_id(hooks, hooks.a)
    hooks.seed_case(hooks.a, "ZT300000002", "A-2")
    hooks.container.webhooks.fan_out()
    path = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries"
    page = WebhookDeliveryListOut.model_validate(hooks.client.get(path, params={"limit": 1},
                                                                  headers=hooks.a.headers()).json())
    assert [d.id for d in page.items] == [first + 1] and page.next_before == first + 1
    page = WebhookDeliveryListOut.model_validate(hooks.client.get(
        path, params={"limit": 1, "before": page.next_before}, headers=hooks.a.headers()).json())
    assert [(d.id, d.event_type, d.status) for d in page.items] == [(first, "case.created", "pending")]
    assert hooks.client.get(path, params={"status": "failed"}, headers=hooks.a.headers()).json()["items"] == []
    detail = WebhookDeliveryDetailOut.model_validate(hooks.client.get(f"/v1/webhook-deliveries/{first}",
                                                                      headers=hooks.a.headers()).json())
    assert detail.body.startswith('{"type":"case.created","timestamp":"') and detail.attempt_log == []


def test_redelivery_queues_a_manual_attempt_with_the_same_delivery(hooks: Api) -> None:
    _create(hooks, hooks.a)
    delivery_id = _delivery_id(hooks, hooks.a)
    r = hooks.client.post(f"/v1/webhook-deliveries/{delivery_id}/redeliver",
                          headers=hooks.a.headers("redeliver-0000001"))
    assert r.status_code == 202 and r.json()["id"] == delivery_id and r.json()["status"] == "pending"
    with hooks.container.engine.connect() as conn:
        payloads = conn.execute(sa.select(t.jobs.c.payload).where(t.jobs.c.kind == "webhook.deliver")
                                .order_by(t.jobs.c.id)).scalars().all()
    assert [(p["delivery_id"], p["trigger"]) for p in payloads] == [(delivery_id, "automatic"), (delivery_id, "manual")]


def test_another_shops_endpoints_and_deliveries_answer_404_and_nothing_changes(hooks: Api) -> None:
    endpoint = _create(hooks, hooks.a)
    delivery_id = _delivery_id(hooks, hooks.a)
    e, d = endpoint["id"], delivery_id
    before = hooks.counts()
    probes = [("GET", f"/v1/webhook-endpoints/{e}", None),
              ("PATCH", f"/v1/webhook-endpoints/{e}", {"enabled": False}),
              ("DELETE", f"/v1/webhook-endpoints/{e}", None),
              ("POST", f"/v1/webhook-endpoints/{e}/rotate-secret", None),
              ("GET", f"/v1/webhook-endpoints/{e}/deliveries", None),
              ("GET", f"/v1/webhook-deliveries/{d}", None),
              ("POST", f"/v1/webhook-deliveries/{d}/redeliver", None)]
    for n, (method, url, body) in enumerate(probes):
        r = hooks.client.request(method, url, json=body, headers=hooks.b.headers(f"tenancy-webhook-{n:04d}"))
        assert r.status_code == 404, (method, url, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    after = hooks.counts()
    assert {k: v for k, v in after.items() if k != "idempotency_keys"} == \
        {k: v for k, v in before.items() if k != "idempotency_keys"}
    assert hooks.client.get("/v1/webhook-endpoints", headers=hooks.b.headers()).json() == {"items": []}
    assert hooks.client.get(f"/v1/webhook-endpoints/{e}", headers=hooks.a.headers()).json()["enabled"] is True
