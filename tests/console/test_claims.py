"""The claims pages: the list and its filters, a claim's facts and evidence, an upload sent to the carrier,
a payout, and that another shop's claims and the warehouse stay out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from lanjie.domain.states import ClaimStatus, Inspection
from lanjie.service import claims, returns
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store import tables as t
from tests.console.conftest import ConsoleWorld, Person
from tests.files.samples import png
from tests.service.test_reconciliation import at, intercepted, lost

T0 = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


@dataclass(frozen=True)
class Seeded:
    damage: str  # shop 0: drafted when the warehouse found ZT6001 damaged (a photo), 3 Nov
    damage_case: str
    loss: str  # shop 0: ZT6002 lost on its way back 4 Nov, filed as a packet and approved
    other: str  # shop 1's damage claim
    photo: str  # the inspection photo of ZT6001


def _damaged(console: ConsoleWorld, shop: int, waybill: str, photos: list[str]) -> tuple[str, str]:
    shop_id, settings = console.shops[shop].id, console.container.settings
    parcel = intercepted(console.engine, settings, shop_id, waybill, at=T0)
    with UnitOfWork(console.engine, T0 + timedelta(days=1)) as uow:
        done = returns.receive(uow, shop_id, waybill_no=waybill, inspection=Inspection.damaged, photos=photos,
                               settings=settings)
        uow.commit()
    assert done.claim_id is not None
    return done.claim_id, parcel.case_id


@pytest.fixture
def seeded(console: ConsoleWorld) -> Seeded:
    r = console.machine(0).post("/v1/files", params={"name": "box.png"}, content=png(),
                                headers={"Content-Type": "image/png", "Idempotency-Key": "seed-photo-000001"})
    assert r.status_code == 201, r.text
    photo = r.json()["id"]
    damage, damage_case = _damaged(console, 0, "ZT6001", [photo])
    shop_id, settings = console.shops[0].id, console.container.settings
    parcel = intercepted(console.engine, settings, shop_id, "ZT6002", at=T0 + timedelta(hours=1))
    loss = lost(console.engine, settings, shop_id, parcel, T0 + timedelta(days=2))
    at(console.engine, T0 + timedelta(days=3),
       lambda u: claims.file(u, shop_id, loss, via="packet", online=False, carrier_ref="ZTO-C-9"))
    at(console.engine, T0 + timedelta(days=9),
       lambda u: claims.carrier_said(u, shop_id, loss, ClaimStatus.approved, approved_fen=3000))
    other, _ = _damaged(console, 1, "ZT6003", [])
    return Seeded(damage, damage_case, loss, other, photo)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def table_rows(html: str) -> list[tuple[str, list[str]]]:
    """(data-claim-id, cell texts) of each row of table#claims."""
    found = re.findall(r'<tr data-claim-id="([^"]+)">(.*?)</tr>', html, re.S)
    return [(claim_id, [text(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)])
            for claim_id, row in found]


