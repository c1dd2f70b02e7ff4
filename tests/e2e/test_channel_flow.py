"""Sales platforms end to end: the platform simulator pushes, lanjie decides by rule, intercepts and settles.

lanjie's API and worker run on a real port with the sandbox mounted; the Douyin and Taobao simulators
push to lanjie's callback URLs and answer its calls over HTTP, in their own formats.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.live import Live, start_live, stop_live

ORDER = "6900000000000000001"
WAYBILL = "ZT6000000001"
ALL_DAY = {"opens": "00:00", "closes": "00:00"}  # the tests must not depend on the hour they run at


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    server = start_live(database_url, tmp_path, policy="on_accept")
    yield server
    stop_live(server)


def connect(live: Live, platform: str) -> dict[str, str]:
    """Give lanjie the simulator's test shop, and the simulator lanjie's callback URL."""
    creds = live.client.get("/sandbox/control/platforms").json()[platform]["test_credentials"]
    r = live.post("/v1/channel-accounts", {"channel": platform, "credentials": creds})
    assert r.status_code == 201, r.text
    r2 = live.client.post(f"/sandbox/control/platforms/{platform}/shops",
                          json={"app_key": creds["app_key"], "push_url": r.json()["callback_url"]})
    assert r2.status_code in (200, 201), r2.text
    return creds


def platform_case(live: Live, platform: str, case_id: int) -> dict[str, Any]:
    r = live.client.get(f"/sandbox/control/platforms/{platform}/aftersales/{case_id}")
    assert r.status_code == 200, r.text
    return r.json()


def lanjie_case(live: Live, channel_ref: str, channel: str = "douyin") -> dict[str, Any] | None:
    items = live.client.get("/v1/aftersales", params={"channel": channel}).json()["items"]
    found = [c for c in items if c["channel_ref"] == channel_ref]
    return live.case(found[0]["id"]) if found else None


def test_a_douyin_refund_only_request_in_transit_is_intercepted_by_rule_and_approved_before_its_deadline(
        live: Live) -> None:
    live.parcel(WAYBILL, "in_transit")
    shipment = live.ship(WAYBILL, ORDER, price_fen=5900)
    live.tracked(shipment["id"], "in_transit")
    connect(live, "douyin")
    r = live.client.put("/v1/rules", json={"rules": [
        {"name": "douyin in transit", "channels": ["douyin"], "service_hours": ALL_DAY}]})
    assert r.status_code == 200, r.text

    r = live.client.post("/sandbox/control/platforms/douyin/aftersales", json={
        "order_id": ORDER, "type": "refund_only_shipped", "refund_fen": 5900, "waybill_no": WAYBILL,
        "company_code": "zhongtong", "deadline_seconds": 48 * 3600})
    assert r.status_code == 201, r.text
    ref, deadline = str(r.json()["aftersale_id"]), r.json()["status_deadline"]

    settled = live.wait_for(lambda: (c := lanjie_case(live, ref)) and c["status"] == "completed" and c)
    on_platform = platform_case(live, "douyin", int(ref))
    # Nobody clicked: the rule intercepted, the carrier accepted, the refund was agreed on Douyin (201).
    assert [d["verdict"] for d in settled["decisions"]] == ["intercept"]
    assert {c["condition"]: c["held"] for c in settled["decisions"][0]["evidence"]["checks"]} == {
        "refund_only_shipped": True, "full_amount": True, "in_transit": True, "not_shared": True,
        "carrier_supports": True, "service_hours": True, "fee_ceiling": True}
    assert [i["status"] for i in settled["intercepts"]] == ["submitted"]
    assert (settled["resolution"], settled["refund"]["status"], settled["channel"]) == (
        "intercepted_refund", "succeeded", "douyin")
    assert on_platform["refund_paid"] is True and on_platform["auto_agreed_on_timeout"] is False
    assert datetime.fromisoformat(on_platform["refund_paid_at"]).timestamp() < deadline
    assert [(o["actor"], o["action"], o["outcome"]) for o in on_platform["operations"]] == [
        ("merchant", "operate 201", "ok")], on_platform["operations"]
    assert settled["arbitration"] == "none"
    assert datetime.fromisoformat(settled["timeline"][0]["at"]).timestamp() < deadline


def test_a_taobao_refund_gets_the_sellers_intercept_commitment_and_is_agreed_once_the_parcel_turns_back(
        database_url: str, tmp_path: Path) -> None:
    live = start_live(database_url, tmp_path, policy="on_turned_back")
    try:
        order, waybill = "3100000000000001", "ZT6000000002"
        live.parcel(waybill, "in_transit")
        live.tracked(live.ship(waybill, order, price_fen=5900)["id"], "in_transit")
        connect(live, "taobao")
        live.client.put("/v1/rules", json={"rules": [{"name": "all", "service_hours": ALL_DAY}]})
        r = live.client.post("/sandbox/control/platforms/taobao/aftersales", json={
            "order_id": order, "type": "refund_only_shipped", "refund_fen": 5900, "waybill_no": waybill,
            "deadline_seconds": 48 * 3600})
        assert r.status_code == 201, r.text
        ref = str(r.json()["refund_id"])

        # The carrier accepted: lanjie commits on Taobao to intercept itself (5 days, the refund clock pauses).
        committed = live.wait_for(lambda: (c := platform_case(live, "taobao", int(ref)))["intercept"] and c)
        assert committed["intercept"] == "INTERCEPT_APPLY"
        assert [(o["actor"], o["action"], o["outcome"]) for o in committed["operations"]] == [
            ("merchant", "rp.refund.intercept", "ok")], committed["operations"]

        DAY = 24 * 3600
        live.advance(2 * DAY)  # past the first 48 h: without the commitment the platform would have paid
        settled = live.wait_for(lambda: (c := lanjie_case(live, ref, "taobao")) and c["status"] == "completed" and c)
        on_platform = platform_case(live, "taobao", int(ref))
        assert (settled["resolution"], settled["intercepts"][0]["status"]) == ("intercepted_refund", "succeeded")
        assert on_platform["refund_paid"] is True and on_platform["auto_agreed_on_timeout"] is False
        assert [(o["actor"], o["action"], o["outcome"]) for o in on_platform["operations"]
                if o["actor"] == "merchant"] == [("merchant", "rp.refund.intercept", "ok"),
                                                 ("merchant", "rp.refunds.agree", "ok")], on_platform["operations"]
        assert on_platform["intercept"] == "INTERCEPT_SUCCESS"
        assert settled["platform_intercept"] in ("applied", "succeeded")  # Taobao's own view, followed
    finally:
        stop_live(live)


def douyin_after_sale(live: Live, waybill: str, order: str, **extra: Any) -> str:
    r = live.client.post("/sandbox/control/platforms/douyin/aftersales", json={
        "order_id": order, "type": "refund_only_shipped", "refund_fen": 5900, "waybill_no": waybill,
        "company_code": "zhongtong", "deadline_seconds": 48 * 3600, **extra})
    assert r.status_code == 201, r.text
    return str(r.json()["aftersale_id"])


def staged_douyin(live: Live, n: int) -> tuple[str, str]:
    waybill, order = f"ZT61000000{n:02d}", f"69100000000000000{n:02d}"
    live.parcel(waybill, "in_transit")
    live.tracked(live.ship(waybill, order, price_fen=5900)["id"], "in_transit")
    return waybill, order


def test_a_buyer_who_cancels_or_changes_the_type_is_followed_and_no_rule_intercepts(live: Live) -> None:
    connect(live, "douyin")
    waybill, order = staged_douyin(live, 1)
    ref = douyin_after_sale(live, waybill, order)
    opened = live.wait_for(lambda: lanjie_case(live, ref))
    assert (opened["status"], opened["type"], opened["platform_status"]) == (
        "open", "refund_only_shipped", "awaiting_merchant")
    live.client.post(f"/sandbox/control/platforms/douyin/aftersales/{ref}/buyer",
                     json={"action": "change_type", "to": "return_refund"})
    changed = live.wait_for(lambda: (c := lanjie_case(live, ref)) and c["type"] == "return_refund" and c)
    assert "aftersale.type_changed" in [e["type"] for e in changed["timeline"]]
    live.client.post(f"/sandbox/control/platforms/douyin/aftersales/{ref}/buyer", json={"action": "cancel"})
    closed = live.wait_for(lambda: (c := lanjie_case(live, ref)) and c["status"] == "cancelled" and c)
    assert (closed["resolution"], closed["intercepts"], closed["refunds"]) == ("buyer_cancelled", [], [])


def test_a_case_nobody_settles_is_put_before_a_person_before_its_deadline_and_its_timeout_is_recorded(
        live: Live) -> None:
    connect(live, "douyin")
    # A margin as long as the whole window: the watch fires at once (lanjie's clock is real, the platform's sim).
    live.client.put("/v1/rules", json={"rules": [], "deadline_margin_minutes": 72 * 60})
    waybill, order = staged_douyin(live, 2)
    ref = douyin_after_sale(live, waybill, order)
    alerted = live.wait_for(lambda: (c := lanjie_case(live, ref)) and c["attention"] == "deadline" and c)
    assert alerted["status"] == "needs_attention" and alerted["deadline_at"] is not None
    assert "aftersale.deadline_alert" in [e["type"] for e in alerted["timeline"]]
    listed = live.client.get("/v1/aftersales", params={"needs_person": "true"}).json()["items"]
    assert [c["id"] for c in listed] == [alerted["id"]]

    live.advance(49 * 3600)  # nobody acted: the platform agrees by itself and pays
    timed_out = live.wait_for(lambda: (c := lanjie_case(live, ref)) and c["status"] == "completed" and c)
    assert (timed_out["resolution"], timed_out["refund"]["status"]) == ("timeout_refund", "succeeded")
    assert "aftersale.timed_out" in [e["type"] for e in timed_out["timeline"]]
    assert platform_case(live, "douyin", int(ref))["auto_agreed_on_timeout"] is True


def test_a_case_only_the_back_office_may_settle_goes_to_a_person_with_the_platforms_reason(live: Live) -> None:
    connect(live, "douyin")
    live.client.put("/v1/rules", json={"rules": [{"name": "all", "service_hours": ALL_DAY}]})
    waybill, order = staged_douyin(live, 3)
    ref = douyin_after_sale(live, waybill, order, back_office_only=True)
    stuck = live.wait_for(lambda: (c := lanjie_case(live, ref)) and c["attention"] == "refund_failed" and c)
    assert stuck["status"] == "needs_attention"
    assert stuck["refunds"][0]["status"] == "failed"
    failed = [e for e in stuck["timeline"] if e["type"] == "refund.failed"]
    assert "needs_person" in failed[0]["payload"]["message"] and "11001" in failed[0]["payload"]["message"]
    assert platform_case(live, "douyin", int(ref))["refund_paid"] is False


def test_arbitration_is_tracked_and_the_evidence_pack_holds_the_carriers_answers(
        database_url: str, tmp_path: Path) -> None:
    live = start_live(database_url, tmp_path, policy="on_received")  # nothing settles before the warehouse
    try:
        connect(live, "douyin")
        waybill, order = staged_douyin(live, 4)
        ref = douyin_after_sale(live, waybill, order, buyer={"escalate_if_unanswered_seconds": 3600})
        case = live.wait_for(lambda: lanjie_case(live, ref))
        r = live.post(f"/v1/aftersales/{case['id']}/intercepts", {"type": "return_to_sender"})
        assert r.status_code == 202, r.text
        live.wait_for(lambda: live.case(case["id"])["intercepts"][0]["status"] == "submitted")
        live.advance(2 * 3600)  # the buyer heard nothing for an hour and asked the platform to step in
        disputed = live.wait_for(lambda: (c := lanjie_case(live, ref)) and c["arbitration"] != "none" and c)
        assert disputed["arbitration"] in ("requested", "in_review", "evidence_requested")
        changes = [e["payload"] for e in disputed["timeline"] if e["type"] == "aftersale.arbitration_changed"]
        assert changes[0]["from"] == "none"
        pack = live.client.get(f"/v1/aftersales/{case['id']}/evidence").json()
        assert [x["operation"] for x in pack["intercept_answers"]][:1] == ["intercept"]
        assert pack["parcels"][0]["waybill_no"] == waybill and pack["parcels"][0]["tracking_events"]
        assert waybill in pack["summary"]["zh-CN"] and waybill in pack["summary"]["en"]
        assert pack["platform_exchanges"] and all(
            "SANDBOXDYSECRET" not in x["request_body"] + x["url"] for x in pack["platform_exchanges"])
    finally:
        stop_live(live)


def test_a_forged_push_is_refused_and_a_replayed_one_is_stored_once(live: Live) -> None:
    connect(live, "douyin")
    url = live.client.get("/v1/channel-accounts").json()["items"][0]["callback_url"].removeprefix(live.base)
    body = b'[{"tag":"200","msg_id":"m-1","data":"{\\"aftersale_id\\":\\"1\\"}"}]'
    forged = live.client.post(url, content=body, headers={"app-id": "SANDBOXDYKEY", "event-sign": "0" * 32,
                                                         "content-type": "application/json"})
    assert (forged.status_code, forged.headers["content-type"]) == (401, "application/problem+json")
    import hashlib
    sign = hashlib.md5(b"SANDBOXDYKEY" + body + b"SANDBOXDYSECRET").hexdigest()
    headers = {"app-id": "SANDBOXDYKEY", "event-sign": sign, "content-type": "application/json"}
    first, again = (live.client.post(url, content=body, headers=headers) for _ in range(2))
    assert (first.status_code, first.json(), again.status_code, again.json()) == (
        200, {"code": 0, "msg": "success"}, 200, {"code": 0, "msg": "success"})
    import sqlalchemy as sa

    from lanjie.store import tables as t
    with live.container.engine.connect() as conn:
        rows = conn.execute(sa.select(t.inbox.c.carrier)).scalars().all()
    assert rows == ["channel:douyin"]


def test_a_person_rejects_on_douyin_and_the_buyers_escalation_is_followed(live: Live) -> None:
    connect(live, "douyin")
    waybill, order = staged_douyin(live, 5)
    ref = douyin_after_sale(live, waybill, order, buyer={"escalate_after_rejection_seconds": 3600})
    case = live.wait_for(lambda: lanjie_case(live, ref))
    r = live.post(f"/v1/aftersales/{case['id']}/reject", {
        "reason": "商品已发出，请拒收", "reason_code": "1", "evidence": ["https://e.example/waybill.jpg"]})
    assert (r.status_code, r.json()["status"]) == (202, "open"), r.text  # refused on Douyin first
    # The platform's own word that it is rejected may be taken before the call's answer is recorded: wait for both.
    rejected = live.wait_for(lambda: (c := live.case(case["id"]))["status"] == "rejected" and any(
        e["type"] == "aftersale.platform_call" for e in c["timeline"]) and c, timeout=5)
    assert rejected["resolution"] == "rejected"
    calls = [e["payload"] for e in rejected["timeline"] if e["type"] == "aftersale.platform_call"]
    assert calls == [{"aftersale_id": case["id"], "operation": "reject_refund", "ok": True, "message": ""}]
    on_platform = platform_case(live, "douyin", int(ref))
    assert [(o["actor"], o["action"], o["outcome"]) for o in on_platform["operations"]] == [
        ("merchant", "operate 202", "ok")]
    live.advance(2 * 3600)  # the buyer asks the platform to step in
    disputed = live.wait_for(lambda: (c := live.case(case["id"]))["arbitration"] != "none" and c)
    assert disputed["status"] == "rejected" and disputed["arbitration"] in ("requested", "in_review")


def test_a_person_refunds_a_rest_case_at_once_and_cannot_reject_it_afterwards(live: Live) -> None:
    case = live.staged_case("ZT6200000001", "O-62", "out_for_delivery")
    r = live.post(f"/v1/aftersales/{case['id']}/refund", {"decision": "refund_now", "note": "VIP buyer"})
    assert r.status_code == 200, r.text
    done = live.wait_for(lambda: (c := live.case(case["id"]))["status"] == "completed" and c)
    assert (done["resolution"], done["refund"]["evidence"]["note"]) == ("refund_without_intercept", "VIP buyer")
    r = live.post(f"/v1/aftersales/{case['id']}/reject", {"reason": "too late"})
    assert (r.status_code, r.json()["type"]) == (409, "/problems/illegal-transition")
