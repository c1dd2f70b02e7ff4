"""The receiving page (退货入库): a template in the console's frame, open to every role, scan-first, its own
script and style sheet from /console/static, words in both languages, and the API reached with the session."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.console.conftest import ConsoleWorld
from tests.service.test_reconciliation import intercepted

AT = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize("role", ["owner", "agent", "warehouse"])
def test_every_role_opens_the_receiving_page_with_the_scan_box_focused(console: ConsoleWorld, role: str) -> None:
    page = console.sign_in(role).get("/console/receiving")
    assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert re.search(r'<input id="scan"[^>]*\bautofocus\b', page.text)
    assert '<label for="scan" class="big-label">扫描或输入运单号</label>' in page.text
    assert re.search(r'<a href="/console/receiving" aria-current="page">退货入库</a>', page.text)
    for element in ('id="scanform"', 'id="message" role="status"', 'id="error" role="alert"', 'id="parcel" hidden',
                    'id="facts"', 'id="items"', 'id="inspection"', 'id="photos"', 'id="note"', 'id="submit"',
                    'id="done"'):
        assert element in page.text, element
    assert 'id="keyform"' not in page.text and 'id="key"' not in page.text  # the session, not an API key


def test_the_page_loads_only_its_own_files_with_no_inline_code(console: ConsoleWorld) -> None:
    person = console.sign_in("warehouse")
    page = person.get("/console/receiving")
    assets = re.findall(r'(?:src|href)="(/console/static/[^"]+)"', page.text)
    assert sorted(assets) == ["/console/static/console.css", "/console/static/console.js",
                              "/console/static/receiving.css", "/console/static/receiving.js"]
    assert not re.search(r"https?://", page.text)
    assert " style=" not in page.text and not re.search(r"<script(?![^>]*(src=|application/json))", page.text)
    for asset, media in (("/console/static/receiving.js", "text/javascript"),
                         ("/console/static/receiving.css", "text/css")):
        r = person.get(asset)
        assert (r.status_code, r.headers["content-type"].split(";")[0]) == (200, media)
        assert not re.search(r"https?://|[\"'(]//", r.text), asset  # no absolute or protocol-relative URL
    script = person.get("/console/static/receiving.js").text
    assert "lanjie.api" in script and "Authorization" not in script and "#key" not in script
    assert person.get("/console/static/receiving.html").status_code == 404
    assert person.get("/console/receiving.js").status_code == 404


def test_the_page_speaks_english_when_asked_and_hands_its_words_to_the_script(console: ConsoleWorld) -> None:
    person = console.sign_in("warehouse")
    person.client.cookies.set("lanjie_lang", "en")
    page = person.get("/console/receiving")
    assert page.status_code == 200 and '<html lang="en">' in page.text
    assert '<label for="scan" class="big-label">Scan or type the waybill</label>' in page.text
    assert "<h1>Returns receiving</h1>" in page.text and "扫描或输入运单号" not in page.text
    assert '"js.receiving.not_found": "No case for this number: "' in page.text


def test_signed_out_the_page_asks_for_sign_in(console: ConsoleWorld) -> None:
    r = console.anonymous().get("/console/receiving")
    assert (r.status_code, r.headers["location"]) == (303, "/console/sign-in?next=/console/receiving")


def test_the_warehouse_looks_up_with_its_session_and_another_shops_parcel_is_not_found(console: ConsoleWorld) -> None:
    intercepted(console.engine, console.container.settings, console.shops[1].id, "ZT9999001", at=AT)
    mine = console.sign_in("warehouse", shop=1).api("GET", "/v1/receiving/lookup", params={"waybill_no": "ZT9999001"})
    assert mine.status_code == 200 and [p["waybill_no"] for p in mine.json()["parcels"]] == ["ZT9999001"]
    other = console.sign_in("warehouse", shop=0)
    assert other.api("GET", "/v1/receiving/lookup", params={"waybill_no": "ZT9999001"}).status_code == 404
    refused = other.api("POST", "/v1/receiving", json={"waybill_no": "ZT9999001", "inspection": "ok"},
                        headers={"X-CSRF-Token": ""})
    assert refused.status_code == 403  # a change without the session's CSRF header
