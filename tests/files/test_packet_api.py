"""GET /v1/claims/{id}/packet.json and packet.pdf: the shop's own claim with its photos, 404 to anyone else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lanjie.domain.claims import CarrierContract, Claim, claim_amount
from lanjie.domain.returns import ReturnLeg
from lanjie.domain.states import ClaimType
from lanjie.store import returns as store
from tests.e2e.live import shipment_body
from tests.files.conftest import FilesApi
from tests.files.samples import png

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _claim(api: FilesApi, photo_id: str) -> Claim:
    """A loss claim on a parcel of shop A, drafted with one inspection photo."""
    r = api.client.post("/v1/shipments", json=shipment_body("ZT500000001", "A-9"),
                        headers=api.a.headers("packet-ship-0000001"))
    assert r.status_code == 201, r.text
    shipment = r.json()
    r = api.client.post("/v1/aftersales", json={"order_id": "A-9", "type": "refund_only_shipped", "refund_fen": 5900,
                                                "waybill_nos": ["ZT500000001"]},
                        headers=api.a.headers("packet-case-0000001"))
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    leg = ReturnLeg.start(id="rl_packet", shop_id=api.a.shop_id, aftersale_id=case_id, shipment_id=shipment["id"],
                          waybill_no="ZT500000001", now=T0, typical_days=4)
    amount = claim_amount(CarrierContract("kuaidi100"), loss_fen=5900, insured_fen=None, freight_fen=1200)
    claim = Claim(id="clm_packet", shop_id=api.a.shop_id, aftersale_id=case_id, return_id=leg.id,
                  shipment_id=shipment["id"], carrier="kuaidi100:zto", waybill_no="ZT500000001", type=ClaimType.loss,
                  amount_fen=amount.fen, basis=amount.basis, filing_deadline_at=T0 + timedelta(days=30),
                  created_at=T0, evidence={"inspection": {"result": None, "note": "", "photos": [photo_id],
                                                          "items": []}})
    with api.container.engine.begin() as conn:
        store.add_leg(conn, leg, T0)
        store.add_claim(conn, claim, T0)
    return claim


def _photo(api: FilesApi) -> str:
    r = api.client.post("/v1/files", content=png(20, 10), headers=api.a.headers("packet-photo-000001",
                                                                                **{"Content-Type": "image/png"}))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_packet_json_answers_the_claim_with_its_photo_to_its_shop_only(files_api: FilesApi) -> None:
    api = files_api
    photo_id = _photo(api)
    claim = _claim(api, photo_id)
    r = api.client.get(f"/v1/claims/{claim.id}/packet.json", headers=api.a.headers())
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["schema"], body["schema_version"], body["claim"]["amount_fen"], body["claim"]["waybill_no"]) == (
        "lanjie.claim_packet", 1, 3600, "ZT500000001")
    assert [f["id"] for f in body["files"]] == [photo_id]
    assert r.headers["cache-control"] == "private, no-cache"
    other = api.client.get(f"/v1/claims/{claim.id}/packet.json", headers=api.b.headers())
    assert (other.status_code, other.headers["content-type"]) == (404, "application/problem+json")
    assert "ZT500000001" not in other.text


def test_packet_pdf_embeds_the_shops_photo_and_is_404_to_another_shop(files_api: FilesApi) -> None:
    api = files_api
    claim = _claim(api, _photo(api))
    r = api.client.get(f"/v1/claims/{claim.id}/packet.pdf", headers=api.a.headers())
    assert r.status_code == 200, r.text
    assert (r.headers["content-type"], r.content[:5]) == ("application/pdf", b"%PDF-")
    assert r.content.count(b"/Subtype /Image") == 1
    assert api.client.get(f"/v1/claims/{claim.id}/packet.pdf", headers=api.b.headers()).status_code == 404


def test_packet_of_an_unknown_claim_is_404(files_api: FilesApi) -> None:
    api = files_api
    r = api.client.get("/v1/claims/clm_nope/packet.json", headers=api.a.headers())
    assert (r.status_code, r.json()["type"]) == (404, "/problems/not-found")
