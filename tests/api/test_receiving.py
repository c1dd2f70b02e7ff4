"""Warehouse receiving through the API: a scan finds the case, the inspection is recorded once, a damaged or
short parcel drafts its claim, an on_received case settles at once; bad input is refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from lanjie.api.routes import receiving
from lanjie.domain.states import SettlementPolicy
from lanjie.service import shops
from lanjie.store import tables as t
from tests.api.conftest import Api
from tests.service.test_reconciliation import Parcel, intercepted

AT = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)


def parcel(api: Api, waybill: str, *, shop: str | None = None, start_leg: bool = True) -> Parcel:
    return intercepted(api.container.engine, api.container.settings, shop or api.a.shop_id, waybill, at=AT,
                       start_leg=start_leg)


def post(api: Api, body: dict[str, Any], key: str, tenant: Any = None) -> Any:
    return api.client.post("/v1/receiving", json=body, headers=(tenant or api.a).headers(key))


def rows(api: Api, table: sa.Table, **where: Any) -> list[dict[str, Any]]:
    with api.container.engine.connect() as conn:
        query = sa.select(table).where(*(table.c[k] == v for k, v in where.items()))
        return [dict(r._mapping) for r in conn.execute(query)]


def without_keys(counts: dict[str, int]) -> dict[str, int]:
    return {name: n for name, n in counts.items() if name != "idempotency_keys"}


# ----------------------------------------------------------------------------------------------- lookup
def test_a_scan_of_the_forward_waybill_finds_the_case_its_items_and_the_way_back(api: Api) -> None:
    p = parcel(api, "ZT5001")
    r = api.client.get("/v1/receiving/lookup", params={"waybill_no": "ZT5001"}, headers=api.a.headers())
    assert r.status_code == 200, r.text
    found = receiving.ReceivingLookupOut.model_validate(r.json()).model_dump(by_alias=True, mode="json")
    assert (found["waybill_no"], found["matched_by"], found["case"]["id"], found["case"]["status"]) == (
        "ZT5001", "waybill_no", p.case_id, "refunding")  # on_turned_back: refunded when it turned back
    [seen] = found["parcels"]
    assert {k: v for k, v in seen.items() if k != "return"} == {
        "id": p.shipment_id, "waybill_no": "ZT5001", "carrier": "kuaidi100:zto", "scanned": True,
        "tracking_status": "in_transit", "value_fen": 11000, "freight_fen": 1000, "insured_fen": None,
        "items": [{"sku": "TEA", "name": "Oolong tea", "expected": 2, "price_fen": 4500},
                  {"sku": "CUP", "name": "Tea cup", "expected": 1, "price_fen": 2000}]}
    leg = seen["return"]
    assert (leg["status"], leg["waybill_no"], leg["return_waybill_no"], leg["started_at"], leg["eta_at"],
            leg["inspection"], leg["items"]) == ("returning", "ZT5001", "", "2026-11-02T06:00:00Z",
                                                 "2026-11-06T06:00:00Z", None, [])


def test_the_returns_own_number_finds_the_same_case_and_receives_it(api: Api) -> None:
    p = parcel(api, "ZT5002")
    with api.container.engine.begin() as conn:  # the carrier gave the return a number of its own
        conn.execute(t.return_legs.update().where(t.return_legs.c.shipment_id == p.shipment_id)
                     .values(return_waybill_no="RT88001"))
    r = api.client.get("/v1/receiving/lookup", params={"waybill_no": "RT88001"}, headers=api.a.headers())
    assert (r.status_code, r.json()["matched_by"], r.json()["case"]["id"]) == (200, "return_waybill_no", p.case_id)
    r = post(api, {"waybill_no": "RT88001", "inspection": "ok"}, "rcv-rt88001-000001")
    assert (r.status_code, r.json()["return"]["waybill_no"], r.json()["return"]["status"]) == (
        200, "ZT5002", "received")


def test_an_unknown_number_and_another_shops_parcel_are_both_404(api: Api) -> None:
    parcel(api, "ZT5003")
    for waybill, tenant in (("ZT9999", api.a), ("ZT5003", api.b)):
        r = api.client.get("/v1/receiving/lookup", params={"waybill_no": waybill}, headers=tenant.headers())
        assert (r.status_code, r.headers["content-type"], r.json()["type"]) == (
            404, "application/problem+json", "/problems/not-found")
    before = api.counts()
    r = post(api, {"waybill_no": "ZT5003", "inspection": "ok"}, "rcv-other-shop-0001", tenant=api.b)
    assert r.status_code == 404
    assert without_keys(api.counts()) == without_keys(before)
    assert rows(api, t.return_legs, shipment_id=parcel_id(api, "ZT5003"))[0]["status"] == "returning"


def parcel_id(api: Api, waybill: str) -> str:
    return str(rows(api, t.shipments, waybill_no=waybill)[0]["id"])


def test_a_malformed_number_is_refused_before_any_query(api: Api) -> None:
    r = api.client.get("/v1/receiving/lookup", params={"waybill_no": "ZT 1'--"}, headers=api.a.headers())
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "query.waybill_no")


# ----------------------------------------------------------------------------------------------- receiving
def test_an_ok_parcel_settles_an_on_received_case_at_once_and_wakes_the_worker(api: Api) -> None:
    shops.set_settlement_policy(api.container.engine, api.a.shop_id, SettlementPolicy.on_received)
    p = parcel(api, "ZT5010")
    assert rows(api, t.aftersales, id=p.case_id)[0]["status"] == "intercepted"  # waiting for the warehouse
    woken: list[int] = []
    api.container.wake_hooks.append(lambda: woken.append(1))
    r = post(api, {"waybill_no": "ZT5010", "inspection": "ok", "note": "box intact"}, "rcv-zt5010-00000001")
    assert r.status_code == 200, r.text
    answer = receiving.ReceivedOut.model_validate(r.json()).model_dump(by_alias=True, mode="json")
    assert (answer["return"]["status"], answer["return"]["inspection"], answer["return"]["inspection_note"],
            answer["return"]["items"], answer["return"]["eta_at"], answer["claim_id"]) == (
        "received", "ok", "box intact", [{"sku": "TEA", "expected": 2, "received": 2},
                                         {"sku": "CUP", "expected": 1, "received": 1}], None, None)
    assert (answer["case"]["status"], answer["case"]["resolution"]) == ("refunding", "intercepted_refund")
    assert [j["key"] for j in rows(api, t.jobs, kind="refund.execute")] == [f"refund:{p.case_id}-r1"]
    assert rows(api, t.claims) == []
    assert woken == [1]


def test_a_damaged_parcel_drafts_a_claim_for_the_damaged_value_with_its_photos(api: Api) -> None:
    p = parcel(api, "ZT5011")
    photo = evidence_file(api, api.a.shop_id, "ef_" + "a" * 32)
    r = post(api, {"waybill_no": "ZT5011", "inspection": "damaged", "damaged_value_fen": 1500, "photos": [photo]},
             "rcv-zt5011-00000001")
    assert r.status_code == 200, r.text
    [claim] = rows(api, t.claims, shipment_id=p.shipment_id)
    assert (r.json()["claim_id"], claim["type"], claim["status"], claim["amount_fen"]) == (
        claim["id"], "damage", "draft", 1500)  # the damaged value, under the 3 × freight cap of 3000
    assert claim["evidence"]["inspection"]["photos"] == [photo]
    assert r.json()["return"]["photos"] == [photo]


def test_a_short_parcel_claims_the_value_of_what_is_missing(api: Api) -> None:
    p = parcel(api, "ZT5012")
    r = post(api, {"waybill_no": "ZT5012", "inspection": "short", "items": [{"sku": "CUP", "received": 0}]},
             "rcv-zt5012-00000001")
    assert r.status_code == 200, r.text
    assert r.json()["return"]["items"] == [{"sku": "TEA", "expected": 2, "received": 2},
                                           {"sku": "CUP", "expected": 1, "received": 0}]
    [claim] = rows(api, t.claims, shipment_id=p.shipment_id)
    assert (claim["type"], claim["amount_fen"], r.json()["claim_id"]) == ("short", 2000, claim["id"])


def test_a_second_receipt_is_409_while_the_same_key_replays_the_first_answer(api: Api) -> None:
    parcel(api, "ZT5013")
    first = post(api, {"waybill_no": "ZT5013", "inspection": "ok"}, "rcv-zt5013-00000001")
    replay = post(api, {"waybill_no": "ZT5013", "inspection": "ok"}, "rcv-zt5013-00000001")
    assert (first.status_code, replay.status_code, replay.headers["idempotent-replayed"]) == (200, 200, "true")
    assert replay.json() == first.json()
    again = post(api, {"waybill_no": "ZT5013", "inspection": "ok"}, "rcv-zt5013-00000002")
    assert (again.status_code, again.json()["rule"]) == (409, "already_received")
    assert len([e for e in rows(api, t.events) if e["type"] == "return.received"]) == 1


def test_a_parcel_that_came_back_without_an_intercept_leg_is_found_and_received(api: Api) -> None:
    p = parcel(api, "ZT5014", start_leg=False)
    found = api.client.get("/v1/receiving/lookup", params={"waybill_no": "ZT5014"}, headers=api.a.headers()).json()
    assert (found["case"]["id"], found["parcels"][0]["return"]) == (p.case_id, None)
    r = post(api, {"waybill_no": "ZT5014", "inspection": "ok"}, "rcv-zt5014-00000001")
    assert (r.status_code, r.json()["return"]["status"], r.json()["return"]["shipment_id"]) == (
        200, "received", p.shipment_id)


@pytest.mark.parametrize(("body", "field"), [
    ({"inspection": "ok", "items": [{"sku": "CUP", "received": 1}, {"sku": "CUP", "received": 0}]}, "items"),
    ({"inspection": "ok", "damaged_value_fen": 100}, "damaged_value_fen"),
    ({"inspection": "short", "items": [{"sku": "CUP", "received": 2}]}, "items"),
    ({"inspection": "damaged", "photos": ["ef_nosuchfile"]}, "photos"),
])
def test_input_that_cannot_be_right_is_422_naming_the_field_and_nothing_is_kept(
        api: Api, body: dict[str, Any], field: str) -> None:
    parcel(api, "ZT5020")
    before = api.counts()
    r = post(api, {"waybill_no": "ZT5020", **body}, "rcv-zt5020-bad-00001")
    assert (r.status_code, r.json()["field"]) == (422, field), r.text
    assert api.counts() == before  # the key is released too: a corrected request may reuse it
    assert post(api, {"waybill_no": "ZT5020", "inspection": "ok"}, "rcv-zt5020-bad-00001").status_code == 200


@pytest.mark.parametrize("body", [
    {"inspection": "short", "items": [{"sku": "TEA", "received": 2}]},  # short, yet nothing is missing
    {"inspection": "ok", "items": [{"sku": "MUG", "received": 1}]},  # not in the parcel
    {"inspection": "ok", "items": [{"sku": "CUP", "received": 0}]},  # missing, yet called ok
])
def test_a_count_that_contradicts_the_inspection_or_the_parcel_is_422_items_and_writes_nothing(
        api: Api, body: dict[str, Any]) -> None:
    parcel(api, "ZT5021")
    before = api.counts()
    r = post(api, {"waybill_no": "ZT5021", **body}, "rcv-zt5021-bad-00001")
    assert (r.status_code, r.json()["rule"]) == (422, "items"), r.text
    assert without_keys(api.counts()) == without_keys(before)


@pytest.mark.parametrize("body", [
    {"waybill_no": "ZT5022", "inspection": "lost"},
    {"waybill_no": "ZT5022", "inspection": "ok", "items": [{"sku": "CUP", "received": -1}]},
    {"waybill_no": "ZT5022", "inspection": "damaged", "damaged_value_fen": 0},
    {"waybill_no": "ZT5022", "inspection": "ok", "photos": ["../../etc/passwd"]},
    {"waybill_no": "ZT5022", "inspection": "ok", "shop_id": "sh_x"},
])
def test_malformed_bodies_are_422_before_anything_runs(api: Api, body: dict[str, Any]) -> None:
    parcel(api, "ZT5022")
    before = api.counts()
    r = post(api, body, "rcv-zt5022-bad-00001")
    assert (r.status_code, r.json()["type"]) == (422, "/problems/invalid-request")
    assert api.counts() == before


def test_without_an_idempotency_key_nothing_is_received(api: Api) -> None:
    parcel(api, "ZT5023")
    r = api.client.post("/v1/receiving", json={"waybill_no": "ZT5023", "inspection": "ok"}, headers=api.a.headers())
    assert (r.status_code, r.json()["field"]) == (400, "Idempotency-Key")
    assert rows(api, t.return_legs, shipment_id=parcel_id(api, "ZT5023"))[0]["status"] == "returning"


def evidence_file(api: Api, shop_id: str, file_id: str) -> str:
    """An uploaded photo's row (what POST /v1/files leaves behind)."""
    with api.container.engine.begin() as conn:
        conn.execute(t.evidence_files.insert().values(
            id=file_id, shop_id=shop_id, sha256="a" * 64, media_type="image/jpeg", size=3, name="box.jpg",
            storage_key=f"aa/aa/{'a' * 64}", created_at=AT))
    return file_id
