"""Signing in and out, the session cookie, CSRF, roles, and the API reached with a console session."""

from __future__ import annotations

import sqlalchemy as sa

from lanjie.service import console_users
from lanjie.settings import Settings
from lanjie.store import tables as t
from tests.console.conftest import PASSWORD, ConsoleWorld


def test_signing_in_sets_an_httponly_strict_cookie_and_lands_on_the_roles_home(console: ConsoleWorld) -> None:
    client = console.anonymous()
    assert client.get("/console").headers["location"] == "/console/sign-in"
    page = client.get("/console/sign-in")
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text and "登录" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for role, home in (("owner", "/console/cases"), ("agent", "/console/cases"),
                       ("warehouse", "/console/receiving")):
        r = console.anonymous().post("/console/sign-in", data={"login": console.shops[0].logins[role],
                                                              "password": PASSWORD})
        assert (r.status_code, r.headers["location"]) == (303, home)
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("lanjie_session=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Secure" not in cookie  # this fixture turns the flag off: httpx sends no Secure cookie over http


def test_the_secure_flag_is_on_by_default(console: ConsoleWorld) -> None:
    assert Settings.model_fields["console_secure_cookies"].default is True  # the fixture turned it off
    console.container.settings.console_secure_cookies = True
    r = console.anonymous().post("/console/sign-in", data={"login": "owner1@shop.test", "password": PASSWORD})
    assert "; Secure" in r.headers["set-cookie"]


def test_a_wrong_password_an_unknown_login_and_a_disabled_user_are_refused_alike(console: ConsoleWorld) -> None:
    owner = console.shops[0].logins["owner"]
    agent_id = next(u.id for u in console_users.list_users(console.engine, console.shops[0].id) if u.role == "agent")
    console_users.update_user(console.engine, console.shops[0].id, agent_id, disabled=True)
    for login, password in ((owner, "wrong password!"), ("nobody@shop.test", PASSWORD),
                            (console.shops[0].logins["agent"], PASSWORD)):
        r = console.anonymous().post("/console/sign-in", data={"login": login, "password": password})
        assert r.status_code == 401 and "账号或密码不正确" in r.text and "set-cookie" not in r.headers
    with console.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.console_sessions)).scalar_one() == 0


def test_repeated_failures_are_throttled(console: ConsoleWorld) -> None:
    client = console.anonymous()
    codes = [client.post("/console/sign-in", data={"login": "owner1@shop.test", "password": "nope nope nope"})
             .status_code for _ in range(9)]
    assert codes == [401] * 8 + [429]
    # even the right password waits out the window
    assert client.post("/console/sign-in", data={"login": "owner1@shop.test",
                                                 "password": PASSWORD}).status_code == 429


def test_sign_out_needs_the_csrf_token_and_ends_the_session(console: ConsoleWorld) -> None:
    person = console.sign_in("agent")
    assert person.form("/console/sign-out", {}, csrf="forged").status_code == 403
    assert person.get("/v1/aftersales").status_code == 200
    r = person.form("/console/sign-out", {})
    assert (r.status_code, r.headers["location"]) == (303, "/console/sign-in")
    person.client.cookies.clear()
    with console.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.console_sessions)).scalar_one() == 0
    assert person.get("/v1/aftersales").status_code == 401


def test_the_api_takes_a_console_session_with_its_csrf_token_for_changes(console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    listed = owner.get("/v1/aftersales")
    assert (listed.status_code, listed.json()["total"]) == (200, 0)
    body = {"rules": []}
    no_token = owner.client.put("/v1/rules", json=body, headers={"Idempotency-Key": "k" * 20})
    assert no_token.status_code == 403 and "X-CSRF-Token" in no_token.json()["detail"]
    forged = owner.client.put("/v1/rules", json=body, headers={"Idempotency-Key": "k" * 20, "X-CSRF-Token": "x"})
    assert forged.status_code == 403
    assert owner.api("PUT", "/v1/rules", json=body).status_code == 200


def test_roles_limit_what_the_api_answers_to_a_console_session(console: ConsoleWorld) -> None:
    agent, warehouse = console.sign_in("agent"), console.sign_in("warehouse")
    assert agent.get("/v1/rules").status_code == 200
    refused = agent.api("PUT", "/v1/rules", json={"rules": []})
    assert (refused.status_code, refused.json()["detail"]) == (403, "only the shop's owners change its settings")
    assert agent.api("POST", "/v1/webhook-endpoints", json={"url": "https://example.com/h"}).status_code == 403
    assert warehouse.get("/v1/aftersales").status_code == 403
    assert warehouse.get("/v1/receiving/lookup", params={"waybill_no": "ZT404"}).status_code == 404
    # the other shop's session sees only its own shop
    other = console.sign_in("owner", shop=1)
    assert other.get("/v1/shop").json()["id"] == console.shops[1].id


def test_the_language_switch_keeps_the_page_and_refuses_other_sites(console: ConsoleWorld) -> None:
    client = console.anonymous()
    r = client.get("/console/lang", params={"to": "en", "next": "/console/sign-in?next=/console/claims"})
    assert (r.status_code, r.headers["location"]) == (303, "/console/sign-in?next=/console/claims")
    page = client.get("/console/sign-in")
    assert 'lang="en"' in page.text and "Sign in" in page.text and "登录" not in page.text
    for away in ("https://evil.example/", "//evil.example/console", "/v1/aftersales"):
        assert client.get("/console/lang", params={"to": "zh-CN", "next": away}).headers["location"] == "/console"
    assert 'lang="zh-CN"' in client.get("/console/sign-in").text


def test_the_shop_keeps_an_owner(console: ConsoleWorld) -> None:
    shop = console.shops[0].id
    owner = next(u for u in console_users.list_users(console.engine, shop) if u.role == "owner")
    try:
        console_users.update_user(console.engine, shop, owner.id, role="agent")
    except console_users.UserError as exc:
        assert str(exc) == "the shop needs at least one enabled owner"
    else:
        raise AssertionError("the last owner was demoted")
    assert [u.role for u in console_users.list_users(console.engine, shop)] == ["owner", "agent", "warehouse"]


def test_a_sign_in_posted_from_another_site_is_refused(console: ConsoleWorld) -> None:
    client = console.anonymous()
    data = {"login": "owner1@shop.test", "password": PASSWORD}
    r = client.post("/console/sign-in", data=data, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "set-cookie" not in r.headers
    ours = client.post("/console/sign-in", data=data, headers={"Origin": console.base})
    assert ours.status_code == 303 and ours.headers["set-cookie"].startswith("lanjie_session=")
