"""Another shop's object answers 404 on every route, and nothing changes."""

from __future__ import annotations

import re

from lanjie.api.responses import CarrierAccountListOut, ShopOut
from tests.api.conftest import Api


def _routes_with_ids(api: Api) -> list[tuple[str, str]]:
    """Every documented operation whose path carries an object id."""
    return [(method.upper(), path) for path, ops in api.app.openapi()["paths"].items()
            if re.search(r"\{(case_id|shipment_id)\}", path) for method in ops]


def test_every_route_with_an_id_answers_404_to_another_shop(api: Api) -> None:
    case = api.seed_case(api.a)
    shipment_id = api.client.get(f"/v1/aftersales/{case['id']}", headers=api.a.headers()).json()["parcels"][0]["id"]
    routes = _routes_with_ids(api)
    # Every id-bearing route is covered; a new route without this check would show up here.
    assert routes == [
        ("GET", "/v1/shipments/{shipment_id}"),
        ("GET", "/v1/aftersales/{case_id}"),
        ("POST", "/v1/aftersales/{case_id}/intercept-preview"),
        ("POST", "/v1/aftersales/{case_id}/intercepts"),
        ("POST", "/v1/aftersales/{case_id}/intercepts/{intercept_id}/cancel"),
        ("POST", "/v1/aftersales/{case_id}/received"),
        ("POST", "/v1/aftersales/{case_id}/cancel"),
        ("GET", "/v1/aftersales/{case_id}/evidence"),
        ("POST", "/v1/aftersales/{case_id}/clawback"),
        ("POST", "/v1/aftersales/{case_id}/refund"),
        ("POST", "/v1/aftersales/{case_id}/reject"),
        ("POST", "/v1/aftersales/{case_id}/sync"),
    ]
    before = api.counts()
    for n, (method, path) in enumerate(routes):
        url = path.replace("{case_id}", case["id"]).replace("{shipment_id}", shipment_id).replace(
            "{intercept_id}", "icp_of_shop_a")
        body = {"/intercepts": {"type": "return_to_sender"}, "/clawback": {"outcome": "recovered"},
                "/refund": {"decision": "refund_now"}, "/reject": {"reason": "not yours"}}.get(
            url[url.rindex("/"):], {})
        r = api.client.request(method, url, headers=api.b.headers(f"tenancy-probe-{n:04d}-xyz"),
                               json=body if method == "POST" else None)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert case["id"] not in r.text or "not found" in r.text
    after = api.counts()
    # B's refused requests leave no trace except B's own stored idempotency answers (a 404 is a
    # business answer, replayable like any other).
    assert {k: v for k, v in after.items() if k != "idempotency_keys"} == \
        {k: v for k, v in before.items() if k != "idempotency_keys"}
    # And A still sees its case exactly as before.
    assert api.client.get(f"/v1/aftersales/{case['id']}", headers=api.a.headers()).json()["status"] == "open"


def test_lists_and_accounts_show_only_the_callers_shop(api: Api) -> None:
    api.seed_case(api.a, "ZT300000011", "A-11")
    api.seed_case(api.b, "ZT300000012", "B-12")
    a_list = api.client.get("/v1/aftersales", headers=api.a.headers()).json()
    b_list = api.client.get("/v1/aftersales", headers=api.b.headers()).json()
    assert [c["order_id"] for c in a_list["items"]] == ["A-11"] and a_list["total"] == 1
    assert [c["order_id"] for c in b_list["items"]] == ["B-12"] and b_list["total"] == 1
    answer = api.client.get("/v1/carrier-accounts", headers=api.a.headers()).json()
    accounts = CarrierAccountListOut.model_validate(answer).model_dump()["items"]
    assert len(accounts) == 1 and api.a.token in accounts[0]["callback_url"]
    assert "credentials" not in accounts[0] and "TESTSECRET" not in str(accounts)


def test_requests_without_a_valid_key_are_refused(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {api.a.key}"},
                    {"Authorization": f"Bearer {api.a.key}x"}):
        r = api.client.get("/v1/aftersales", headers=headers)
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


