"""The rules page: saved rules and the settlement policy rendered for editing, read-only for an agent, the
dry run through the API with a console session, and the roles that may not see it."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.console.conftest import ConsoleWorld, Person
from tests.e2e.live import shipment_body

RULES: dict[str, Any] = {"deadline_margin_minutes": 90, "rules": [
    {"name": "抖音全额", "channels": ["douyin", "taobao"], "conditions": ["refund_only_shipped", "in_transit"],
     "intercept_type": "return_to_outlet", "service_hours": {"opens": "08:30", "closes": "22:00"},
     "fee_ceiling_fen": 1250, "fallback": "refund_on_refusal"},
    {"name": "其余", "enabled": False},
]}


def legends(html: str) -> list[str]:
    """The rules' titles, in order (the add-a-rule template left out)."""
    return re.findall(r"<legend data-rule-title>([^<]*)</legend>", html.split("<template")[0])


def control(html: str, id_: str) -> str:
    """The opening tag of the control with this id."""
    found = re.search(rf'<(input|select|textarea|button)\b[^>]*\bid="{re.escape(id_)}"[^>]*>', html)
    assert found is not None, id_
    return found.group(0)


def selected(html: str, id_: str) -> list[str]:
    body = html.split(f'id="{id_}"', 1)[1].split("</select>", 1)[0]
    return re.findall(r'<option value="([^"]+)" selected>', body)


def value(html: str, id_: str) -> str | None:
    found = re.search(r'\bvalue="([^"]*)"', control(html, id_))
    return found.group(1) if found else None


def checked(html: str, prefix: str) -> list[str]:
    return re.findall(rf'id="{prefix}cond-(\w+)" type="checkbox" data-condition="\w+" checked', html)


