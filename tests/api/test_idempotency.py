"""Idempotency-Key: replays, mismatches, concurrent duplicates."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime

import httpx
import sqlalchemy as sa

from lanjie.api.idempotency import ABANDONED_AFTER
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


def _in_flight_claim(api: Api, path: str, body: object, key: str, claimed_at: datetime) -> None:
    """The key row a first request leaves while it runs (or after it died)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    fp = hashlib.sha256(f"POST {path}\n{canonical}".encode()).hexdigest()
    with api.container.engine.begin() as conn:
        conn.execute(t.idempotency_keys.insert().values(shop_id=api.a.shop_id, key=key, fingerprint=fp,
                                                        response_status=0, response_body="",
                                                        created_at=claimed_at))


def test_a_request_still_in_flight_answers_409(api: Api) -> None:
    body = shipment_body("ZT400000004", "I-4")
    _in_flight_claim(api, "/v1/shipments", body, "idem-key-0000000004", datetime.now(UTC))
    before = api.counts()
    r = api.client.post("/v1/shipments", json=body, headers=api.a.headers("idem-key-0000000004"))
    assert r.status_code == 409
    assert r.headers["retry-after"] == "1"
    assert r.json()["type"] == "/problems/idempotency-key-in-flight"
    assert api.counts() == before


def _hold_after_claim(engine: sa.Engine) -> tuple[threading.Event, threading.Event]:
    """Hold the first request that claims a key between its claim and its work; (held, release).

    SQLAlchemy's own events are the seam: the claim's INSERT marks the thread, and that thread's next
    connection checkout (the unit of work's) waits. Held there, the claim is committed and no
    database lock is taken, so a duplicate meets the key in flight on SQLite as on PostgreSQL.
    """
    held, release, marked = threading.Event(), threading.Event(), threading.local()

    def after_execute(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO IDEMPOTENCY_KEYS") and not held.is_set():
            marked.claimed = True

    def checkout(*args: object) -> None:
        if getattr(marked, "claimed", False):
            marked.claimed = False
            held.set()
            release.wait(timeout=30)

    sa.event.listen(engine, "after_cursor_execute", after_execute)
    sa.event.listen(engine, "checkout", checkout)
    return held, release


def test_a_duplicate_of_a_running_request_answers_409_then_the_replay(api: Api) -> None:
    body = shipment_body("ZT400000005", "I-5")
    headers = api.a.headers("idem-key-0000000005")
    held, release = _hold_after_claim(api.container.engine)
    first: list[httpx.Response] = []
    runner = threading.Thread(target=lambda: first.append(api.client.post("/v1/shipments", json=body,
                                                                          headers=headers)))
    runner.start()
    assert held.wait(timeout=30)
    duplicate = api.client.post("/v1/shipments", json=body, headers=headers)
    release.set()
    runner.join(timeout=30)
    assert duplicate.status_code == 409 and duplicate.headers["retry-after"] == "1"
    assert duplicate.json()["type"] == "/problems/idempotency-key-in-flight"
    assert [(r.status_code, r.headers.get("idempotent-replayed")) for r in first] == [(201, None)]
    replay = api.client.post("/v1/shipments", json=body, headers=headers)
    assert (replay.status_code, replay.headers["idempotent-replayed"]) == (201, "true")
    assert replay.json() == first[0].json()
    assert api.counts()["shipments"] == 1


def test_concurrent_takeovers_of_an_abandoned_key_run_once(api: Api) -> None:
    body = {"url": "https://hooks.example.com/x"}
    key = "idem-takeover-000001"
    _in_flight_claim(api, "/v1/webhook-endpoints", body, key, datetime.now(UTC) - ABANDONED_AFTER * 5)
    answers: list[tuple[int, str | None]] = []
    barrier = threading.Barrier(4)

    def post() -> None:
        barrier.wait()
        r = api.client.post("/v1/webhook-endpoints", json=body, headers=api.a.headers(key))
        answers.append((r.status_code, r.headers.get("idempotent-replayed")))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert len(answers) == 4 and answers.count((201, None)) == 1, answers
    assert all(a in ((201, None), (201, "true"), (409, None)) for a in answers), answers
    counts = api.counts()
    assert (counts["webhook_endpoints"], counts["idempotency_keys"]) == (1, 1)
    with api.container.engine.connect() as conn:
        status = conn.execute(sa.select(t.idempotency_keys.c.response_status)).scalar_one()
    assert status == 201


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
    assert dup.status_code == 409 and dup.json()["rule"] == "waybill_no"
    again = api.client.post("/v1/shipments", json=body, headers=api.a.headers("idem-key-0000000072"))
    assert again.status_code == 409 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == dup.json()
