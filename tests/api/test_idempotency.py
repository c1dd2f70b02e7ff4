"""Idempotency-Key: replays, mismatches, concurrent duplicates."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime

from lanjie.store import tables as t
from tests.api.conftest import Api
from tests.e2e.live import shipment_body


def test_replay_returns_the_stored_response_and_writes_nothing_more(api: Api) -> None:
    body = shipment_body("ZT400000001", "I-1")
    first = api.client.post("/v1/shipments", json=body, headers=api.a.headers("idem-key-0000000001"))
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    before = api.counts()
    replay = api.client.post("/v1/shipments", json=body, headers=api.a.headers("idem-key-0000000001"))
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()
    assert api.counts() == before


def test_same_key_with_another_body_answers_422(api: Api) -> None:
    api.client.post("/v1/shipments", json=shipment_body("ZT400000002", "I-2"),
                    headers=api.a.headers("idem-key-0000000002"))
    before = api.counts()
    r = api.client.post("/v1/shipments", json=shipment_body("ZT400000003", "I-3"),
                        headers=api.a.headers("idem-key-0000000002"))
    assert r.status_code == 422
    assert r.json()["type"] == "/problems/idempotency-key-reused"
    assert api.counts() == before


def test_a_request_still_in_flight_answers_409(api: Api) -> None:
    body = shipment_body("ZT400000004", "I-4")
    # A first request claimed the key and has not finished: what a concurrent duplicate sees.
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    fp = hashlib.sha256(f"POST /v1/shipments\n{canonical}".encode()).hexdigest()
    with api.container.engine.begin() as conn:
        conn.execute(t.idempotency_keys.insert().values(shop_id=api.a.shop_id, key="idem-key-0000000004",
                                                        fingerprint=fp, response_status=0, response_body="",
                                                        created_at=datetime.now(UTC)))
    before = api.counts()
    r = api.client.post("/v1/shipments", json=body, headers=api.a.headers("idem-key-0000000004"))
    assert r.status_code == 409
    assert r.headers["retry-after"] == "1"
    assert r.json()["type"] == "/problems/idempotency-key-in-flight"
    assert api.counts() == before


def test_concurrent_duplicates_create_one_parcel(api: Api) -> None:
    body = shipment_body("ZT400000005", "I-5")
    answers: list[tuple[int, str | None]] = []
    barrier = threading.Barrier(4)

    def post() -> None:
        barrier.wait()
        r = api.client.post("/v1/shipments", json=body, headers=api.a.headers("idem-key-0000000005"))
        answers.append((r.status_code, r.headers.get("idempotent-replayed")))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert answers.count((201, None)) == 1
    assert all(a in ((201, None), (201, "true"), (409, None)) for a in answers), answers
    assert api.counts()["shipments"] == 1


def test_missing_or_malformed_key_is_refused_before_anything_runs(api: Api) -> None:
    before = api.counts()
    for headers, kind in (({}, "idempotency-key-missing"), ({"Idempotency-Key": "short"}, "idempotency-key-invalid"),
                          ({"Idempotency-Key": "bad key with spaces!!"}, "idempotency-key-invalid")):
        r = api.client.post("/v1/shipments", json=shipment_body("ZT400000006", "I-6"),
                            headers={**api.a.headers(), **headers})
        assert r.status_code == 400 and r.json()["type"] == f"/problems/{kind}"
    assert api.counts() == before


def test_business_refusal_is_stored_and_replayed(api: Api) -> None:
    body = shipment_body("ZT400000007", "I-7")
    api.client.post("/v1/shipments", json=body, headers=api.a.headers("idem-key-0000000071"))
    dup = api.client.post("/v1/shipments", json=body, headers=api.a.headers("idem-key-0000000072"))
    assert dup.status_code == 422 and dup.json()["rule"] == "waybill_no"
    again = api.client.post("/v1/shipments", json=body, headers=api.a.headers("idem-key-0000000072"))
    assert again.status_code == 422 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == dup.json()
