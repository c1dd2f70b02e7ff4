"""The warehouse's scan-first receiving page in Chromium: type the waybill, Enter, inspect, receive."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Console
from tests.browser.staging import intercepted, turned_back

pytestmark = pytest.mark.slow


def test_the_warehouse_scans_a_returned_parcel_receives_it_and_is_ready_for_the_next(console: Console) -> None:
    live, page = console.live, console.page
    case = intercepted(live, "ZT400000001", "O-RCV-1")
    back = turned_back(live, case["id"], until="returned")
    assert back["intercepts"][0]["status"] == "succeeded"

    console.sign_in("warehouse")
    scan = page.locator("#scan")
    expect(scan).to_be_focused()
    scan.type("ZT400000001")  # a keyboard-wedge scanner types the number and presses Enter
    scan.press("Enter")
    parcel = page.locator("section#parcel")
    expect(parcel).to_be_visible()
    expect(parcel).to_contain_text("ZT400000001")
    expect(page.locator("#facts")).to_contain_text("O-RCV-1")
    expect(page.locator("#facts")).to_contain_text("¥59.00")
    expect(parcel).to_contain_text("cotton tee")
    console.shot("receiving-scanned")

    ok = page.locator("#inspection .choice.ok")
    expect(ok).to_be_focused()  # the hands stay on the keyboard: 1 = ok, then Ctrl+Enter receives
    page.keyboard.press("1")
    expect(ok).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#submit")).to_be_focused()
    page.keyboard.press("Control+Enter")
    message = page.locator("#message")
    expect(message).to_have_text(re.compile(
        rf"^已入库：ZT400000001 · 完好 · 售后单 {case['id']} .+ — 请扫描下一件$"))
    expect(message).to_have_attribute("role", "status")
    expect(parcel).to_be_hidden()
    expect(page.locator("ol#done li")).to_have_count(1)
    expect(page.locator("#error")).to_have_text("")
    expect(scan).to_be_focused()  # the next parcel can be scanned at once
    console.shot("receiving-received")
    (leg,) = live.client.get("/v1/returns", params={"status": "received"}).json()["items"]
    assert (leg["aftersale_id"], leg["waybill_no"]) == (case["id"], "ZT400000001")
