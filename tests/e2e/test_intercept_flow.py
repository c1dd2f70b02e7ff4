"""The intercept-to-refund core end to end: lanjie's API and worker against the sandbox's Kuaidi100 twin."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from lanjie.api.responses import InterceptsAcceptedOut, PreviewOut
from lanjie.service import shops
from lanjie.store import tables as t
from tests.e2e.live import K100_CUSTOMER, K100_KEY, K100_SALT, K100_SECRET, Live, shipment_body, start_live, stop_live

DAY = 24 * 3600


def _intercept(live: Live, case_id: str, body: dict | None = None) -> dict:
    r = live.post(f"/v1/aftersales/{case_id}/intercepts", body or {"type": "return_to_sender"})
    assert r.status_code == 202, r.text
    InterceptsAcceptedOut.model_validate(r.json())
    return r.json()


def _status(live: Live, case_id: str, status: str) -> dict:
    return live.wait_for(lambda: (c := live.case(case_id))["status"] == status and c)


def _types(case: dict) -> list[str]:
    return [e["type"] for e in case["timeline"]]


def _sequence(case: dict) -> list[str]:
    """The case's timeline as event types, status changes spelled out, tracking updates left out."""
    return [f"status:{e['payload']['from']}->{e['payload']['to']}" if e["type"] == "aftersale.status_changed"
            else e["type"] for e in case["timeline"] if e["type"] != "shipment.tracking_updated"]


def _refunds(live: Live) -> list[tuple[str, str, str, int]]:
    with live.container.engine.connect() as conn:
        return [(r.aftersale_id, r.refund_no, r.status, r.amount_fen) for r in conn.execute(sa.select(t.refunds))]


def _count(live: Live, table: sa.Table, **where: object) -> int:
    with live.container.engine.connect() as conn:
        q = sa.select(sa.func.count()).select_from(table)
        for k, v in where.items():
            q = q.where(table.c[k] == v)
        return conn.execute(q).scalar_one()


def test_turned_back_parcel_settles_the_refund_by_itself(live: Live) -> None:
    case = live.staged_case("ZT100000001", "O-1", "in_transit")
    assert case["status"] == "open"

    answer = _intercept(live, case["id"])
    assert [(i["status"], i["waybill_no"]) for i in answer["intercepts"]] == [("requested", "ZT100000001")]
    submitted = _status(live, case["id"], "intercepting")
    live.wait_for(lambda: live.case(case["id"])["intercepts"][0]["status"] == "submitted")
    icpt = live.case(case["id"])["intercepts"][0]
    assert icpt["task_id"].startswith("K100T") and icpt["reason"] is None
    assert submitted["refund"] is None

    live.advance(2 * DAY)  # past the propagation delay and the next scans: the parcel turns back
    done = _status(live, case["id"], "completed")
    assert done["resolution"] == "intercepted_refund"
    assert done["intercepts"][0]["status"] == "succeeded"
    refund = done["refund"]
    assert refund["status"] == "succeeded" and refund["amount_fen"] == 5900
    assert refund["refund_no"] == "LJ" + case["id"].removeprefix("as_").upper() + "R1"
    assert refund["evidence"]["confirmation"]["confirmed_by"] == "carrier_query"
    assert done["parcels"][0]["tracking_status"] in ("returning", "returned")
    tracking = [e["payload"]["to"] for e in done["timeline"] if e["type"] == "shipment.tracking_updated"]
    assert tracking[0] == "returning" and set(tracking) <= {"returning", "returned"}  # the parcel's way back
    types = [x for x in _types(done) if x not in ("aftersale.status_changed", "shipment.tracking_updated")
             and not x.startswith("return.")]
    assert types == ["aftersale.created", "intercept.requested", "intercept.submitted", "intercept.succeeded",
                     "refund.pending", "refund.approved", "refund.succeeded", "aftersale.settled"]
    # The parcel's way back began with the successful intercept.
    assert [x for x in _types(done) if x.startswith("return.")][:1] == ["return.started"]
    assert _count(live, t.refunds) == 1
    ops = [x["operation"] for x in done["carrier_exchanges"]]
    assert ops[0] == "intercept" and "query_intercept" in ops
    assert all("TESTSECRET" not in x["request_body"] for x in done["carrier_exchanges"])


