"""Every route of the app that names an object, walked as another shop: 404, and nothing changes.

The routes come from the app itself (FastAPI nests included routers, so they are flattened here), not
from a list in this file: a new route whose path parameter this walk cannot map to one of shop A's
objects fails it, until the parameter is mapped or the route is named in ``NOT_SHOP_OBJECTS``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from fastapi.routing import _IncludedRouter

from lanjie.store import tables as t
from tests.console.conftest import ConsoleWorld, console  # noqa: F401  (the fixture)
from tests.e2e.live import shipment_body
from tests.service.test_reconciliation import T0, intercepted, lost

PROBLEM = "application/problem+json"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

#: Routes whose parameters name no object of a shop, and why they are not walked.
NOT_SHOP_OBJECTS = {
    "/v1/carriers/{carrier}/callbacks/{token}": "a carrier's push: the secret token in the URL picks the shop",
    "/v1/channels/{channel}/callbacks/{token}": "a platform's push: the secret token in the URL picks the shop",
    "/v1/carrier-contracts/{carrier}": "{carrier} is a plugin name; the contract written is the caller's own",
}
#: Parameters that are not ids: the value that makes the route otherwise valid.
CONSTANTS = {"part": "body"}  # /console/claims/{claim_id}/{part}: a fragment of the claim page

#: A valid body per last path segment, so that B's request fails on the object, not on validation.
BODIES: dict[str, Any] = {
    "intercepts": {"type": "return_to_sender"}, "clawback": {"outcome": "recovered"},
    "refund": {"decision": "refund_now"}, "reject": {"reason": "not yours"}, "file": {"via": "packet"},
    "status": {"status": "in_review"},
    "payouts": {"amount_fen": 1, "reference": "R-1", "paid_at": "2026-12-01T00:00:00Z"},
}


def _routes(routes: Iterable[Any]) -> Iterator[Any]:
    for route in routes:
        if isinstance(route, _IncludedRouter):
            yield from _routes(route.effective_candidates())
        else:
            yield route


def _snapshot(engine: sa.Engine, *, ignore_shop: str) -> dict[str, list[str]]:
    """Every row of every table; the idempotency keys of ``ignore_shop`` (B's refused requests) left out."""
    with engine.connect() as conn:
        snapshot = {}
        for table in t.metadata.sorted_tables:
            query = sa.select(table)
            if table is t.idempotency_keys:
                query = query.where(table.c.shop_id != ignore_shop)
            snapshot[table.name] = sorted(repr(tuple(row)) for row in conn.execute(query))
    return snapshot


def _shop_a_objects(w: ConsoleWorld) -> dict[str, str]:
    """One object of shop A for every id a route takes."""
    a = w.machine(0)

    def post(path: str, body: Any, key: str, status: int = 201, **kw: Any) -> dict[str, Any]:
        r = a.post(path, json=body, headers={"Idempotency-Key": f"walk-a-{key}-000001"}, **kw)
        assert r.status_code == status, r.text
        return r.json()

    endpoint = post("/v1/webhook-endpoints", {"url": "https://hooks.example.com/a"}, "endpoint")
    shipment = post("/v1/shipments", shipment_body("ZT300000001", "A-1"), "shipment")
    case = post("/v1/aftersales", {"order_id": "A-1", "type": "refund_only_shipped", "refund_fen": 5900,
                                   "waybill_nos": ["ZT300000001"]}, "case")
    intercept = post(f"/v1/aftersales/{case['id']}/intercepts", {"type": "return_to_sender"}, "intercept", 202)
    r = a.post("/v1/files", content=PDF, headers={"Idempotency-Key": "walk-a-file-000001",
                                                  "Content-Type": "application/pdf"})
    assert r.status_code == 201, r.text
    w.container.webhooks.fan_out()  # the case's events become deliveries to A's endpoint
    parcel = intercepted(w.engine, w.container.settings, w.shops[0].id, "ZT300000099")
    claim_id = lost(w.engine, w.container.settings, w.shops[0].id, parcel, T0)
    with w.engine.connect() as conn:
        def of_a(column: sa.Column[Any]) -> str:
            return str(conn.execute(sa.select(column).where(column.table.c.shop_id == w.shops[0].id)
                                    .limit(1)).scalar_one())
        ids = {"case_id": case["id"], "shipment_id": shipment["id"],
               "intercept_id": intercept["intercepts"][0]["id"], "return_id": of_a(t.return_legs.c.id),
               "claim_id": claim_id, "file_id": r.json()["id"], "endpoint_id": endpoint["id"],
               "delivery_id": of_a(t.webhook_deliveries.c.id), "key_id": of_a(t.api_keys.c.id),
               "user_id": of_a(t.console_users.c.id)}
    return ids


def test_every_route_naming_an_object_answers_404_to_another_shop_and_changes_nothing(
        console: ConsoleWorld) -> None:  # noqa: F811
    w = console
    ids = _shop_a_objects(w)
    b_key, b_person = w.machine(1), w.sign_in("owner", shop=1)
    walked, unmapped, calls = set(), [], []
    for route in _routes(w.server.server.config.app.routes):
        params = re.findall(r"\{(\w+)", getattr(route, "path", ""))
        if not params or not getattr(route, "methods", None):
            continue
        walked.add(route.path)
        if route.path in NOT_SHOP_OBJECTS:
            continue
        if set(params) - set(ids) - set(CONSTANTS):
            unmapped.append(route.path)
            continue
        url = route.path
        for p in params:
            url = url.replace("{" + p + "}", {**ids, **CONSTANTS}[p])
        calls.extend((method, route.path, url) for method in sorted(route.methods - {"HEAD"}))
    # A new route must be mapped here (or named as not a shop's object): it cannot slip past the walk.
    assert unmapped == [], f"path parameters this walk cannot map to shop A's objects: {unmapped}"
    assert set(NOT_SHOP_OBJECTS) <= walked  # the exceptions are real routes, not stale names
    assert len(calls) >= 49  # 31 /v1 and 18 /console operations when this was written

    bodies = {**BODIES, "evidence": {"file_ids": [ids["file_id"]]}, "documents": {"file_ids": [ids["file_id"]]}}
    before = _snapshot(w.engine, ignore_shop=w.shops[1].id)
    answers = []
    for n, (method, path, url) in enumerate(calls):
        if path.startswith("/v1/"):
            body = {"enabled": False} if method == "PATCH" else bodies.get(url.rsplit("/", 1)[1], {})
            r = b_key.request(method, url, headers={"Idempotency-Key": f"walk-b-{n:04d}-000001"},
                              json=body if method in ("POST", "PATCH", "PUT") else None)
            answers.append((method, path, r.status_code, r.headers.get("content-type")))
        elif method == "GET":
            answers.append((method, path, b_person.get(url).status_code, "console"))
        else:  # a console form, with B's own CSRF token and fields the forms take
            r = b_person.form(url, {"role": "agent", "password": "another horse battery staple"})
            answers.append((method, path, r.status_code, "console"))
    wrong = [a for a in answers if a[2] != 404 or a[3] not in (PROBLEM, "console")]
    assert wrong == [], wrong
    assert _snapshot(w.engine, ignore_shop=w.shops[1].id) == before

    # B, which owns nothing, lists nothing of A's.
    assert [(path, b_key.get(path).json()["items"]) for path in (
        "/v1/aftersales", "/v1/returns", "/v1/claims", "/v1/webhook-endpoints")] == [
        ("/v1/aftersales", []), ("/v1/returns", []), ("/v1/claims", []), ("/v1/webhook-endpoints", [])]

    # The ids are real: shop A reads every one of them.
    a_person = w.sign_in("owner", shop=0)
    for method, path, url in calls:
        if method == "GET":
            r = a_person.get(url) if path.startswith("/console/") else w.machine(0).get(url)
            assert r.status_code == 200, (path, r.status_code, r.text[:200])


def test_another_shops_intercept_on_ones_own_case_is_not_found(console: ConsoleWorld) -> None:  # noqa: F811
    w = console
    ids = _shop_a_objects(w)
    b = w.machine(1)
    b.post("/v1/shipments", json=shipment_body("ZT300000002", "B-2"), headers={"Idempotency-Key": "walk-b-ship-0001"})
    own = b.post("/v1/aftersales", json={"order_id": "B-2", "type": "refund_only_shipped", "refund_fen": 5900,
                                         "waybill_nos": ["ZT300000002"]},
                 headers={"Idempotency-Key": "walk-b-case-0001"})
    assert own.status_code == 201, own.text
    before = _snapshot(w.engine, ignore_shop=w.shops[1].id)
    r = b.post(f"/v1/aftersales/{own.json()['id']}/intercepts/{ids['intercept_id']}/cancel", json={},
               headers={"Idempotency-Key": "walk-b-cancel-0001"})
    assert (r.status_code, r.headers["content-type"]) == (404, PROBLEM)
    assert r.json() == {"type": "/problems/not-found", "title": "Not found", "status": 404,
                        "detail": f"intercept {ids['intercept_id']!r} not found"}
    assert _snapshot(w.engine, ignore_shop=w.shops[1].id) == before
