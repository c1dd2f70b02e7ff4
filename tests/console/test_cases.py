"""The case list: exact rows, each filter and the search, the live fragment, roles and both languages."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from lanjie.service.ids import utcnow
from lanjie.service.unit_of_work import UnitOfWork
from tests.console.conftest import ConsoleWorld
from tests.e2e.live import shipment_body

DEADLINE = datetime(2031, 5, 1, 2, 30, tzinfo=UTC)  # 10:30 in Shanghai


def seed(machine: httpx.Client, waybill: str, order: str, *, courier: str = "zto", kind: str = "refund_only_shipped",
         refund_fen: int = 5900, **case: Any) -> str:
    """A parcel and a case on it, sent through the API as a machine would; the case's id."""
    r = machine.post("/v1/shipments", json=shipment_body(waybill, order, courier=courier),
                     headers={"Idempotency-Key": f"seed-ship-{waybill}-0001"})
    assert r.status_code == 201, r.text
    r = machine.post("/v1/aftersales", json={"order_id": order, "type": kind, "refund_fen": refund_fen,
                                             "waybill_nos": [waybill], **case},
                     headers={"Idempotency-Key": f"seed-case-{waybill}-0001"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def row_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-case-id="([^"]+)">', html)


def cells(html: str, case_id: str) -> dict[str, str]:
    """The row's cells by class, as text with the tags and extra spaces taken out."""
    row = re.search(rf'<tr data-case-id="{case_id}">(.*?)</tr>', html, re.S)
    assert row is not None
    found = re.findall(r'<t[dh][^>]*class="([^"]+)"[^>]*>(.*?)</t[dh]>', row.group(1), re.S)
    return {name.split()[-1]: " ".join(re.sub(r"<[^>]+>", " ", text).split()) for name, text in found}


def three_cases(console: ConsoleWorld) -> list[str]:
    """Shop A: A-1 (ZTO, due soon), A-2 (YTO, a return), A-3 (ZTO, needs a person); newest last."""
    m = console.machine(0)
    ids = [seed(m, "ZT300000001", "A-1", deadline_at=(utcnow() + timedelta(hours=3)).isoformat()),
           seed(m, "YT300000002", "A-2", courier="yto", kind="return_refund", refund_fen=12345,
                deadline_at=DEADLINE.isoformat()),
           seed(m, "ZT300000003", "B-3")]
    with UnitOfWork(console.container.for_shop(console.shops[0].id), utcnow()) as uow:
        case = uow.case(console.shops[0].id, ids[2])
        assert case is not None
        case.needs_person("deadline")
        uow.save(case)
        uow.commit()
    seed(console.machine(1), "ZT900000009", "OTHER-1")  # another shop's: never listed
    return ids


def test_the_list_shows_exactly_the_shops_cases_newest_first(console: ConsoleWorld) -> None:
    a1, a2, b3 = three_cases(console)
    page = console.sign_in("agent").get("/console/cases")
    assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
    assert row_ids(page.text) == [b3, a2, a1]
    assert cells(page.text, a2) == {
        "order": "A-2", "type": "退货退款", "parcels": "YT300000002 · 圆通 · 待揽收", "status": "待处理",
        "intercept": "未拦截", "refund": "¥123.45", "deadline": "2031-05-01 10:30", "channel": "API"}
    assert cells(page.text, b3)["status"] == "需人工处理 处理时限将至"
    assert f'<input type="checkbox" name="case" value="{a1}" id="pick-{a1}">' in page.text
    assert f'<label for="pick-{a1}" class="sr-only">选择订单 A-1</label>' in page.text
    assert f'<a href="/console/cases/{a1}">A-1</a>' in page.text
    assert '<p class="muted" id="cases-count">共 3 条</p>' in page.text
    assert 'id="cases-live" data-fragment="/console/cases/rows?" data-live-any' in page.text
    assert "OTHER-1" not in page.text


def _listed(person: Any, **params: str) -> list[str]:
    page = person.get("/console/cases", params=params)
    assert page.status_code == 200, page.text
    return row_ids(page.text)


def test_each_filter_and_the_search_narrow_the_list(console: ConsoleWorld) -> None:
    a1, a2, b3 = three_cases(console)
    agent = console.sign_in("agent")
    assert agent.api("POST", f"/v1/aftersales/{a1}/intercepts", json={}).status_code == 202
    assert _listed(agent, status="intercepting") == [a1]
    assert _listed(agent, status="open") == [a2]
    assert _listed(agent, type="return_refund") == [a2]
    assert _listed(agent, carrier="kuaidi100:zto") == [b3, a1]
    assert _listed(agent, carrier="kuaidi100:yto") == [a2]
    assert _listed(agent, deadline="6") == [a1]
    assert _listed(agent, deadline="48") == [a1]
    assert _listed(agent, needs_person="true") == [b3]
    assert _listed(agent, q="A-2") == [a2]  # an order id, exactly
    assert _listed(agent, q="A-") == [a2, a1]  # the start of order ids
    assert _listed(agent, q="zt3") == [b3, a1]  # the start of waybills, any case
    assert _listed(agent, q="YT300000002") == [a2]
    assert _listed(agent, q="%") == [] and _listed(agent, q="ZT9") == []  # no wildcards; not the other shop's
    assert _listed(agent, type="return_refund", carrier="kuaidi100:zto") == []
    # the form keeps what was chosen, and the live fragment carries the same filters
    page = agent.get("/console/cases", params={"status": "open", "q": "A-2", "needs_person": "true"})
    assert '<option value="open" selected>待处理</option>' in page.text
    assert 'id="filter-q" name="q" type="search" maxlength="64" value="A-2"' in page.text
    assert 'name="needs_person" value="true" checked' in page.text
    assert 'data-fragment="/console/cases/rows?status=open&amp;needs_person=true&amp;q=A-2"' in page.text
    assert '<p class="muted" id="cases-empty">没有符合条件的售后单</p>' in page.text
    # values the form cannot send are dropped, not errors
    assert _listed(agent, status="nope", deadline="7", page="x") == [b3, a2, a1]


