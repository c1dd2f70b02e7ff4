"""Bad input gets a problem+json naming the field or rule, the right status, and nothing written."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import Api
from tests.e2e.live import shipment_body

PROBLEM = "application/problem+json"


def _post(api: Api, path: str, **kw: object) -> object:
    import uuid

    return api.client.post(path, headers=api.a.headers(f"bad-input-{uuid.uuid4()}"), **kw)  # type: ignore[arg-type]


_SHIPMENT = json.dumps(shipment_body("ZT500000010", "B-10"), ensure_ascii=False)
_NOT_UTF8 = "the request body is not valid JSON: it is not UTF-8 text"


@pytest.mark.parametrize("body, detail", [
    (b'{"carrier": "kuaidi100:zto", ', "the request body is not valid JSON"),
    (b'{"carrier": "\xff\xfe kuaidi100"}', _NOT_UTF8),
    (_SHIPMENT.replace("B-10", "Zo\u00eb").encode("latin-1"), _NOT_UTF8),
    (_SHIPMENT.replace('"price_fen": 5900', '"price_fen": ' + "9" * 5000).encode(),
     "the request body is not valid JSON that lanjie reads: a number has too many digits"),
    (b"[" * 100_000 + b"]" * 100_000, "the request body is not valid JSON that lanjie reads: it is nested too deeply"),
], ids=["truncated", "not-utf8", "latin-1", "5000-digit-integer", "nested-100000-deep"])
def test_malformed_json_answers_400(api: Api, body: bytes, detail: str) -> None:
    before = api.counts()
    r = api.client.post("/v1/shipments", content=body,
                        headers={**api.a.headers("bad-input-malformed-1"), "Content-Type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"] == PROBLEM
    assert (r.json()["type"], r.json()["detail"]) == ("/problems/malformed-json", detail)
    assert api.counts() == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_json_body_sent_as_another_media_type_answers_415_naming_content_type(
        api: Api, content_type: str | None) -> None:
    headers = api.a.headers("bad-input-media-type-1")
    if content_type:
        headers["Content-Type"] = content_type
    before = api.counts()
    r = api.client.post("/v1/shipments", content=_SHIPMENT.encode(), headers=headers)
    assert r.status_code == 415 and r.headers["content-type"] == PROBLEM
    assert (r.json()["type"], r.json()["field"]) == ("/problems/unsupported-media-type", "Content-Type")
    assert r.json()["detail"] == ("send the body as JSON with Content-Type: application/json "
                                  f"(this request had {content_type or 'no Content-Type'})")
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


@pytest.mark.parametrize("path", ["/intercepts", "/intercept-batch"])
def test_an_empty_waybill_list_on_an_intercept_is_refused_not_read_as_every_parcel(api: Api, path: str) -> None:
    case = api.seed_case(api.a, "ZT500000011", "B-11")
    before = api.counts()
    if path == "/intercepts":
        r = _post(api, f"/v1/aftersales/{case['id']}/intercepts", json={"type": "return_to_sender", "waybill_nos": []})
        named = "waybill_nos"
    else:
        r = _post(api, "/v1/aftersales/intercept-batch",
                  json={"items": [{"aftersale_id": case["id"], "waybill_nos": []}]})
        named = "items.0.waybill_nos"
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert [(e["field"], e["type"]) for e in r.json()["errors"]] == [(named, "too_short")]
    assert api.counts() == before


@pytest.mark.parametrize("intercept_type", ["return_to_sender", "return_to_outlet"])
def test_an_address_on_a_return_is_refused_naming_address(api: Api, intercept_type: str) -> None:
    case = api.seed_case(api.a, "ZT500000012", "B-12")
    before = api.counts()
    r = _post(api, f"/v1/aftersales/{case['id']}/intercepts", json={
        "type": intercept_type, "address": {"name": "新收件人", "phone": "13900001111", "address": "北京市朝阳区1号"}})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert [(e["field"], e["message"]) for e in r.json()["errors"]] == [
        ("address", f"Value error, an address is only for a redirect; {intercept_type} returns the parcel")]
    assert api.counts() == before


def test_waybills_are_upper_cased_so_one_parcel_is_not_registered_twice(api: Api) -> None:
    first = _post(api, "/v1/shipments", json=shipment_body(" zt500000013 ", "B-13"))
    assert first.status_code == 201 and first.json()["waybill_no"] == "ZT500000013"
    before = api.counts()
    again = _post(api, "/v1/shipments", json=shipment_body("ZT500000013", "B-13"))
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    assert (again.json()["rule"], again.json()["detail"]) == ("waybill_no", "waybill ZT500000013 is already registered")
    counts = api.counts()
    assert counts.pop("idempotency_keys") == before.pop("idempotency_keys") + 1  # the refusal is replayable
    assert counts == before
    case = _post(api, "/v1/aftersales", json={"order_id": "B-13", "type": "refund_only_shipped", "refund_fen": 5900,
                                              "waybill_nos": ["zt500000013"]})
    assert case.status_code == 201, case.text
    found = api.client.get("/v1/aftersales", params={"waybill_no": "zt500000013"}, headers=api.a.headers()).json()
    assert [c["id"] for c in found["items"]] == [case.json()["id"]]


def test_refund_fen_of_zero_is_refused_for_every_case_type(api: Api) -> None:
    # Exchange and resend move no money, but settlement approves a refund of refund_fen on every
    # type: a case of 0 fen would create a refund of nothing, so none is opened.
    api.client.post("/v1/shipments", json=shipment_body("ZT500000014", "B-14"),
                    headers=api.a.headers("bad-input-zero-ship-1"))
    before = api.counts()
    for case_type in ("refund_only_shipped", "return_refund", "exchange", "resend"):
        r = _post(api, "/v1/aftersales", json={"order_id": "B-14", "type": case_type, "refund_fen": 0,
                                               "waybill_nos": ["ZT500000014"]})
        assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["refund_fen"], case_type
    assert api.counts() == before
