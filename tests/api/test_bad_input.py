"""Bad input gets a problem+json naming the field or rule, the right status, and nothing written."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.e2e.live import shipment_body

PROBLEM = "application/problem+json"


def _post(api: Api, path: str, **kw: object) -> object:
    import uuid

    return api.client.post(path, headers=api.a.headers(f"bad-input-{uuid.uuid4()}"), **kw)  # type: ignore[arg-type]


def test_malformed_json_answers_400(api: Api) -> None:
    before = api.counts()
    r = api.client.post("/v1/shipments", content=b'{"carrier": "kuaidi100:zto", ',
                        headers={**api.a.headers("bad-input-malformed-1"), "Content-Type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "/problems/malformed-json"
    assert api.counts() == before


@pytest.mark.parametrize("field, value, named", [
    ("value_fen", "5900", "value_fen"),
    ("value_fen", 59.5, "value_fen"),
    ("items", [{"sku": "A", "name": "a", "qty": 0, "price_fen": 1}], "items.0.qty"),
    ("waybill_no", "bad waybill!", "waybill_no"),
    ("recipient", {"name": "x", "phone": "123", "address": "y"}, "recipient.phone"),
    ("surprise", 1, "surprise"),
])
def test_wrong_types_answer_422_naming_the_field(api: Api, field: str, value: object, named: str) -> None:
    body = shipment_body("ZT500000001", "B-1") | {field: value}
    before = api.counts()
    r = _post(api, "/v1/shipments", json=body)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert [e["field"] for e in r.json()["errors"]] == [named]
    assert api.counts() == before


@pytest.mark.parametrize("carrier", ["fedex:x", "kuaidi100:ZT O", "nosuchplugin:zto",
                                     "kuaidi100:qwerty", "kuaidi100:fedex", "qwerty"])
def test_unknown_carrier_answers_422(api: Api, carrier: str) -> None:
    before = api.counts()
    r = _post(api, "/v1/shipments", json=shipment_body("ZT500000002", "B-2") | {"carrier": carrier})
    assert r.status_code == 422 and r.json()["field"] == "carrier"
    assert api.counts() == before


def test_unknown_case_answers_404(api: Api) -> None:
    for method, path in (("GET", "/v1/aftersales/as_nope"), ("POST", "/v1/aftersales/as_nope/intercepts"),
                         ("POST", "/v1/aftersales/as_nope/intercept-preview")):
        r = api.client.request(method, path, headers=api.a.headers("bad-input-unknown-case-1"),
                               json={"type": "return_to_sender"} if method == "POST" else None)
        assert r.status_code == 404 and r.json()["type"] == "/problems/not-found", (path, r.text)


def test_case_on_an_unregistered_waybill_answers_422(api: Api) -> None:
    before = api.counts()
    r = _post(api, "/v1/aftersales", json={"order_id": "B-3", "type": "refund_only_shipped", "refund_fen": 100,
                                           "waybill_nos": ["ZT599999999"]})
    assert r.status_code == 422 and r.json()["rule"] == "waybill_nos"
    assert "ZT599999999" in r.json()["detail"]
    counts = api.counts()
    assert counts.pop("idempotency_keys") == before.pop("idempotency_keys") + 1  # the refusal is replayable
    assert counts == before


def test_redirect_without_address_and_closed_case_are_refused(api: Api) -> None:
    case = api.seed_case(api.a, "ZT500000004", "B-4")
    r = _post(api, f"/v1/aftersales/{case['id']}/intercepts", json={"type": "redirect"})
    assert r.status_code == 422 and r.json()["rule"] == "address"
    assert _post(api, f"/v1/aftersales/{case['id']}/cancel", json={}).status_code == 200
    r = _post(api, f"/v1/aftersales/{case['id']}/intercepts", json={"type": "return_to_sender"})
    assert r.status_code == 409 and r.json()["type"] == "/problems/illegal-transition"
    assert (r.json()["current"], r.json()["target"]) == ("cancelled", "intercepting")
    assert api.client.get(f"/v1/aftersales/{case['id']}", headers=api.a.headers()).json()["intercepts"] == []


def test_a_second_case_for_the_same_channel_reference_is_refused(api: Api) -> None:
    api.seed_case(api.a, "ZT500000005", "B-5")
    body = {"order_id": "B-5", "type": "refund_only_shipped", "refund_fen": 100, "waybill_nos": ["ZT500000005"],
            "channel": "douyin", "channel_ref": "7300000000001"}
    assert _post(api, "/v1/aftersales", json=body).status_code == 201
    before = api.counts()
    r = _post(api, "/v1/aftersales", json=body)
    assert r.status_code == 409 and r.json()["rule"] == "channel_ref"
    assert "douyin 7300000000001" in r.json()["detail"]
    counts = api.counts()
    assert counts.pop("idempotency_keys") == before.pop("idempotency_keys") + 1
    assert counts == before


@pytest.mark.parametrize("field, value", [("order_id", "O\x00-1"), ("recipient", {"name": "A\x00",
                                                                             "phone": "13800001234", "address": "x"})])
def test_nul_characters_are_refused_by_name_not_a_500(api: Api, field: str, value: object) -> None:
    before = api.counts()
    r = _post(api, "/v1/shipments", json=shipment_body("ZT500000009", "B-9") | {field: value})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"].startswith(field)
    assert api.counts() == before


@pytest.mark.parametrize("url", ["/v1/aftersales/as%00x", "/v1/shipments/" + "x" * 300,
                                 "/v1/aftersales?waybill_no=ZT%001234", "/v1/aftersales?carrier=zt%00o"])
def test_malformed_ids_and_filters_are_refused_not_a_500(api: Api, url: str) -> None:
    r = api.client.get(url, headers=api.a.headers())
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text


def test_an_unexpected_error_is_a_problem_500_that_names_no_internals(api: Api) -> None:
    def broken() -> None:
        raise RuntimeError("secret internals: /srv/lanjie/db.py line 42")

    api.app.add_api_route("/v1/test-broken", broken)  # a bug, as a route of its own
    r = api.client.get("/v1/test-broken")
    assert (r.status_code, r.headers["content-type"]) == (500, PROBLEM)
    assert r.json() == {"type": "/problems/internal-error", "title": "Internal error", "status": 500,
                        "detail": "lanjie failed to handle this request; it has been logged"}