def seed_case(console: ConsoleWorld, waybill: str, order: str) -> str:
    machine = console.machine(0)
    r = machine.post("/v1/shipments", json=shipment_body(waybill, order),
                     headers={"Idempotency-Key": f"seed-ship-{waybill}-0001"})
    assert r.status_code == 201, r.text
    r = machine.post("/v1/aftersales", json={"order_id": order, "type": "refund_only_shipped", "refund_fen": 5900,
                                             "waybill_nos": [waybill]},
                     headers={"Idempotency-Key": f"seed-case-{waybill}-0001"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def saved(owner: Person) -> None:
    assert owner.api("PUT", "/v1/rules", json=RULES).status_code == 200
    r = owner.api("PUT", "/v1/shop/settlement-policy", json={"settlement_policy": "on_received"})
    assert r.status_code == 200, r.text


def test_the_owner_sees_the_saved_rules_in_order_with_every_condition_and_the_policy(console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    saved(owner)
    page = owner.get("/console/rules")
    assert page.status_code == 200 and 'aria-current="page">规则' in page.text
    html = page.text
    assert legends(html) == ["规则 1", "规则 2"]
    assert [value(html, f"rule-{i}-name") for i in (0, 1)] == ["抖音全额", "其余"]
    assert (value(html, "rule-0-channels"), value(html, "rule-1-channels")) == ("douyin, taobao", "")
    assert checked(html, "rule-0-") == ["refund_only_shipped", "in_transit"]
    assert len(checked(html, "rule-1-")) == 7  # every condition, the domain's default
    assert (selected(html, "rule-0-intercept_type"), selected(html, "rule-0-fallback")) == (
        ["return_to_outlet"], ["refund_on_refusal"])
    assert [value(html, f"rule-0-{f}") for f in ("opens", "closes", "fee_ceiling")] == ["08:30", "22:00", "12.50"]
    assert value(html, "rule-1-fee_ceiling") == ""
    assert " checked" in control(html, "rule-0-enabled") and " checked" not in control(html, "rule-1-enabled")
    assert selected(html, "settlement-policy") == ["on_received"] and value(html, "deadline-margin") == "90"
    for id_ in ("rule-0-name", "rule-0-fee_ceiling", "settlement-policy", "deadline-margin", "rule-1-cond-in_transit"):
        assert f'<label for="{id_}">' in html and " disabled" not in control(html, id_), id_
    assert control(html, "rules-save") and control(html, "rules-dry-run") and control(html, "rule-add")
    assert '<table id="dry-run-results">' in html and 'id="rules-error" class="error" role="alert"' in html
    assert '<template id="rule-template">' in html and 'id="rule-__i__-name"' in html
    assert 'aria-label="上移规则 2"' in html and '<script src="/console/static/rules.js" defer>' in html


def test_the_page_in_english(console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    saved(owner)
    owner.client.cookies.set("lanjie_lang", "en")
    html = owner.get("/console/rules").text
    assert 'lang="en"' in html and "<h1>Auto-intercept rules</h1>" in html
    assert legends(html) == ["Rule 1", "Rule 2"]
    assert '<option value="on_received" selected>When the warehouse receives the return</option>' in html
    assert '<label for="rule-0-cond-not_shared">No other unrefunded items in the parcel</label>' in html


def test_an_agent_sees_the_rules_read_only(console: ConsoleWorld) -> None:
    saved(console.sign_in("owner"))
    agent = console.sign_in("agent")
    html = agent.get("/console/rules").text
    assert [value(html, f"rule-{i}-name") for i in (0, 1)] == ["抖音全额", "其余"]
    controls = re.findall(r"<(?:input|select|textarea)\b[^>]*>", html.split('<main id="main"')[1])
    assert len(controls) == 2 * (8 + 7) + 2 and all(" disabled" in c for c in controls)
    for absent in ('id="rules-save"', 'id="rule-add"', "rule-template", 'data-action="up"'):
        assert absent not in html, absent
    assert control(html, "rules-dry-run") and '<table id="dry-run-results">' in html  # trying them changes nothing
    assert "只有店主可以修改规则" in html
    refused = agent.api("PUT", "/v1/rules", json={"rules": []})
    assert refused.status_code == 403
    tried = agent.api("POST", "/v1/rules/dry-run", json={"rules": agent.get("/v1/rules").json()["rules"]})
    assert tried.status_code == 200 and tried.json()["summary"]["cases"] == 0
    assert len(agent.get("/v1/rules").json()["rules"]) == 2  # nothing changed


def test_no_rules_says_so(console: ConsoleWorld) -> None:
    html = console.sign_in("owner").get("/console/rules").text
    assert re.search(r'<p id="rules-empty" class="muted">暂无规则', html) and legends(html) == []
    assert selected(html, "settlement-policy") == ["on_turned_back"] and value(html, "deadline-margin") == "120"


def test_the_dry_run_replays_the_rules_as_edited_through_the_console_session(console: ConsoleWorld) -> None:
    case_id = seed_case(console, "ZT7001", "O-7001")
    owner = console.sign_in("owner")
    edited = [{"name": "只看类型", "conditions": ["refund_only_shipped"]}]
    r = owner.api("POST", "/v1/rules/dry-run", json={"rules": edited})
    assert r.status_code == 200, r.text
    report = r.json()
    assert [(c["case_id"], c["order_id"], c["verdict"], c["rule"], c["reason"], c["actual"]["intercepted"])
            for c in report["cases"]] == [(case_id, "O-7001", "intercept", "只看类型", "", False)]
    assert report["summary"]["verdicts"] == {"intercept": 1, "wait": 0, "skip": 0}
    strict = [{"name": "在途才拦", "conditions": ["in_transit"]}]
    (row,) = owner.api("POST", "/v1/rules/dry-run", json={"rules": strict}).json()["cases"]
    assert (row["verdict"], row["rule"], row["reason"]) == ("skip", "在途才拦", "in_transit")  # no scan yet
    elsewhere = [{"name": "只管抖音", "channels": ["douyin"]}]
    (row,) = owner.api("POST", "/v1/rules/dry-run", json={"rules": elsewhere}).json()["cases"]
    assert (row["verdict"], row["rule"], row["reason"]) == ("skip", None, "no_rule")
    assert owner.get("/v1/rules").json()["rules"] == []  # a dry run saves nothing
    bad = owner.api("POST", "/v1/rules/dry-run", json={"rules": [{"name": "x", "fee_ceiling_fen": -1}]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "rules.0.fee_ceiling_fen"


def test_the_warehouse_may_not_open_the_rules_and_a_stranger_is_sent_to_sign_in(console: ConsoleWorld) -> None:
    r = console.sign_in("warehouse").get("/console/rules")
    assert (r.status_code, "你的角色不能打开此页面。" in r.text) == (403, True)
    r = console.anonymous().get("/console/rules")
    assert (r.status_code, r.headers["location"]) == (303, "/console/sign-in?next=/console/rules")


def test_the_pages_script_and_style_are_served_from_the_console(console: ConsoleWorld) -> None:
    client: httpx.Client = console.anonymous()
    for path, kind in (("/console/static/rules.js", "javascript"), ("/console/static/rules.css", "css"),
                       ("/console/static/claims.js", "javascript")):
        r = client.get(path)
        assert r.status_code == 200 and kind in r.headers["content-type"], path