def test_carrier_refusal_is_shown_with_its_reason_and_sends_the_case_to_a_person(
        database_url: str, tmp_path: Path) -> None:
    # lanjie has heard nothing from the carrier yet (first push far away), so the carrier decides.
    live = start_live(database_url, tmp_path, sandbox={"first_push_seconds": 10 * DAY})
    try:
        live.parcel("ZT100000002", "delivered")
        live.ship("ZT100000002", "O-2")
        case = live.open_case("O-2", ["ZT100000002"])
        _intercept(live, case["id"])
        refused = _status(live, case["id"], "needs_attention")
        icpt = refused["intercepts"][0]
        assert (icpt["status"], icpt["reason"]) == ("refused", "already_delivered")
        assert refused["refund"] is None and _count(live, t.refunds) == 0
    finally:
        stop_live(live)


def test_parcel_delivered_before_the_stop_took_effect_ends_missed_without_refund(live: Live) -> None:
    case = live.staged_case("ZT100000003", "O-3", "at_destination")
    live.client.post("/sandbox/control/parcels/ZT100000003/outcome", json={"outcome": "missed"})
    _intercept(live, case["id"])
    # The forced miss decides as soon as the carrier has answered, so "submitted" may be gone by the first look.
    live.wait_for(lambda: live.case(case["id"])["intercepts"][0]["status"] in ("submitted", "failed"))
    live.advance(2 * DAY)
    missed = _status(live, case["id"], "needs_attention")
    icpt = missed["intercepts"][0]
    assert (icpt["status"], icpt["reason"]) == ("failed", "missed")
    assert missed["refund"] is None and _count(live, t.refunds) == 0


def test_on_accept_policy_refunds_at_the_carriers_acknowledgement(database_url: str, tmp_path: Path) -> None:
    live = start_live(database_url, tmp_path, policy="on_accept")
    try:
        case = live.staged_case("ZT100000004", "O-4", "in_transit")
        _intercept(live, case["id"])
        done = _status(live, case["id"], "completed")
        assert done["intercepts"][0]["status"] == "submitted"
        assert done["refund"]["evidence"]["trigger"] == "intercept_accepted"
        assert _sequence(done) == [
            "aftersale.created", "status:open->intercepting", "intercept.requested", "intercept.submitted",
            "status:intercepting->refunding", "refund.pending", "refund.approved", "refund.succeeded",
            "status:refunding->completed", "aftersale.settled"]
        # The parcel turning back later changes the intercept and starts its return, and refunds nothing more.
        live.advance(2 * DAY)
        back = live.wait_for(lambda: "return.returned" in _types(c := live.case(case["id"])) and c)
        assert _sequence(back) == _sequence(done) + ["intercept.succeeded", "return.started", "return.returned"]
        assert (back["status"], back["intercepts"][0]["status"]) == ("completed", "succeeded")
        refund_no = "LJ" + case["id"].removeprefix("as_").upper() + "R1"
        assert _refunds(live) == [(case["id"], refund_no, "succeeded", 5900)]
    finally:
        stop_live(live)


def test_on_received_policy_waits_for_the_warehouse(database_url: str, tmp_path: Path) -> None:
    live = start_live(database_url, tmp_path, policy="on_received")
    try:
        case = live.staged_case("ZT100000005", "O-5", "in_transit")
        _intercept(live, case["id"])
        live.wait_for(lambda: live.case(case["id"])["intercepts"][0]["status"] == "submitted")
        live.advance(2 * DAY)
        # Turned back and signed back at the sender: still no refund until the warehouse receives it.
        waiting = live.wait_for(lambda: (c := live.case(case["id"]))["status"] == "intercepted"
                                and "return.returned" in _types(c) and c)
        assert waiting["refund"] is None and _refunds(live) == []
        r = live.post(f"/v1/aftersales/{case['id']}/received", {})
        assert r.status_code == 200, r.text
        done = _status(live, case["id"], "completed")
        assert done["refund"]["evidence"]["trigger"] == "received"
        assert _sequence(done) == [
            "aftersale.created", "status:open->intercepting", "intercept.requested", "intercept.submitted",
            "intercept.succeeded", "status:intercepting->intercepted", "return.started", "return.returned",
            "aftersale.received", "status:intercepted->refunding", "refund.pending", "refund.approved",
            "refund.succeeded", "status:refunding->completed", "aftersale.settled"]
        refund_no = "LJ" + case["id"].removeprefix("as_").upper() + "R1"
        assert _refunds(live) == [(case["id"], refund_no, "succeeded", 5900)]
    finally:
        stop_live(live)


