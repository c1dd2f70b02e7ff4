"""Listing cases: filters and pagination, newest first."""

from __future__ import annotations

from lanjie.api.responses import CaseListOut
from tests.api.conftest import Api
from tests.e2e.live import shipment_body


def _case(api: Api, n: int, courier: str) -> str:
    waybill, order = f"YT10000000{n}", f"L-{n}"
    assert api.client.post("/v1/shipments", json=shipment_body(waybill, order, courier=courier),
                           headers=api.a.headers(f"list-ship-{n}-000000")).status_code == 201
    kind = "refund_only_shipped" if n % 2 == 0 else "return_refund"
    body = {"order_id": order, "type": kind, "refund_fen": 100 + n, "waybill_nos": [waybill]}
    r = api.client.post("/v1/aftersales", json=body, headers=api.a.headers(f"list-case-{n}-000000"))
    assert r.status_code == 201
    return str(r.json()["id"])


def _ids(api: Api, **params: object) -> list[str]:
    r = api.client.get("/v1/aftersales", params=params, headers=api.a.headers())
    assert r.status_code == 200, r.text
    CaseListOut.model_validate(r.json())
    return [c["id"] for c in r.json()["items"]]


def test_filters_and_pages(api: Api) -> None:
    ids = [_case(api, n, "zto" if n < 3 else "yto") for n in range(5)]
    newest_first = list(reversed(ids))
    assert _ids(api) == newest_first
    assert _ids(api, type="return_refund") == [ids[3], ids[1]]
    assert _ids(api, carrier="kuaidi100:yto") == [ids[4], ids[3]]
    assert _ids(api, carrier="zto") == [ids[2], ids[1], ids[0]]
    assert _ids(api, waybill_no="YT100000002") == [ids[2]]
    assert _ids(api, status="open") == newest_first and _ids(api, status="completed") == []
    page = api.client.get("/v1/aftersales", params={"limit": 2, "offset": 2}, headers=api.a.headers()).json()
    assert ([c["id"] for c in page["items"]], page["total"], page["limit"], page["offset"]) == \
        (newest_first[2:4], 5, 2, 2)


def test_bad_filters_answer_422(api: Api) -> None:
    for params in ({"status": "nope"}, {"limit": 0}, {"limit": 201}, {"offset": -1}, {"type": "refund"}):
        r = api.client.get("/v1/aftersales", params=params, headers=api.a.headers())
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", params
        assert r.json()["errors"][0]["field"] == f"query.{next(iter(params))}"


def test_an_offset_beyond_any_database_integer_is_refused_not_a_500(api: Api) -> None:
    r = api.client.get("/v1/aftersales", params={"offset": 5759436586717981259595776}, headers=api.a.headers())
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.offset"


def test_q_finds_cases_by_the_start_of_an_order_id_or_a_waybill(api: Api) -> None:
    ids = [_case(api, n, "zto") for n in range(3)]
    assert _ids(api, q="L-1") == [ids[1]]
    assert _ids(api, q="l-") == list(reversed(ids))
    assert _ids(api, q="yt100000002") == [ids[2]]
    assert _ids(api, q="%") == [] and _ids(api, q="L_1") == []  # LIKE's wildcards are plain characters
    r = api.client.get("/v1/aftersales", params={"q": "x" * 65}, headers=api.a.headers())
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.q"
