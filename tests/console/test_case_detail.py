"""One case's page: its facts, parcels, intercepts, settlement, return, claim and timeline in words;
the 拦截 button's state; the live fragment; another shop's case; roles and both languages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from lanjie.domain.states import ClaimType, InterceptReason, TrackingStatus
from lanjie.service import claims, returns
from lanjie.service.ids import utcnow
from lanjie.service.unit_of_work import UnitOfWork
from tests.console.conftest import ConsoleWorld, Person
from tests.console.test_cases import DEADLINE, seed

SHANGHAI = ZoneInfo("Asia/Shanghai")


def timeline(html: str) -> list[tuple[str, str]]:
    """(type, sentence) per timeline entry, the time taken off."""
    items = re.findall(r'<li data-type="([^"]+)"><time datetime="[^"]+">[^<]+</time> (.*?)</li>', html, re.S)
    return [(kind, text.strip()) for kind, text in items]


def section(html: str, ident: str) -> str:
    found = re.search(rf'<section class="card" id="{ident}".*?</section>', html, re.S)
    assert found is not None, ident
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(0)).split())


def fact(html: str, ident: str) -> str:
    found = re.search(rf'<dd id="fact-{ident}">(.*?)</dd>', html, re.S)
    assert found is not None, ident
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def button(html: str) -> str:
    found = re.search(r'<button type="button" id="intercept-button"[^>]*>', html)
    assert found is not None
    return " ".join(found.group(0).split())


def request_intercept(person: Person, case_id: str) -> str:
    r = person.api("POST", f"/v1/aftersales/{case_id}/intercepts", json={"type": "return_to_sender"})
    assert r.status_code == 202, r.text
    return str(r.json()["intercepts"][0]["id"])


def test_a_fresh_case_shows_its_facts_parcel_and_an_enabled_intercept_button(console: ConsoleWorld) -> None:
    case_id = seed(console.machine(), "ZT300000001", "A-1", channel_ref="R-77", reason="changed my mind",
                   deadline_at=DEADLINE.isoformat())
    page = console.sign_in("agent").get(f"/console/cases/{case_id}")
    assert page.status_code == 200 and "<h1>售后单 A-1</h1>" in page.text
    facts = {name: fact(page.text, name) for name in ("order", "type", "channel", "channel-ref", "refund", "status",
                                                      "platform-status", "deadline", "arbitration", "reason")}
    assert facts == {"order": "A-1", "type": "发货后仅退款", "channel": "API", "channel-ref": "R-77",
                     "refund": "¥59.00", "status": "待处理", "platform-status": "—", "deadline": "2031-05-01 10:30",
                     "arbitration": "无", "reason": "changed my mind"}
    assert section(page.text, "parcels") == ("包裹 运单 ZT300000001（中通） 物流状态: 待揽收 最后更新 — "
                                             "包裹 ZT300000001 的商品 SKU 商品 数量 单价 TEE-01 cotton tee 1 ¥59.00")
    assert section(page.text, "settlement") == "退款结算 暂无退款"
    assert section(page.text, "return-progress") == "退回进度 暂无退回中的包裹"
    assert section(page.text, "intercepts") == "拦截记录 暂无拦截记录"
    assert button(page.text) == ('<button type="button" id="intercept-button" class="primary" '
                                 'aria-controls="intercept-preview">')
    assert '<p id="intercept-result" role="status" aria-live="polite" data-state=""></p>' in page.text
    assert f'<div id="case-live" data-fragment="/console/cases/{case_id}/body" data-live-cases="{case_id}">' \
        in page.text
    # the result line lives outside the fragment, so a live refresh never wipes it
    assert page.text.index('id="intercept-result"') < page.text.index('id="case-live"')
    assert timeline(page.text) == [("aftersale.created", "售后单已创建：发货后仅退款，申请退款 ¥59.00")]


def test_a_refused_intercept_reads_as_sentences_and_the_button_offers_a_new_try(console: ConsoleWorld) -> None:
    case_id = seed(console.machine(), "ZT300000001", "A-1")
    agent = console.sign_in("agent")
    icpt = request_intercept(agent, case_id)
    with UnitOfWork(console.container.for_shop(console.shops[0].id), utcnow()) as uow:
        case = uow.case(console.shops[0].id, case_id)
        assert case is not None
        case.intercept_refused(icpt, reason=InterceptReason.out_for_delivery, message="派件中，无法拦截", now=uow.now)
        uow.save(case)
        uow.commit()
    page = agent.get(f"/console/cases/{case_id}")
    assert timeline(page.text) == [
        ("aftersale.created", "售后单已创建：发货后仅退款，申请退款 ¥59.00"),
        ("aftersale.status_changed", "状态：待处理 → 拦截中"),
        ("intercept.requested", "已向快递公司申请拦截 ZT300000001（原址退回）"),
        ("intercept.refused", "快递公司拒绝拦截 ZT300000001：正在派件"),
        ("aftersale.status_changed", "状态：拦截中 → 需人工处理"),
    ]
    asked = datetime.fromisoformat(agent.get(f"/v1/aftersales/{case_id}").json()["intercepts"][0]["created_at"])
    assert section(page.text, "intercepts") == (
        "拦截记录 运单号 状态 方式 原因 费用 申请时间 ZT300000001 快递拒绝 原址退回 正在派件 派件中，无法拦截 — "
        + asked.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"))
    assert fact(page.text, "status") == "需人工处理" and fact(page.text, "attention") == "拦截被拒"
    # the carrier's refusal is final for this attempt; the parcel may be tried again
    assert button(page.text) == ('<button type="button" id="intercept-button" class="primary" '
                                 'aria-controls="intercept-preview">')
    assert '<p id="intercept-blocked" class="muted" hidden></p>' in page.text


def test_settlement_return_and_claim_appear_once_the_parcel_turned_back(console: ConsoleWorld) -> None:
    shop = console.shops[0].id
    case_id = seed(console.machine(), "ZT300000001", "A-1")
    agent = console.sign_in("agent")
    icpt = request_intercept(agent, case_id)
    settings = console.container.settings
    with UnitOfWork(console.container.for_shop(shop), utcnow()) as uow:
        case = uow.case(shop, case_id)
        assert case is not None
        case.intercept_acknowledged(icpt, task_id="T-1", now=uow.now, fee={"amount_minor": 300, "currency": "CNY"})
        case.intercept_succeeded(icpt, now=uow.now, evidence={"query": "returning"})
        (leg,) = returns.start_legs(uow, case, settings)
        shipment = uow.shipment(shop, case.shipment_ids[0])
        assert shipment is not None
        claim = claims.draft(uow, leg, shipment, ClaimType.loss, loss_fen=5900, settings=settings)
        uow.save(case)
        uow.commit()
    page = agent.get(f"/console/cases/{case_id}")
    refund_no = re.search(r'<dd class="refund-no">([^<]+)</dd>', page.text)
    assert refund_no is not None
    assert section(page.text, "settlement") == f"退款结算 退款状态 待处理 退款金额 ¥59.00 退款单号 {refund_no.group(1)}"
    progress = section(page.text, "return-progress")
    assert progress.startswith("退回进度 运单号 状态 最后扫描 预计到达 入库时间 验货 ZT300000001 退回中 ")
    assert progress.endswith(" — —")
    assert f'<a href="/console/claims/{claim.id}">理赔 {claim.id}：丢失，草稿，金额 ¥36.00</a>' in page.text
    assert "¥3.00" in section(page.text, "intercepts") and "拦截成功，已退回" in section(page.text, "intercepts")
    assert [kind for kind, _ in timeline(page.text)] == [
        "aftersale.created", "aftersale.status_changed", "intercept.requested", "intercept.submitted",
        "intercept.succeeded", "aftersale.status_changed", "refund.pending", "return.started", "claim.drafted"]
    sentences = dict(timeline(page.text))
    assert sentences["intercept.submitted"] == "快递公司已受理拦截 ZT300000001"
    assert sentences["intercept.succeeded"] == "包裹 ZT300000001 已拦截成功，正在退回"
    assert sentences["refund.pending"] == f"退款 ¥59.00 待处理（{refund_no.group(1)}）"
    assert sentences["claim.drafted"] == "理赔草稿：丢失，金额 ¥36.00"
    assert sentences["return.started"].startswith("包裹 ZT300000001 开始退回，预计 ")
    # nothing left to intercept: the button is off and says why
    assert 'id="intercept-button" class="primary" disabled aria-describedby="intercept-blocked"' in page.text
    assert '<p id="intercept-blocked" class="muted">当前状态不能拦截：退款中</p>' in page.text


def test_the_button_is_off_for_a_delivered_parcel_and_for_a_return(console: ConsoleWorld) -> None:
    shop = console.shops[0].id
    m = console.machine()
    delivered = seed(m, "ZT300000001", "A-1")
    a_return = seed(m, "ZT300000002", "A-2", kind="return_refund")
    with UnitOfWork(console.container.for_shop(shop), utcnow()) as uow:
        parcel = uow.shipment_by_waybill(shop, "ZT300000001")
        assert parcel is not None
        parcel.apply_tracking(TrackingStatus.delivered, datetime(2026, 1, 2, 3, 4, tzinfo=UTC), [])
        uow.save(parcel)
        uow.commit()
    agent = console.sign_in("agent")
    page = agent.get(f"/console/cases/{delivered}")
    assert '<p id="intercept-blocked" class="muted">不能拦截：已签收</p>' in page.text
    assert "物流状态: 已签收 最后更新 2026-01-02 11:04" in section(page.text, "parcels")
    assert timeline(page.text)[-1] == ("shipment.tracking_updated", "物流更新 ZT300000001：已签收")
    page = agent.get(f"/console/cases/{a_return}")
    assert '<p id="intercept-blocked" class="muted">只有发货后仅退款的售后单可以拦截</p>' in page.text


def test_the_body_fragment_is_the_changing_part_alone(console: ConsoleWorld) -> None:
    case_id = seed(console.machine(), "ZT300000001", "A-1")
    agent = console.sign_in("agent")
    before = agent.get(f"/console/cases/{case_id}/body")
    assert before.status_code == 200
    assert before.text.startswith('<div id="case-state" hidden data-interceptable="ZT300000001" data-blocked="">')
    assert "<html" not in before.text and 'id="intercept-result"' not in before.text
    request_intercept(agent, case_id)
    after = agent.get(f"/console/cases/{case_id}/body")
    assert after.text.startswith(
        '<div id="case-state" hidden data-interceptable="" data-blocked="不能拦截：已有拦截在进行">')
    assert [k for k, _ in timeline(after.text)] == ["aftersale.created", "aftersale.status_changed",
                                                     "intercept.requested"]


def test_unknown_event_types_show_their_name(console: ConsoleWorld) -> None:
    from lanjie.console.case_timeline import Sentences
    from lanjie.console.messages import Translator
    from lanjie.console.web import Formats

    words = Sentences(Translator("en"), Formats("Asia/Shanghai"), {"icp_1": "ZT1"})
    assert words({"type": "carrier.something_new", "payload": {}}) == "carrier.something_new"
    assert words({"type": "intercept.failed", "subject_id": "icp_1", "payload": {"reason": "missed"}}) == \
        "The intercept of ZT1 failed: delivered before the stop took effect"
    assert words({"type": "aftersale.arbitration_changed", "payload": {"from": "none", "to": "requested"}}) == \
        "Platform: arbitration changed from None to Requested by the buyer"
    assert words({"type": "aftersale.deadline_changed", "payload": {
        "from": None, "to": (DEADLINE + timedelta(hours=1)).isoformat()}}) == \
        "Platform: deadline changed from — to 2031-05-01 11:30"
    assert words({"type": "return.received", "payload": {"waybill_no": "ZT1"}}) == "Return of ZT1: Received"


def test_another_shops_case_is_not_found(console: ConsoleWorld) -> None:
    theirs = seed(console.machine(1), "ZT900000009", "OTHER-1")
    agent = console.sign_in("agent")
    for path in (f"/console/cases/{theirs}", f"/console/cases/{theirs}/body", "/console/cases/as_nope"):
        r = agent.get(path)
        assert r.status_code == 404 and "<h1>找不到售后单</h1>" in r.text and "OTHER-1" not in r.text, path


def test_the_warehouse_may_not_open_a_case_and_strangers_sign_in_first(console: ConsoleWorld) -> None:
    case_id = seed(console.machine(), "ZT300000001", "A-1")
    for path in (f"/console/cases/{case_id}", f"/console/cases/{case_id}/body"):
        refused = console.sign_in("warehouse").get(path)
        assert refused.status_code == 403 and "A-1" not in refused.text
        r = console.anonymous().get(path)
        assert (r.status_code, r.headers["location"]) == (303, f"/console/sign-in?next={path}")


def test_the_case_in_english(console: ConsoleWorld) -> None:
    case_id = seed(console.machine(), "ZT300000001", "A-1", deadline_at=DEADLINE.isoformat())
    agent = console.sign_in("owner")
    agent.client.cookies.set("lanjie_lang", "en")
    request_intercept(agent, case_id)
    page = agent.get(f"/console/cases/{case_id}")
    assert 'lang="en"' in page.text and "<h1>Case A-1</h1>" in page.text
    assert fact(page.text, "type") == "Refund only (shipped)" and fact(page.text, "status") == "Intercepting"
    assert fact(page.text, "deadline") == "2031-05-01 10:30" and fact(page.text, "refund") == "¥59.00"
    assert timeline(page.text) == [
        ("aftersale.created", "Case opened: Refund only (shipped), refund asked ¥59.00"),
        ("aftersale.status_changed", "Status: Open → Intercepting"),
        ("intercept.requested", "Asked the carrier to intercept ZT300000001 (Return to sender)"),
    ]
    assert '<p id="intercept-blocked" class="muted">Cannot intercept: already has an intercept</p>' in page.text
    assert "拦截记录" not in page.text
    missing = agent.get("/console/cases/as_nope")
    assert missing.status_code == 404 and "<h1>Case not found</h1>" in missing.text
