"""Lists, accounts and keys see only the caller's shop (every route naming an object: test_tenancy_walk)."""

from __future__ import annotations

from lanjie.api.responses import CarrierAccountListOut, ShopOut
from tests.api.conftest import Api


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