def test_the_rows_fragment_is_the_live_region_alone(console: ConsoleWorld) -> None:
    a1, a2, b3 = three_cases(console)
    agent = console.sign_in("agent")
    rows = agent.get("/console/cases/rows", params={"carrier": "kuaidi100:zto"})
    assert rows.status_code == 200 and rows.text.startswith('<p class="muted" id="cases-count">共 2 条</p>')
    assert "<html" not in rows.text and "<form" not in rows.text
    assert row_ids(rows.text) == [b3, a1]
    # a case opened since the page was drawn is in the next fragment
    new = seed(console.machine(0), "ZT300000004", "A-4")
    assert row_ids(agent.get("/console/cases/rows").text) == [new, b3, a2, a1]


def test_an_empty_shop_says_so(console: ConsoleWorld) -> None:
    page = console.sign_in("owner", shop=1).get("/console/cases")
    assert '<p class="muted" id="cases-empty">暂无售后单</p>' in page.text and "<table" not in page.text


def test_pages_of_fifty(console: ConsoleWorld) -> None:
    m = console.machine(0)
    ids = [seed(m, f"ZT4000000{n:02d}", f"P-{n}") for n in range(51)]
    agent = console.sign_in("agent")
    first = agent.get("/console/cases")
    assert row_ids(first.text) == ids[:0:-1] and "第 1 / 2 页" in first.text
    assert '<a href="/console/cases?page=2" rel="next">下一页</a>' in first.text
    second = agent.get("/console/cases", params={"page": "2"})
    assert row_ids(second.text) == [ids[0]] and '<a href="/console/cases" rel="prev">上一页</a>' in second.text
    assert row_ids(agent.get("/console/cases", params={"page": "9"}).text) == [ids[0]]


def test_the_warehouse_may_not_see_cases_and_strangers_sign_in_first(console: ConsoleWorld) -> None:
    three_cases(console)
    warehouse = console.sign_in("warehouse")
    for path in ("/console/cases", "/console/cases/rows"):
        refused = warehouse.get(path)
        assert refused.status_code == 403 and "你的角色不能打开此页面。" in refused.text and "A-1" not in refused.text
    r = console.anonymous().get("/console/cases", params={"q": "A-1"})
    assert (r.status_code, r.headers["location"]) == (303, "/console/sign-in?next=/console/cases%3Fq%3DA-1")
    assert console.sign_in("owner").get("/console/cases").status_code == 200


def test_the_list_in_english(console: ConsoleWorld) -> None:
    a1, a2, b3 = three_cases(console)
    agent = console.sign_in("agent")
    agent.client.cookies.set("lanjie_lang", "en")
    page = agent.get("/console/cases")
    assert 'lang="en"' in page.text and "<h1>Cases</h1>" in page.text and "售后单" not in page.text
    assert cells(page.text, a2) == {
        "order": "A-2", "type": "Return and refund", "parcels": "YT300000002 · YTO · Not collected",
        "status": "Open", "intercept": "Not intercepted", "refund": "¥123.45", "deadline": "2031-05-01 10:30",
        "channel": "API"}
    assert 'id="batch-intercept" class="primary" aria-describedby="batch-hint">Intercept selected</button>' in page.text
    assert "No cases match these filters" in agent.get("/console/cases", params={"q": "nothing"}).text


def test_a_batch_answers_per_case_and_needs_the_csrf_header(console: ConsoleWorld) -> None:
    m = console.machine(0)
    ok, a_return = seed(m, "ZT300000001", "A-1"), seed(m, "ZT300000002", "A-2", kind="return_refund")
    agent = console.sign_in("agent")
    body = {"items": [{"aftersale_id": ok, "type": "return_to_sender"},
                      {"aftersale_id": a_return, "type": "return_to_sender"}]}
    forged = agent.client.post("/v1/aftersales/intercept-batch", json=body,
                               headers={"Idempotency-Key": "console-batch-no-token"})
    assert forged.status_code == 403
    assert _listed(agent, status="intercepting") == []  # nothing was written
    r = agent.api("POST", "/v1/aftersales/intercept-batch", json=body)
    answer = r.json()
    assert (r.status_code, answer["accepted"], answer["refused"]) == (200, 1, 1)
    assert [(x["aftersale_id"], x["result"]) for x in answer["results"]] == [(ok, "accepted"), (a_return, "refused")]
    assert answer["results"][1]["problem"]["rule"] == "case_type"  # cases.js words it from this vocabulary
    page = agent.get("/console/cases")
    block = re.search(r'<script type="application/json" id="cases-vocabulary">(.*?)</script>', page.text)
    assert block is not None
    assert json.loads(block.group(1))["batch_refusal"]["case_type"] == "只有发货后仅退款的售后单可以拦截"
    assert cells(page.text, ok)["intercept"] == "已提交，等待答复" and cells(page.text, ok)["status"] == "拦截中"
