"""Signing in and out, and the language switch, in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import WAIT_MS, Console

pytestmark = pytest.mark.slow


def test_a_wrong_password_is_refused_the_right_one_lands_on_cases_and_sign_out_ends_the_session(
        console: Console) -> None:
    page = console.page
    console.goto("/console/sign-in")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.fill("#login", console.logins["agent"])
    page.fill("#password", "not the password")
    page.click("form[action='/console/sign-in'] button[type=submit]")
    error = page.locator("#signin-error")
    expect(error).to_have_text("账号或密码不正确，或账号已停用。")
    expect(error).to_have_attribute("role", "alert")
    expect(page.locator("#login")).to_have_value(console.logins["agent"])
    console.shot("sign-in-error")

    console.sign_in("agent")
    assert page.url == console.base + "/console/cases"
    expect(page.locator("main h1")).to_have_text("售后单")
    expect(page.locator("#cases-empty")).to_have_text("暂无售后单")
    cookie = next(c for c in page.context.cookies() if c["name"] == "lanjie_session")
    # the default Secure cookie: Chromium keeps and sends it to http://127.0.0.1 (a trustworthy origin)
    assert (cookie["secure"], cookie["httpOnly"], cookie["sameSite"]) == (True, True, "Strict")
    expect(page.locator("header .who")).to_contain_text("Agent Test")
    console.shot("cases-signed-in")

    page.click("header form[action='/console/sign-out'] button[type=submit]")
    page.wait_for_url(console.base + "/console/sign-in", timeout=WAIT_MS)
    assert [c for c in page.context.cookies() if c["name"] == "lanjie_session"] == []
    console.goto("/console/cases")  # the session is gone: back to the sign-in form
    assert page.url.startswith(console.base + "/console/sign-in")
    expect(page.locator("#login")).to_be_visible()


def test_the_console_speaks_chinese_by_default_and_english_after_the_switch_on_every_page(console: Console) -> None:
    page = console.page
    console.sign_in("owner")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="售后单")).to_be_visible()
    switch = page.locator("#lang-switch")
    expect(switch).to_have_text("English")

    switch.click()
    page.wait_for_url(console.base + "/console/cases", timeout=WAIT_MS)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(nav.get_by_role("link", name="Cases")).to_be_visible()
    expect(page.locator("main h1")).to_have_text("Cases")
    expect(page.locator("#cases-empty")).to_have_text("No cases yet")
    expect(switch).to_have_text("中文")
    console.shot("cases-english")

    console.goto("/console/claims")  # the choice sticks across pages (a cookie)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(nav.get_by_role("link", name="Claims")).to_be_visible()
    expect(page.locator("main h1")).to_have_text("Claims")
    expect(page.locator("#lang-switch")).to_have_text("中文")

    page.locator("#lang-switch").click()
    page.wait_for_url(console.base + "/console/claims", timeout=WAIT_MS)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("main h1")).to_have_text("理赔")
