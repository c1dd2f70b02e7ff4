"""Every console page in Chromium: each control reached by the keyboard alone, and the owner's pages at work
(the dashboard's figures, a rules dry run, an API key issued in settings)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Console
from tests.browser.staging import intercepted, turned_back

pytestmark = pytest.mark.slow

#: Marks every visible, enabled control of the page with data-kb="<n>" and answers how many there are.
_MARK_CONTROLS = """() => {
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]';
  let n = 0;
  for (const node of document.querySelectorAll(selector)) {
    const style = getComputedStyle(node);
    const box = node.getBoundingClientRect();
    const hidden = node.closest('[hidden]') || style.visibility === 'hidden' || style.display === 'none'
      || box.width === 0 || box.height === 0;
    if (hidden || node.disabled || node.getAttribute('tabindex') === '-1') continue;
    node.setAttribute('data-kb', String(n++));
  }
  return n;
}"""


def _unreached_by_tab(console: Console) -> list[str]:
    """The page's controls that pressing Tab never focuses (after going round the whole page once)."""
    page = console.page
    total = page.evaluate(_MARK_CONTROLS)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    reached: set[str] = set()
    for _ in range(total + 10):
        page.keyboard.press("Tab")
        mark = page.evaluate("() => document.activeElement && document.activeElement.getAttribute('data-kb')")
        if mark is not None:
            reached.add(mark)
        if len(reached) == total:
            break
    return page.evaluate("""(reached) => Array.from(document.querySelectorAll('[data-kb]'))
      .filter((n) => !reached.includes(n.getAttribute('data-kb')))
      .map((n) => n.tagName.toLowerCase() + (n.id ? '#' + n.id : '') + ' ' + (n.textContent || '').trim().slice(0, 30))
    """, sorted(reached))


def test_every_control_of_every_page_is_reached_by_the_keyboard(console: Console) -> None:
    live = console.live
    case = intercepted(live, "ZT500000001", "O-KEY-1")
    console.sign_in("owner")
    settings = console.page
    console.goto("/console/settings")
    subpages = sorted(set(re.findall(r'href="(/console/settings/[a-z-]+)"', settings.content())))
    assert len(subpages) >= 5, subpages
    pages = ["/console/cases", f"/console/cases/{case['id']}", "/console/receiving", "/console/claims",
             "/console/rules", "/console/dashboard", "/console/settings", *subpages]
    for path in pages:
        console.goto(path)
        console.page.wait_for_load_state("load")
        assert _unreached_by_tab(console) == [], path


def test_the_owner_sees_the_weeks_figures_dry_runs_the_rules_and_issues_an_api_key(console: Console) -> None:
    live, page = console.live, console.page
    back = intercepted(live, "ZT500000002", "O-DASH-2")
    turned_back(live, back["id"])
    intercepted(live, "ZT500000003", "O-DASH-3")
    live.staged_case("ZT500000004", "O-DASH-4", "delivered")  # not intercepted
    console.sign_in("owner")

    console.goto("/console/dashboard")
    expect(page.locator("svg#chart-success")).to_be_visible()
    zto = page.locator('#success-table tr[data-group="kuaidi100:zto"]')
    expect(zto.locator("td").first).to_have_text("2")  # two intercepts requested of ZTO this week
    expect(page.locator("#tile-success-rate")).to_have_text("100.0%")  # 1 turned back, 1 still pending
    console.shot("dashboard")

    console.goto("/console/rules")
    page.click("#rules-dry-run")
    rows = page.locator("table#dry-run-results tr[data-case-id]")
    expect(rows).to_have_count(3)
    console.shot("rules-dry-run")

    console.goto("/console/settings/api-keys")
    page.fill("#key-label", "ERP")
    page.locator("#key-form button[type=submit]").click()
    key = page.locator("#new-api-key").inner_text()
    found = re.search(r"lj_k_[0-9a-f]{20}_[A-Za-z0-9_-]{43}", key)
    assert found is not None, key
    assert live.client.get("/v1/aftersales", headers={"Authorization": f"Bearer {found.group(0)}"}
                           ).json()["total"] == 3
    console.shot("settings-api-key")
    console.goto("/console/settings/api-keys")
    assert found.group(0) not in page.content()  # shown once


def test_an_agent_tries_the_saved_rules_without_changing_them(console: Console) -> None:
    live, page = console.live, console.page
    intercepted(live, "ZT500000005", "O-AGENT-5")
    rules = [{"name": "在途才拦", "conditions": ["in_transit"]}]
    assert live.client.put("/v1/rules", json={"rules": rules}, headers={"Idempotency-Key": "agent-rules-0001"}
                           ).status_code == 200
    console.sign_in("agent")
    console.goto("/console/rules")
    expect(page.locator("#rules-read-only")).to_be_visible()
    expect(page.locator("#rules-save")).to_have_count(0)
    page.click("#rules-dry-run")
    rows = page.locator("table#dry-run-results tr[data-case-id]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("在途才拦")
    assert [r["name"] for r in live.client.get("/v1/rules").json()["rules"]] == ["在途才拦"]
