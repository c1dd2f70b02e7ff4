"""Situations the browser tests start from, staged through lanjie's API and the sandbox's control API."""

from __future__ import annotations

from typing import Any

from tests.e2e.live import Live, shipment_body

HOUR = 3600


def intercepted(live: Live, waybill: str, order: str, *, carrier: str = "kuaidi100:zto",
                price_fen: int = 5900) -> dict[str, Any]:
    """An in-transit parcel with a refund-only case whose intercept the carrier accepted (submitted)."""
    live.parcel(waybill, "in_transit", carrier=carrier)
    r = live.post("/v1/shipments", shipment_body(waybill, order, carrier=carrier, price_fen=price_fen))
    assert r.status_code == 201, r.text
    live.tracked(r.json()["id"], "in_transit")
    case = live.open_case(order, [waybill], refund_fen=price_fen)
    r = live.post(f"/v1/aftersales/{case['id']}/intercepts", {"type": "return_to_sender"})
    assert r.status_code == 202, r.text
    live.wait_for(lambda: live.case(case["id"])["intercepts"][0]["status"] == "submitted")
    return case


def turned_back(live: Live, case_id: str, until: str = "returning") -> dict[str, Any]:
    """Move the sandbox clock an hour at a time until the intercepted parcel is ``until`` (returning, returned)
    and lanjie settled the case."""
    order = ("returning", "returned")
    for _ in range(96):
        live.advance(HOUR)
        status = live.case(case_id)["parcels"][0]["tracking_status"]
        if status in order and order.index(status) >= order.index(until):
            break
    return live.wait_for(lambda: (c := live.case(case_id))["status"] == "completed"
                         and c["parcels"][0]["tracking_status"] in order[order.index(until):] and c)


def returns(live: Live, status: str) -> list[dict[str, Any]]:
    return live.client.get("/v1/returns", params={"status": status}).json()["items"]


def lost_claim(live: Live, waybill: str, order: str) -> dict[str, Any]:
    """An SF parcel intercepted, turned back, and declared lost on its way back: its loss claim, drafted."""
    case = intercepted(live, waybill, order, carrier="sf:sf", price_fen=20_000)
    turned_back(live, case["id"])
    (leg,) = live.wait_for(lambda: returns(live, "returning"))
    r = live.post(f"/v1/returns/{leg['id']}/lost", {"note": "SF cannot find it"})
    assert r.status_code == 200, r.text
    (claim,) = live.client.get("/v1/claims").json()["items"]
    assert (claim["type"], claim["status"], claim["aftersale_id"]) == ("loss", "draft", case["id"])
    return claim