def test_a_key_is_rotated_by_issuing_a_new_one_and_revoking_the_old(api: Api) -> None:
    from lanjie.api import auth
    from lanjie.service.shops import issue_key, revoke_key

    new_key = issue_key(api.container.engine, api.a.shop_id, "rotation")
    assert revoke_key(api.container.engine, api.a.shop_id, "_".join(api.a.key.split("_")[1:3])) is True
    auth._verified.clear()  # what CACHE_SECONDS of waiting does
    assert api.client.get("/v1/shop", headers=api.a.headers()).status_code == 401
    r = api.client.get("/v1/shop", headers={"Authorization": f"Bearer {new_key}"})
    assert r.status_code == 200 and r.json()["id"] == api.a.shop_id


def test_a_revoked_key_stops_working_within_the_cache_time(api: Api) -> None:
    from lanjie.api import auth
    from lanjie.service.shops import revoke_key

    shop = api.client.get("/v1/shop", headers=api.a.headers())
    assert shop.status_code == 200 and ShopOut.model_validate(shop.json()).id == api.a.shop_id
    key_id = "_".join(api.a.key.split("_")[1:3])
    assert revoke_key(api.container.engine, api.a.shop_id, key_id) is True
    auth._verified.clear()  # what CACHE_SECONDS of waiting does
    r = api.client.get("/v1/shop", headers=api.a.headers())
    assert r.status_code == 401 and r.json()["detail"] == "unknown or revoked API key"


def test_another_shops_returns_and_claims_answer_404_and_change_nothing(api: Api) -> None:
    from tests.service.test_reconciliation import T0, intercepted, lost

    parcel = intercepted(api.container.engine, api.container.settings, api.a.shop_id, "ZT300000099")
    claim_id = lost(api.container.engine, api.container.settings, api.a.shop_id, parcel, T0)
    leg_id = api.client.get("/v1/returns", headers=api.a.headers()).json()["items"][0]["id"]
    routes = [(method.upper(), path) for path, ops in api.app.openapi()["paths"].items()
              if re.search(r"\{(return_id|claim_id)\}", path) for method in ops]
    assert routes == [
        ("GET", "/v1/returns/{return_id}"), ("POST", "/v1/returns/{return_id}/lost"),
        ("GET", "/v1/claims/{claim_id}"), ("POST", "/v1/claims/{claim_id}/file"),
        ("POST", "/v1/claims/{claim_id}/status"), ("POST", "/v1/claims/{claim_id}/evidence"),
        ("POST", "/v1/claims/{claim_id}/documents"),
        ("POST", "/v1/claims/{claim_id}/payouts"), ("POST", "/v1/claims/{claim_id}/close"),
        ("GET", "/v1/claims/{claim_id}/packet.json"), ("GET", "/v1/claims/{claim_id}/packet.pdf"),
    ]
    bodies = {"/file": {"via": "packet"}, "/status": {"status": "in_review"}, "/documents": {"file_ids": ["ef_x"]},
              "/evidence": {"file_ids": ["ef_x"]},
              "/payouts": {"amount_fen": 1, "reference": "R", "paid_at": "2026-12-01T00:00:00Z"}, "/close": {},
              "/lost": {}}
    before = api.counts()
    for n, (method, path) in enumerate(routes):
        url = path.replace("{return_id}", leg_id).replace("{claim_id}", claim_id)
        r = api.client.request(method, url, headers=api.b.headers(f"tenancy-claims-{n:04d}-xyz"),
                               json=bodies.get(url[url.rindex("/"):], {}) if method == "POST" else None)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
    after = api.counts()
    assert {k: v for k, v in after.items() if k != "idempotency_keys"} == \
        {k: v for k, v in before.items() if k != "idempotency_keys"}
    assert api.client.get(f"/v1/claims/{claim_id}", headers=api.a.headers()).json()["status"] == "draft"
    assert api.client.get("/v1/returns", headers=api.b.headers()).json()["items"] == []
    assert api.client.get("/v1/claims", headers=api.b.headers()).json() == {"items": [], "total": 0}
