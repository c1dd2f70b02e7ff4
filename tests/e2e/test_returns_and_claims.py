"""Returns and claims end to end: an intercepted parcel lost or damaged on its way back is noticed,
claimed for the right amount under the shop's contract, filed, and its payout recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.live import Live, shipment_body, start_live, stop_live


def _intercepted_and_turned_back(live: Live, waybill: str, order: str, *, carrier: str,
                                 insured_fen: int | None = None) -> dict[str, Any]:
    live.parcel(waybill, "in_transit", carrier=carrier)
    body = shipment_body(waybill, order, carrier=carrier, price_fen=20_000)
    body["insured_fen"] = insured_fen
    r = live.post("/v1/shipments", body)
    assert r.status_code == 201, r.text
    live.tracked(r.json()["id"], "in_transit")
    case = live.open_case(order, [waybill], refund_fen=20_000)
    r = live.post(f"/v1/aftersales/{case['id']}/intercepts", {"type": "return_to_sender"})
    assert r.status_code == 202, r.text
    live.wait_for(lambda: live.case(case["id"])["intercepts"][0]["status"] == "submitted")
    for _ in range(48):  # an hour at a time until the stop took effect and the parcel turned back
        live.advance(3600)
        if live.case(case["id"])["parcels"][0]["tracking_status"] == "returning":
            break
    live.wait_for(lambda: live.case(case["id"])["status"] == "completed")
    return case


def _returns(live: Live, status: str) -> list[dict[str, Any]]:
    return live.client.get("/v1/returns", params={"status": status}).json()["items"]


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Any:
    server = start_live(database_url, tmp_path)
    yield server
    stop_live(server)


@pytest.mark.parametrize(("contract", "insured_fen", "amount", "rule"), [
    ({"rule": "capped_actual_loss"}, None, 3_600, "capped_actual_loss"),  # uninsured: 3× the 12-yuan freight
    ({"rule": "capped_actual_loss"}, 15_000, 15_000, "insured_value"),  # insured: up to the insured value
    ({"rule": "goods_value"}, None, 20_000, "goods_value"),  # the contract promises the goods' value
])
def test_a_parcel_lost_on_its_way_back_is_claimed_under_the_contract_filed_and_paid(
        live: Live, contract: dict[str, Any], insured_fen: int | None, amount: int, rule: str) -> None:
    r = live.client.put("/v1/carrier-contracts/sf", json=contract)
    assert r.status_code == 200, r.text
    case = _intercepted_and_turned_back(live, "SF7000000000001", "O-SF-1", carrier="sf:sf", insured_fen=insured_fen)
    (leg,) = live.wait_for(lambda: _returns(live, "returning") or _returns(live, "returned"))
    assert (leg["aftersale_id"], leg["waybill_no"]) == (case["id"], "SF7000000000001")

    r = live.client.post("/sandbox/control/parcels/SF7000000000001/inject", json={"kind": "lost"})
    assert r.status_code == 200, r.text
    (lost,) = live.wait_for(lambda: _returns(live, "lost"))
    (claim,) = live.wait_for(lambda: live.client.get("/v1/claims").json()["items"])
    assert (claim["type"], claim["status"], claim["amount_fen"], claim["basis"]["rule"]) == (
        "loss", "draft", amount, rule)
    assert (claim["aftersale_id"], claim["return_id"], claim["carrier"]) == (case["id"], lost["id"], "sf:sf")
    detail = live.client.get(f"/v1/claims/{claim['id']}").json()
    assert detail["online"] is False  # SF has no claim API: the packet goes by hand
    evidence = detail["evidence"]
    assert [a["operation"] for a in evidence["intercept_answers"]][:1] == ["intercept"]
    assert evidence["order"]["freight_fen"] == 1200 and evidence["order"]["insured_fen"] == insured_fen
    assert evidence["tracking"][0]["status"] == "lost"

    r = live.post(f"/v1/claims/{claim['id']}/file", {"via": "online"})
    assert (r.status_code, r.json()["rule"]) == (409, "not_supported")
    r = live.post(f"/v1/claims/{claim['id']}/file", {"via": "packet", "carrier_ref": "SFC-001"})
    assert (r.status_code, r.json()["status"], r.json()["filed_via"]) == (202, "filed", "packet")
    r = live.post(f"/v1/claims/{claim['id']}/status", {"status": "approved", "approved_fen": amount})
    assert r.json()["status"] == "approved", r.text
    r = live.post(f"/v1/claims/{claim['id']}/payouts", {"amount_fen": amount, "reference": "BANK-77",
                                                         "paid_at": "2026-12-20T10:00:00+08:00"})
    assert (r.json()["status"], r.json()["paid_fen"]) == ("paid", amount), r.text
    types = [e["type"] for e in live.case(case["id"])["timeline"] if e["type"].startswith(("claim.", "return."))]
    assert types[-6:] == ["return.lost", "claim.drafted", "claim.filed", "claim.approved", "claim.payout_recorded",
                          "claim.paid"]


def test_a_yunda_parcel_damaged_on_its_way_back_is_claimed_online_through_kuaidi100_and_followed_to_payment(
        database_url: str, tmp_path: Path) -> None:
    live = start_live(database_url, tmp_path, settings={"claim_poll_seconds": 0.3})
    try:
        waybill = "YD7000000000002"
        case = _intercepted_and_turned_back(live, waybill, "O-YD-2", carrier="kuaidi100:yunda")
        live.client.post("/sandbox/control/claims/terms", json={"waybill_no": waybill, "freight_minor": 1200})
        r = live.client.post(f"/sandbox/control/parcels/{waybill}/inject", json={"kind": "damaged"})
        assert r.status_code == 200, r.text
        (claim,) = live.wait_for(lambda: live.client.get("/v1/claims").json()["items"])
        assert (claim["type"], claim["amount_fen"], claim["basis"]["rule"]) == ("damage", 3_600, "capped_actual_loss")
        assert live.client.get(f"/v1/claims/{claim['id']}").json()["online"] is True  # Kuaidi100 work orders

        r = live.post(f"/v1/claims/{claim['id']}/file", {"via": "online"})
        assert r.status_code == 202, r.text
        filed = live.wait_for(lambda: (c := live.client.get(f"/v1/claims/{claim['id']}").json())["status"] != "draft"
                              and c)
        assert (filed["status"], filed["filed_via"]) == ("filed", "online") and filed["carrier_ref"]
        (at_carrier,) = live.client.get("/sandbox/control/claims", params={"waybill_no": waybill}).json()["claims"]
        # Kuaidi100's work order carries the goods' value (modityValue); the claim packet PDF goes as proof of it.
        assert (at_carrier["kind"], at_carrier["currency"], at_carrier["asked_minor"], at_carrier["evidence"]) == (
            "damage", "CNY", 20_000, ["proof_of_value"])

        live.client.post("/sandbox/control/claims/outcome", json={"waybill_no": waybill, "outcome": "approved",
                                                                   "approved_minor": 3_600})
        for _ in range(40):  # the carrier's review takes simulated days; lanjie asks and is told
            live.advance(24 * 3600)
            current = live.client.get(f"/v1/claims/{claim['id']}").json()
            if current["status"] in ("approved", "paid"):
                break
        approved = live.wait_for(lambda: (c := live.client.get(f"/v1/claims/{claim['id']}").json())["status"]
                                 in ("approved", "paid") and c)
        assert approved["approved_fen"] == 3_600
        r = live.post(f"/v1/claims/{claim['id']}/payouts", {"amount_fen": 3_600, "reference": "K100-PAY-1",
                                                             "paid_at": "2026-12-20T10:00:00+08:00"})
        assert (r.status_code, r.json()["status"], r.json()["paid_fen"]) == (200, "paid", 3_600), r.text
        ops = [x["operation"] for x in live.case(case["id"])["carrier_exchanges"]]
        claim_ops = [op for op in ops if "claim" in op]
        assert claim_ops[0] == "file_claim" and ops.count("file_claim") == 1 and ops[0] == "intercept"
        assert set(claim_ops[1:]) == {"claim_status"}  # then lanjie followed the work order until it was approved
    finally:
        stop_live(live)


def test_a_person_declares_a_silent_return_lost_and_its_claim_is_drafted_once(live: Live) -> None:
    case = _intercepted_and_turned_back(live, "SF7000000000003", "O-SF-3", carrier="sf:sf")
    (leg,) = live.wait_for(lambda: _returns(live, "returning"))
    r = live.post(f"/v1/returns/{leg['id']}/lost", {"note": "SF cannot find it after 10 days"})
    assert (r.status_code, r.json()["status"]) == (200, "lost"), r.text
    (claim,) = live.client.get("/v1/claims").json()["items"]
    assert (claim["type"], claim["amount_fen"], claim["aftersale_id"], claim["status"]) == (
        "loss", 3_600, case["id"], "draft")
    again = live.post(f"/v1/returns/{leg['id']}/lost", {"note": "again"})
    assert (again.status_code, again.json()["rule"]) == (409, "return_status")
    assert len(live.client.get("/v1/claims").json()["items"]) == 1
