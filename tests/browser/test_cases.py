"""The case pages in Chromium: the 拦截 click answered within a second, a carrier push shown live, a batch."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Locator, expect

from tests.browser.conftest import Console
from tests.browser.staging import intercepted

pytestmark = pytest.mark.slow
DAY = 24 * 3600


@pytest.mark.sandbox(ack_latency_ms=200)  # the carrier twin answers an intercept after 200 ms, as by default
def test_the_intercept_click_shows_the_carriers_acceptance_within_a_second(console: Console) -> None:
    case = console.live.staged_case("ZT300000001", "O-CLICK-1", "in_transit")
    page = console.page
    console.sign_in("agent")
    console.goto(f"/console/cases/{case['id']}")
    expect(page.locator("h1")).to_contain_text("O-CLICK-1")

    page.click("#intercept-button")
    preview = page.locator("#intercept-preview")
    expect(preview).to_contain_text("ZT300000001")
    expect(preview).to_contain_text("cotton tee")  # what is in the parcel
    expect(preview).to_contain_text("费用：快递公司未报价")  # the fee: Kuaidi100 quotes none
    expect(page.locator("#intercept-confirm")).to_be_enabled()
    console.shot("intercept-preview")

    started = time.monotonic()
    page.click("#intercept-confirm")
    # Checked in the page every 10 ms: wait_for_selector's own retries back off to 500 ms and would add up to that.
    page.wait_for_function("""() => document.querySelector('#intercept-result[data-state="submitted"]')""",
                           polling=10, timeout=3_000)
    elapsed = time.monotonic() - started
    print(f"\nintercept click → carrier's answer on the page: {elapsed * 1000:.0f} ms")
    assert elapsed < 1.0
    result = page.locator("#intercept-result")
    expect(result).to_have_attribute("role", "status")
    console.shot("intercept-submitted")
    intercept = console.live.case(case["id"])["intercepts"]
    assert [(i["status"], i["waybill_no"]) for i in intercept] == [("submitted", "ZT300000001")]


def test_the_carriers_push_that_the_parcel_turned_back_shows_on_the_open_page_without_a_reload(
        console: Console) -> None:
    live, page = console.live, console.page
    case = intercepted(live, "ZT300000002", "O-PUSH-2")
    console.sign_in("agent")
    console.goto(f"/console/cases/{case['id']}")
    timeline = page.locator("#case-live ol#timeline")
    expect(timeline.locator('li[data-type="intercept.submitted"]')).to_have_count(1)
    expect(timeline.locator('li[data-type="intercept.succeeded"]')).to_have_count(0)
    expect(page.locator("#live-status")).to_be_visible()  # the event stream is open
    page.evaluate("window.__same_page = true")

    r = live.client.post("/sandbox/control/parcels/ZT300000002/outcome", json={"outcome": "succeed"})
    assert r.status_code == 200, r.text
    live.advance(2 * DAY)  # past the stop's propagation and the next scans: the parcel turns back, the carrier pushes
    expect(timeline.locator('li[data-type="intercept.succeeded"]')).to_have_count(1, timeout=15_000)
    turned = page.locator('#case-live #intercepts tr[data-state="succeeded"]')
    expect(turned).to_contain_text("拦截成功，已退回")
    expect(timeline.locator('li[data-type="refund.succeeded"]')).to_have_count(1, timeout=10_000)
    assert page.evaluate("window.__same_page") is True  # no reload: the fragment was swapped in place
    console.shot("case-turned-back-live")
    assert live.case(case["id"])["intercepts"][0]["status"] == "succeeded"


def test_a_batch_intercept_answers_per_case_and_refuses_the_delivered_parcel_with_its_reason(
        console: Console) -> None:
    live, page = console.live, console.page
    first = live.staged_case("ZT300000003", "O-BATCH-3", "in_transit")
    second = live.staged_case("ZT300000004", "O-BATCH-4", "in_transit")
    console.sign_in("agent")
    rows = page.locator("#cases-live table#cases tbody tr[data-case-id]")
    expect(rows).to_have_count(2)
    page.check(f"input[name=case][value='{first['id']}']")
    page.evaluate("window.__same_page = true")
    delivered = live.staged_case("ZT300000005", "O-BATCH-5", "delivered")  # opened while the list is on screen
    expect(rows).to_have_count(3, timeout=10_000)
    expect(page.locator(f"tr[data-case-id='{delivered['id']}']")).to_contain_text("已签收")
    assert page.evaluate("window.__same_page") is True  # the list was refreshed in place, not reloaded
    expect(page.locator(f"input[name=case][value='{first['id']}']")).to_be_checked()  # the tick survived
    expect(page.locator("#pick-all")).not_to_be_checked()
    page.check("#pick-all")  # the rest of the page, in one tick
    for case in (first, second, delivered):
        expect(page.locator(f"input[name=case][value='{case['id']}']")).to_be_checked()

    page.click("#batch-intercept")
    results = page.locator("ul#batch-results li[data-case-id]")
    expect(results).to_have_count(3)

    def result(case: dict) -> Locator:
        return page.locator(f"ul#batch-results li[data-case-id='{case['id']}']")

    expect(result(first)).to_have_attribute("data-outcome", "accepted")
    expect(result(first)).to_have_text("O-BATCH-3：已提交拦截")
    expect(result(second)).to_have_attribute("data-outcome", "accepted")
    expect(result(second)).to_have_text("O-BATCH-4：已提交拦截")
    expect(result(delivered)).to_have_attribute("data-outcome", "refused")
    expect(result(delivered)).to_have_text("O-BATCH-5：未能拦截，已签收")  # the reason: the parcel was delivered
    expect(page.locator("#batch-status")).to_have_text("已提交 2 个，1 个未能拦截。")
    for case in (first, second):  # the carrier's acceptance reaches the list by itself
        expect(page.locator(f"tr[data-case-id='{case['id']}'] td.intercept")).to_have_text("快递已受理",
                                                                                            timeout=10_000)
    expect(page.locator(f"tr[data-case-id='{delivered['id']}'] td.intercept")).to_have_text("未拦截")
    console.shot("batch-results")
    assert [i["status"] for i in live.case(delivered["id"])["intercepts"]] == []
    for case in (first, second):
        live.wait_for(lambda c=case: [i["status"] for i in live.case(c["id"])["intercepts"]] == ["submitted"],
                      timeout=5)
