"""Settings → API keys and users: a key is shown once and works, revoking (after a confirm step) stops it;
a user added can sign in; roles change; the last enabled owner stays; another shop's objects are 404."""

from __future__ import annotations

import re

import pytest

from lanjie.api import auth
from lanjie.service import console_users, shops
from tests.console.conftest import PASSWORD, ConsoleWorld


def key_rows(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<tr id="key-([^"]+)">\s*<th scope="row"><code>[^<]+</code></th>\s*<td>([^<]+)</td>', page)


def user_id(console: ConsoleWorld, login: str, shop: int = 0) -> str:
    return next(u.id for u in console_users.list_users(console.engine, console.shops[shop].id) if u.login == login)


def test_issuing_a_key_shows_it_once_it_works_and_revoking_stops_it(console: ConsoleWorld,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "CACHE_SECONDS", 0.0)  # a verified key is otherwise remembered for 5 seconds
    owner = console.sign_in("owner")
    (initial,) = shops.list_keys(console.engine, console.shops[0].id)
    assert key_rows(owner.get("/console/settings/api-keys").text) == [(initial.id, "initial")]
    r = owner.form("/console/settings/api-keys", {"label": "ERP sync"})
    found = re.search(r'<code id="new-api-key">(lj_(k_[0-9a-f]{20})_[^<]+)</code>', r.text)
    assert r.status_code == 201 and found is not None and "只显示这一次" in r.text
    key, key_id = found.groups()
    machine = console.anonymous()
    shop = machine.get("/v1/shop", headers={"Authorization": f"Bearer {key}"})
    assert (shop.status_code, shop.json()["id"]) == (200, console.shops[0].id)
    page = owner.get("/console/settings/api-keys").text
    assert key_rows(page) == [(initial.id, "initial"), (key_id, "ERP sync")] and key not in page
    confirm = owner.get(f"/console/settings/api-keys/{key_id}/revoke")
    assert confirm.status_code == 200 and 'id="confirm-revoke"' in confirm.text and key_id in confirm.text
    assert machine.get("/v1/shop", headers={"Authorization": f"Bearer {key}"}).status_code == 200  # not yet
    r = owner.form(f"/console/settings/api-keys/{key_id}/revoke", {})
    assert (r.status_code, r.headers["location"]) == (303, "/console/settings/api-keys?notice=key_revoked")
    assert machine.get("/v1/shop", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    page = owner.get(r.headers["location"]).text
    assert "API 密钥已吊销。" in page and f"/console/settings/api-keys/{key_id}/revoke" not in page
    assert [k.revoked_at is not None for k in shops.list_keys(console.engine, console.shops[0].id)] == [False, True]


def test_another_shops_key_cannot_be_revoked_and_no_form_without_csrf_changes_keys(console: ConsoleWorld) -> None:
    (theirs,) = shops.list_keys(console.engine, console.shops[1].id)
    owner = console.sign_in("owner", shop=0)
    assert owner.get(f"/console/settings/api-keys/{theirs.id}/revoke").status_code == 404
    assert owner.form(f"/console/settings/api-keys/{theirs.id}/revoke", {}).status_code == 404
    (mine,) = shops.list_keys(console.engine, console.shops[0].id)
    assert owner.form(f"/console/settings/api-keys/{mine.id}/revoke", {}, csrf="").status_code == 403
    assert owner.form("/console/settings/api-keys", {"label": "x"}, csrf="forged").status_code == 403
    assert [k.revoked_at for k in shops.list_keys(console.engine, console.shops[1].id)] == [None]
    assert [(k.id, k.revoked_at) for k in shops.list_keys(console.engine, console.shops[0].id)] == [(mine.id, None)]
    assert console.machine(1).get("/v1/shop").status_code == 200


def test_the_user_list_shows_exactly_the_shops_users(console: ConsoleWorld) -> None:
    page = console.sign_in("owner").get("/console/settings/users").text
    rows = re.findall(r'<th scope="row">([^<]+)</th>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>\s*<td><span class="badge '
                      r'\w+">([^<]+)</span>', page)
    assert rows == [("owner1@shop.test", "Owner 1", "店主", "启用"), ("agent1@shop.test", "Agent 1", "客服", "启用"),
                    ("warehouse1@shop.test", "Warehouse 1", "仓库", "启用")]


def test_a_user_added_can_sign_in_with_the_role_given(console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    r = owner.form("/console/settings/users", {"login": "Packer@Shop.test", "name": "Packer", "role": "warehouse",
                                               "password": "packer password 1"})
    assert (r.status_code, r.headers["location"]) == (303, "/console/settings/users?notice=user_added")
    assert "packer@shop.test" in owner.get(r.headers["location"]).text
    signed = console.anonymous().post("/console/sign-in", data={"login": "packer@shop.test",
                                                                "password": "packer password 1"})
    assert (signed.status_code, signed.headers["location"]) == (303, "/console/receiving")
    added = [u for u in console_users.list_users(console.engine, console.shops[0].id) if u.login.startswith("packer")]
    assert [(u.name, u.role) for u in added] == [("Packer", "warehouse")]


@pytest.mark.parametrize(("data", "says"), [
    ({"login": "short@shop.test", "name": "", "role": "agent", "password": "short"}, "password: at least 10"),
    ({"login": "agent1@shop.test", "name": "", "role": "agent", "password": PASSWORD}, "is taken"),
    ({"login": "x@shop.test", "name": "", "role": "boss", "password": PASSWORD}, "role: one of"),
])
def test_a_user_that_cannot_be_added_is_said_in_an_alert_and_not_added(console: ConsoleWorld, data: dict[str, str],
                                                                       says: str) -> None:
    r = console.sign_in("owner").form("/console/settings/users", data)
    assert r.status_code == 422 and 'role="alert">未保存：' in r.text and says in r.text
    assert len(console_users.list_users(console.engine, console.shops[0].id)) == 3


def test_role_disable_enable_and_password_reset_change_the_user(console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    agent = user_id(console, "agent1@shop.test")
    base = f"/console/settings/users/{agent}"
    page = owner.get(base).text
    assert '<option value="agent" selected>客服</option>' in page
    r = owner.form(base + "/role", {"role": "warehouse"})
    assert (r.status_code, r.headers["location"]) == (303, base + "?notice=user_role")
    assert "角色已修改。" in owner.get(r.headers["location"]).text
    assert owner.form(base + "/disable", {}).status_code == 303
    login = {"login": "agent1@shop.test", "password": PASSWORD}
    assert console.anonymous().post("/console/sign-in", data=login).status_code == 401
    assert owner.form(base + "/enable", {}).status_code == 303
    assert owner.form(base + "/password", {"password": "a brand new secret"}).status_code == 303
    assert console.anonymous().post("/console/sign-in", data=login).status_code == 401
    r = console.anonymous().post("/console/sign-in", data={**login, "password": "a brand new secret"})
    assert (r.status_code, r.headers["location"]) == (303, "/console/receiving")  # the warehouse's home now


def test_the_last_enabled_owner_cannot_be_demoted_or_disabled(console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    me = user_id(console, "owner1@shop.test")
    for action, data in (("role", {"role": "agent"}), ("disable", {})):
        r = owner.form(f"/console/settings/users/{me}/{action}", data)
        assert r.status_code == 422
        alert = '<p id="settings-error" class="error" role="alert">店铺至少需要一位启用中的店主，此修改未保存。</p>'
        assert alert in r.text
    (still,) = [u for u in console_users.list_users(console.engine, console.shops[0].id) if u.id == me]
    assert (still.role, still.disabled) == ("owner", False)


def test_another_shops_user_is_404_and_user_forms_need_the_csrf_token(console: ConsoleWorld) -> None:
    theirs = user_id(console, "agent2@shop.test", shop=1)
    owner = console.sign_in("owner", shop=0)
    assert owner.get(f"/console/settings/users/{theirs}").status_code == 404
    for action, data in (("role", {"role": "owner"}), ("disable", {}), ("password", {"password": "x" * 12})):
        assert owner.form(f"/console/settings/users/{theirs}/{action}", data).status_code == 404
    mine = user_id(console, "agent1@shop.test")
    assert owner.form(f"/console/settings/users/{mine}/role", {"role": "owner"}, csrf="").status_code == 403
    assert owner.form("/console/settings/users", {"login": "new@shop.test", "role": "agent",
                                                  "password": PASSWORD}, csrf="forged").status_code == 403
    users = {u.login: (u.role, u.disabled) for u in console_users.list_users(console.engine, console.shops[1].id)}
    assert users["agent2@shop.test"] == ("agent", False)
    assert [u.login for u in console_users.list_users(console.engine, console.shops[0].id)] == [
        "owner1@shop.test", "agent1@shop.test", "warehouse1@shop.test"]
    assert console.anonymous().post("/console/sign-in", data={"login": "agent2@shop.test",
                                                              "password": PASSWORD}).status_code == 303


def test_keys_and_users_pages_render_in_english(console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    owner.client.cookies.set("lanjie_lang", "en")
    (key,) = shops.list_keys(console.engine, console.shops[0].id)
    assert "Revoke an API key" in owner.get(f"/console/settings/api-keys/{key.id}/revoke").text
    page = owner.get(f"/console/settings/users/{user_id(console, 'agent1@shop.test')}").text
    assert "Reset the password" in page and '<option value="agent" selected>Agent</option>' in page
    r = owner.form(f"/console/settings/users/{user_id(console, 'owner1@shop.test')}/disable", {})
    assert "The shop needs at least one enabled owner; nothing was changed." in r.text