def test_a_shop_created_without_a_policy_refunds_when_the_parcel_turns_back(live: Live) -> None:
    shop, key = shops.create_shop(live.container.engine, "No policy given")
    with live.container.engine.begin() as conn:
        shops.upsert_carrier_account(conn, shop.id, "kuaidi100", {
            "key": K100_KEY, "customer": K100_CUSTOMER, "secret": K100_SECRET, "salt": K100_SALT})
    live.parcel("ZT100000008", "in_transit")
    assert live.post("/v1/shipments", shipment_body("ZT100000008", "O-8"), api_key=key).status_code == 201
    r = live.post("/v1/aftersales", {"order_id": "O-8", "type": "refund_only_shipped", "refund_fen": 5900,
                                     "waybill_nos": ["ZT100000008"]}, api_key=key)
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    r = live.post(f"/v1/aftersales/{case_id}/intercepts", {"type": "return_to_sender"}, api_key=key)
    assert r.status_code == 202, r.text

    def case() -> dict:
        answer = live.client.get(f"/v1/aftersales/{case_id}", headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    live.wait_for(lambda: case()["intercepts"][0]["status"] == "submitted")
    assert case()["refund"] is None  # the carrier's acknowledgement alone refunds nothing under the default
    live.advance(2 * DAY)
    done = live.wait_for(lambda: (c := case())["status"] == "completed" and "return.returned" in _types(c) and c)
    assert (done["settlement_policy"], done["refund"]["evidence"]["trigger"]) == ("on_turned_back",
                                                                                "intercept_succeeded")
    # The returned scan may land before or after the refund's own steps; everything else is in this order.
    assert [x for x in _sequence(done) if x != "return.returned"] == [
        "aftersale.created", "status:open->intercepting", "intercept.requested", "intercept.submitted",
        "intercept.succeeded", "status:intercepting->refunding", "refund.pending", "return.started",
        "refund.approved", "refund.succeeded", "status:refunding->completed", "aftersale.settled"]
    assert _types(done).count("return.returned") == 1
    assert _refunds(live) == [(case_id, "LJ" + case_id.removeprefix("as_").upper() + "R1", "succeeded", 5900)]


def test_intercepting_a_delivered_parcel_is_refused_and_writes_nothing(live: Live) -> None:
    case = live.staged_case("ZT100000006", "O-6", "delivered")
    before = (_count(live, t.events), _count(live, t.jobs), _count(live, t.intercepts))
    r = live.post(f"/v1/aftersales/{case['id']}/intercepts", {"type": "return_to_sender"})
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["rule"] == "already_delivered"
    assert "ZT100000006" in r.json()["detail"]
    assert (_count(live, t.events), _count(live, t.jobs), _count(live, t.intercepts)) == before
    assert live.case(case["id"])["status"] == "open"


@pytest.mark.parametrize("stage, reason", [("out_for_delivery", "out_for_delivery"),
                                           ("created", "not_picked_up")])
def test_preview_says_why_a_parcel_cannot_be_intercepted(live: Live, stage: str, reason: str) -> None:
    case = live.staged_case("ZT100000007", "O-7", stage, qty=2, refund_fen=5900)
    r = live.client.post(f"/v1/aftersales/{case['id']}/intercept-preview")
    assert r.status_code == 200
    (parcel,) = PreviewOut.model_validate(r.json()).model_dump(mode="json")["parcels"]
    assert (parcel["can_intercept"], parcel["reason"], parcel["tracking_status"]) == (False, reason, stage)
    assert parcel["shared_with_other_items"] is True and parcel["other_items_value_fen"] == 5900