def element(html: str, id_: str) -> str:
    """The text of the element with this id (up to its closing tag; no nesting of the same tag)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{re.escape(id_)}"[^>]*>(.*?)</\1>', html, re.S)
    assert found is not None, id_
    return text(found.group(2))


def english(person: Person) -> Person:
    person.client.cookies.set("lanjie_lang", "en")
    return person


def claim_row(console: ConsoleWorld, claim_id: str) -> dict[str, object]:
    with console.engine.connect() as conn:
        return dict(conn.execute(sa.select(t.claims).where(t.claims.c.id == claim_id)).one()._mapping)


# ----------------------------------------------------------------------------------------------- list
def test_the_list_shows_each_claim_newest_first_with_money_and_shop_time(console: ConsoleWorld,
                                                                          seeded: Seeded) -> None:
    page = console.sign_in("agent").get("/console/claims")
    assert page.status_code == 200 and 'aria-current="page">理赔' in page.text
    assert table_rows(page.text) == [
        (seeded.loss, ["ZT6002", "中通", "丢失", "已同意", "¥30.00", "¥0.00", "2026-11-04 12:00"]),
        (seeded.damage, ["ZT6001", "中通", "破损", "草稿", "¥30.00", "¥0.00", "2026-11-03 12:00"])]
    assert element(page.text, "claims-count") == "共 2 条"
    assert f'href="/console/claims/{seeded.loss}"' in page.text


def test_the_filters_narrow_the_list_and_an_empty_result_says_so(console: ConsoleWorld, seeded: Seeded) -> None:
    owner = console.sign_in("owner")
    by_status = owner.get("/console/claims", params={"status": "approved"}).text
    assert [r[0] for r in table_rows(by_status)] == [seeded.loss]
    assert '<option value="approved" selected>已同意</option>' in by_status
    by_type = owner.get("/console/claims", params={"type": "damage"}).text
    assert [r[0] for r in table_rows(by_type)] == [seeded.damage]
    none = owner.get("/console/claims", params={"status": "rejected", "type": "loss"}).text
    assert table_rows(none) == [] and element(none, "claims-empty") == "暂无理赔。"
    assert element(none, "claims-count") == "共 0 条" and 'id="claims"' not in none
    unknown = owner.get("/console/claims", params={"status": "lost-in-space"}).text
    assert [r[0] for r in table_rows(unknown)] == [seeded.loss, seeded.damage]


def test_the_list_in_english(console: ConsoleWorld, seeded: Seeded) -> None:
    page = english(console.sign_in("agent")).get("/console/claims").text
    assert 'lang="en"' in page and element(page, "claims-count") == "2 in all"
    assert [cells[2:4] for _, cells in table_rows(page)] == [["Loss", "Approved"], ["Damage", "Draft"]]


# ----------------------------------------------------------------------------------------------- detail
def test_a_draft_shows_its_facts_amount_basis_and_evidence(console: ConsoleWorld, seeded: Seeded) -> None:
    page = console.sign_in("agent").get(f"/console/claims/{seeded.damage}")
    assert page.status_code == 200, page.text
    html = page.text
    assert f'<a id="claim-case" href="/console/cases/{seeded.damage_case}">' in html
    assert (f'data-fragment="/console/claims/{seeded.damage}/body" data-live-cases="{seeded.damage_case}"'
            in html and '<script src="/console/static/claims.js" defer>' in html)
    assert f'<div id="claim-actions" data-fragment="/console/claims/{seeded.damage}/actions">' in html
    assert [element(html, i) for i in ("claim-waybill", "claim-carrier", "claim-type", "claim-status-badge",
                                       "claim-amount", "claim-basis", "claim-paid", "claim-deadline")] == [
        "ZT6001", "中通", "破损", "草稿", "¥30.00",
        "未保价：按实际损失赔付，有上限（损失 ¥110.00，运费 ¥10.00，上限 ¥30.00）", "¥0.00", "2026-12-03 12:00"]
    evidence = re.findall(r'<li data-file-id="([^"]+)">(.*?)</li>', html, re.S)
    assert [(file_id, text(body).split(" · ")[0]) for file_id, body in evidence] == [(seeded.photo, "验货照片")]
    assert (f'<img src="/v1/files/{seeded.photo}" alt="证据照片 box.png" width="160">' in html)
    assert 'id="evidence-file"' in html and 'id="evidence-upload"' in html  # evidence can be added to a draft
    assert 'id="evidence-as-documents"' not in html  # nothing was asked for
    assert re.findall(r'<option value="(\w+)">', html.split('id="claim-status-to"')[1].split("</select>")[0]) == [
        "closed"]  # a draft is filed with its own button, or closed
    assert '<button type="button" id="claim-file" class="primary" data-via="packet">' in html  # ZTO: no claim API
    assert '<label for="claim-carrier-ref">' in html
    assert element(html, "claim-payout-closed") == "承运商同意后可登记赔付。"
    assert f'href="/v1/claims/{seeded.damage}/packet.pdf"' in html
    assert f'href="/v1/claims/{seeded.damage}/packet.json"' in html


def test_the_detail_in_english(console: ConsoleWorld, seeded: Seeded) -> None:
    html = english(console.sign_in("owner")).get(f"/console/claims/{seeded.loss}").text
    assert [element(html, i) for i in ("claim-type", "claim-status-badge", "claim-basis", "claim-filed",
                                       "claim-carrier-ref-value", "claim-approved-amount")] == [
        "Loss", "Approved", "Uninsured: the actual loss, capped (loss ¥110.00, freight ¥10.00, cap ¥30.00)",
        "2026-11-05 12:00 · packet by hand", "ZTO-C-9", "¥30.00"]
    assert 'id="claim-payout"' in html and 'data-timezone="Asia/Shanghai"' in html
    assert 'id="claim-file"' not in html  # filed already
    assert element(html, "evidence-empty") == "No evidence files yet."


def test_an_uploaded_file_sent_as_the_documents_asked_for_shows_in_the_body(console: ConsoleWorld,
                                                                           seeded: Seeded) -> None:
    agent = console.sign_in("agent")
    r = agent.api("POST", f"/v1/claims/{seeded.damage}/file", json={"via": "packet", "carrier_ref": "ZTO-C-1"})
    assert (r.status_code, r.json()["status"]) == (202, "filed"), r.text
    r = agent.api("POST", f"/v1/claims/{seeded.damage}/status",
                  json={"status": "waiting_on_documents", "documents": ["发票"], "message": "请补充发票"})
    assert (r.status_code, r.json()["status"]) == (200, "waiting_on_documents"), r.text
    body = agent.get(f"/console/claims/{seeded.damage}/body")
    assert body.status_code == 200 and "<html" not in body.text
    assert element(body.text, "claim-documents-requested") == "发票"
    assert 'id="evidence-file"' not in body.text  # the forms are the actions' part
    actions = agent.get(f"/console/claims/{seeded.damage}/actions").text
    assert '<input id="evidence-file" type="file" accept="image/jpeg,image/png,image/webp,application/pdf">' \
        in actions and '<label for="evidence-file">' in actions and 'id="evidence-upload"' in actions
    assert 'data-status="waiting_on_documents"' in actions and "<html" not in actions

    invoice = png(rgb=(10, 200, 10))
    r = agent.api("POST", "/v1/files", params={"name": "invoice.png"}, content=invoice,
                  headers={"Content-Type": "image/png"})
    assert r.status_code == 201, r.text
    file_id = r.json()["id"]
    r = agent.api("POST", f"/v1/claims/{seeded.damage}/documents", json={"file_ids": [file_id]})
    assert (r.status_code, r.json()["status"]) == (200, "in_review"), r.text

    body = agent.get(f"/console/claims/{seeded.damage}/body").text
    evidence = re.findall(r'<li data-file-id="([^"]+)">(.*?)</li>', body, re.S)
    assert [(i, text(b).split(" · ")[0]) for i, b in evidence] == [
        (seeded.photo, "验货照片"), (file_id, "已补充的材料")]
    assert f'<img src="/v1/files/{file_id}" alt="证据照片 invoice.png" width="160">' in body
    assert element(body, "claim-status-badge") == "审核中"
    assert agent.get(f"/v1/files/{file_id}").content == invoice


def test_evidence_added_to_a_draft_shows_in_the_body_and_the_packet(console: ConsoleWorld, seeded: Seeded) -> None:
    agent = console.sign_in("agent")
    r = agent.api("POST", "/v1/files", params={"name": "dent.png"}, content=png(rgb=(200, 10, 10)),
                  headers={"Content-Type": "image/png"})
    assert r.status_code == 201, r.text
    file_id = r.json()["id"]
    r = agent.api("POST", f"/v1/claims/{seeded.damage}/evidence", json={"file_ids": [file_id], "note": "dent"})
    assert (r.status_code, r.json()["status"]) == (200, "draft"), r.text  # evidence moves no status
    body = agent.get(f"/console/claims/{seeded.damage}/body").text
    evidence = re.findall(r'<li data-file-id="([^"]+)">(.*?)</li>', body, re.S)
    assert [(i, text(b).split(" · ")[0]) for i, b in evidence] == [(seeded.photo, "验货照片"), (file_id, "补充的证据")]
    packet = agent.get(f"/v1/claims/{seeded.damage}/packet.json").json()
    assert [f["id"] for f in packet["files"]] == [seeded.photo, file_id]
    # the other shop's file cannot be attached, and nothing is
    other = console.machine(1).post("/v1/files", params={"name": "x.png"}, content=png(rgb=(1, 2, 3)),
                                    headers={"Content-Type": "image/png", "Idempotency-Key": "other-shop-file-1"})
    refused = agent.api("POST", f"/v1/claims/{seeded.damage}/evidence", json={"file_ids": [other.json()["id"]]})
    assert refused.status_code == 422 and refused.json()["detail"].startswith("no file ")
    assert claim_row(console, seeded.damage)["evidence"]["files"] == [
        {"file_id": file_id, "added_at": claim_row(console, seeded.damage)["evidence"]["files"][0]["added_at"],
         "note": "dent"}]


def test_a_payout_entered_through_the_session_shows_on_the_claim_and_the_list(console: ConsoleWorld,
                                                                              seeded: Seeded) -> None:
    owner = console.sign_in("owner")
    r = owner.api("POST", f"/v1/claims/{seeded.loss}/payouts",
                  json={"amount_fen": 3000, "reference": "BANK-1", "paid_at": "2026-12-20T00:00:00+08:00"})
    assert (r.status_code, r.json()["status"], r.json()["paid_fen"]) == (200, "paid", 3000), r.text
    body = owner.get(f"/console/claims/{seeded.loss}/body").text
    assert element(body, "claim-paid") == "¥30.00" and element(body, "claim-status-badge") == "已赔付"
    assert element(body, "claim-payouts") == "¥30.00，流水号 BANK-1，2026-12-20"
    actions = owner.get(f"/console/claims/{seeded.loss}/actions").text
    assert re.findall(r'<option value="(\w+)">', actions) == ["closed"] and 'id="claim-payout"' in actions
    rows = dict(table_rows(owner.get("/console/claims").text))
    assert rows[seeded.loss][3:6] == ["已赔付", "¥30.00", "¥30.00"]


def test_a_change_without_the_csrf_token_is_refused_and_writes_nothing(console: ConsoleWorld,
                                                                       seeded: Seeded) -> None:
    owner = console.sign_in("owner")
    before = claim_row(console, seeded.loss)
    r = owner.client.post(f"/v1/claims/{seeded.loss}/payouts", headers={"Idempotency-Key": "k" * 20},
                          json={"amount_fen": 3000, "reference": "BANK-2", "paid_at": "2026-12-20T00:00:00+08:00"})
    assert r.status_code == 403
    after = claim_row(console, seeded.loss)
    assert (after["status"], after["paid_fen"], after["version"]) == (before["status"], 0, before["version"])


# ----------------------------------------------------------------------------------------------- who sees what
def test_another_shops_claim_is_not_found(console: ConsoleWorld, seeded: Seeded) -> None:
    mine = console.sign_in("owner", shop=0)
    for path in (f"/console/claims/{seeded.other}", f"/console/claims/{seeded.other}/body",
                 f"/console/claims/{seeded.other}/actions", "/console/claims/clm_nothing",
                 f"/console/claims/{seeded.damage}/nothing"):
        r = mine.get(path)
        assert (r.status_code, "找不到这条记录。" in r.text) == (404, True), path
    theirs = console.sign_in("agent", shop=1)
    assert theirs.get(f"/console/claims/{seeded.damage}").status_code == 404
    assert [r[0] for r in table_rows(theirs.get("/console/claims").text)] == [seeded.other]


def test_the_warehouse_may_not_open_claims_and_a_stranger_is_sent_to_sign_in(console: ConsoleWorld,
                                                                             seeded: Seeded) -> None:
    warehouse = console.sign_in("warehouse")
    for path in ("/console/claims", f"/console/claims/{seeded.damage}", f"/console/claims/{seeded.damage}/body",
                 f"/console/claims/{seeded.damage}/actions"):
        r = warehouse.get(path)
        assert (r.status_code, "你的角色不能打开此页面。" in r.text) == (403, True), path
    r = console.anonymous().get(f"/console/claims/{seeded.damage}")
    assert (r.status_code, r.headers["location"]) == (303, f"/console/sign-in?next=/console/claims/{seeded.damage}")
