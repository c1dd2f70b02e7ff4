"""Settings: owners only; carrier and sales-channel accounts are listed with their callback URLs, saved from
forms named after the plugin's credentials, and their credentials are never shown again."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from lanjie.store import tables as t
from tests.api.conftest import K100_KEY, K100_SECRET
from tests.console.conftest import ConsoleWorld

PAGES = ["/console/settings", "/console/settings/shop", "/console/settings/carriers", "/console/settings/channels",
         "/console/settings/webhooks", "/console/settings/api-keys", "/console/settings/users"]


def credentials(console: ConsoleWorld, table: sa.Table, shop: int) -> dict[str, dict[str, str]]:
    column = "carrier" if table is t.carrier_accounts else "channel"
    with console.engine.connect() as conn:
        rows = conn.execute(sa.select(table).where(table.c.shop_id == console.shops[shop].id)).all()
    return {row._mapping[column]: dict(row.credentials) for row in rows}


@pytest.mark.parametrize("role", ["agent", "warehouse"])
def test_settings_are_refused_to_agents_and_the_warehouse(console: ConsoleWorld, role: str) -> None:
    person = console.sign_in(role)
    for path in PAGES:
        r = person.get(path)
        assert (r.status_code, "无权访问" in r.text) == (403, True), path
    r = person.form("/console/settings/carriers", {"plugin": "sf", "partner_id": "P1", "check_word": "W" * 16})
    assert r.status_code == 403 and set(credentials(console, t.carrier_accounts, 0)) == {"kuaidi100"}
    assert 'href="/console/settings"' not in person.get("/console/receiving").text  # not in the navigation


def test_signed_out_settings_ask_for_sign_in(console: ConsoleWorld) -> None:
    r = console.anonymous().get("/console/settings/users")
    assert (r.status_code, r.headers["location"]) == (303, "/console/sign-in?next=/console/settings/users")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_settings_page_renders_in_both_languages_with_its_sub_navigation(console: ConsoleWorld,
                                                                               lang: str) -> None:
    owner = console.sign_in("owner")
    owner.client.cookies.set("lanjie_lang", lang)
    titles = {"zh-CN": ["店铺", "快递账号", "销售渠道", "Webhook", "API 密钥", "用户"],
              "en": ["Shop", "Carrier accounts", "Sales channels", "Webhooks", "API keys", "Users"]}[lang]
    for path in [*PAGES, "/console/settings/carriers?plugin=sf", "/console/settings/channels?plugin=taobao"]:
        r = owner.get(path)
        assert r.status_code == 200 and f'<html lang="{lang}">' in r.text, path
        links = re.findall(r'<li><a href="(/console/settings/[a-z-]+)"[^>]*>([^<]+)</a></li>', r.text)
        assert [label for _, label in links] == titles, path
        here = path.split("?")[0]
        current = re.findall(r'<li><a href="([^"]+)" aria-current="page">', r.text)
        assert current == ["/console/settings"] + ([] if here == "/console/settings" else [here]), path


def test_the_carrier_list_shows_the_shops_accounts_and_never_their_credentials(console: ConsoleWorld) -> None:
    page = console.sign_in("owner").get("/console/settings/carriers").text
    assert re.findall(r'<tr data-plugin="([^"]+)">', page) == ["kuaidi100"]
    with console.engine.connect() as conn:
        token = conn.execute(sa.select(t.carrier_accounts.c.callback_token).where(
            t.carrier_accounts.c.shop_id == console.shops[0].id)).scalar_one()
    assert f"/v1/carriers/kuaidi100/callbacks/{token}</code>" in page
    assert "customer, key, salt, secret" in page  # which credentials are stored, never what they are
    assert K100_KEY not in page and K100_SECRET not in page


def test_adding_a_carrier_account_stores_the_credentials_and_the_page_never_shows_them(
        console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    form = owner.get("/console/settings/carriers?plugin=sf").text
    inputs = re.findall(r'<input id="cred-([a-z_]+)" name="([a-z_]+)" type="([a-z]+)"', form)
    assert inputs == [("partner_id", "partner_id", "text"), ("check_word", "check_word", "password"),
                      ("monthly_card_no", "monthly_card_no", "text")]
    secret = "CheckWord-0123456789abcdef"
    r = owner.form("/console/settings/carriers", {"plugin": "sf", "partner_id": "LJ_PARTNER", "check_word": secret})
    assert (r.status_code, r.headers["location"]) == (303, "/console/settings/carriers?notice=carrier_saved")
    assert credentials(console, t.carrier_accounts, 0)["sf"] == {"partner_id": "LJ_PARTNER", "check_word": secret}
    page = owner.get(r.headers["location"]).text
    assert re.findall(r'<tr data-plugin="([^"]+)">', page) == ["kuaidi100", "sf"]
    assert '<p id="settings-notice" role="status" aria-live="polite" class="notice">快递账号已保存。</p>' in page
    assert secret not in page and "LJ_PARTNER" not in page
    assert set(credentials(console, t.carrier_accounts, 1)) == {"kuaidi100"}  # the other shop is untouched


def test_updating_keeps_what_is_left_blank_and_a_wrong_set_is_refused_unsaved(console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    before = credentials(console, t.carrier_accounts, 0)["kuaidi100"]
    form = owner.get("/console/settings/carriers?plugin=kuaidi100").text
    assert "已有账号：留空的项保留原值。" in form and ' required' not in form.split('id="account-form"')[1]
    r = owner.form("/console/settings/carriers", {"plugin": "kuaidi100", "customer": "NEWCUSTOMER", "key": ""})
    assert r.status_code == 303
    assert credentials(console, t.carrier_accounts, 0)["kuaidi100"] == {**before, "customer": "NEWCUSTOMER"}
    r = owner.form("/console/settings/carriers", {"plugin": "sf", "partner_id": "P-ONLY"})
    assert r.status_code == 422 and 'role="alert">凭据不完整或有误，未保存：' in r.text
    assert "credentials.check_word is required" in r.text and "P-ONLY" not in r.text
    r = owner.form("/console/settings/carriers", {"plugin": "nosuch", "key": "x"})
    assert r.status_code == 422 and "没有安装这个插件。" in r.text
    assert set(credentials(console, t.carrier_accounts, 0)) == {"kuaidi100"}


def test_a_form_without_the_csrf_token_is_refused_and_nothing_is_saved(console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    for path, data in (("/console/settings/carriers", {"plugin": "sf", "partner_id": "P", "check_word": "W" * 10}),
                       ("/console/settings/channels", {"plugin": "douyin", "app_key": "k", "app_secret": "s",
                                                       "access_token": "t", "shop_id": "1"})):
        for csrf in ("", "forged"):
            r = owner.form(path, data, csrf=csrf)
            assert (r.status_code, "表单已过期" in r.text) == (403, True)
    assert set(credentials(console, t.carrier_accounts, 0)) == {"kuaidi100"}
    assert credentials(console, t.channel_accounts, 0) == {}


def test_a_sales_channel_account_is_saved_and_listed_with_its_callback_url(console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    assert "暂无渠道账号。" in owner.get("/console/settings/channels").text
    choices = re.findall(r'<option value="([a-z_]+)"', owner.get("/console/settings/channels").text)
    assert choices == ["douyin", "taobao"]  # plugins that take an account (rest needs none)
    secret = "douyin-app-secret-0001"
    r = owner.form("/console/settings/channels", {"plugin": "douyin", "app_key": "dk1", "app_secret": secret,
                                                  "access_token": "tok-0001", "shop_id": "777"})
    assert (r.status_code, r.headers["location"]) == (303, "/console/settings/channels?notice=channel_saved")
    assert credentials(console, t.channel_accounts, 0) == {"douyin": {
        "app_key": "dk1", "app_secret": secret, "access_token": "tok-0001", "shop_id": "777"}}
    page = owner.get("/console/settings/channels").text
    assert re.findall(r'<tr data-plugin="([^"]+)">', page) == ["douyin"]
    assert re.search(r'/v1/channels/douyin/callbacks/[0-9a-f]{32}</code>', page)
    assert secret not in page and "tok-0001" not in page
    assert credentials(console, t.channel_accounts, 1) == {}
