"""Batch interception: many cases in one request, a result per case, a refused case changes nothing."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from lanjie.store import tables as t
from tests.api.conftest import Api


def _rows(api: Api) -> dict[str, Any]:
    with api.container.engine.connect() as conn:
        return {
            "intercepts": sorted(conn.execute(sa.select(t.intercepts.c.aftersale_id)).scalars()),
            "submit_jobs": conn.execute(sa.select(sa.func.count()).select_from(t.jobs).where(
                t.jobs.c.kind == "intercept.submit")).scalar_one(),
            "requested_events": sorted(conn.execute(sa.select(t.events.c.aftersale_id).where(
                t.events.c.type == "intercept.requested")).scalars()),
        }


def test_each_case_gets_its_own_result_and_a_refused_one_changes_nothing(api: Api) -> None:
    ok = api.seed_case(api.a, "ZT300000101", "B-1")
    again = api.seed_case(api.a, "ZT300000102", "B-2")
    other_shop = api.seed_case(api.b, "ZT300000103", "B-3")
    r = api.client.post(f"/v1/aftersales/{again['id']}/intercepts", json={"type": "return_to_sender"},
                        headers=api.a.headers("batch-first-0000001"))
    assert r.status_code == 202, r.text
    before = _rows(api)

    r = api.client.post("/v1/aftersales/intercept-batch", headers=api.a.headers("batch-request-00001"), json={
        "items": [{"aftersale_id": ok["id"]}, {"aftersale_id": again["id"]},
                  {"aftersale_id": other_shop["id"]}, {"aftersale_id": "as_nope"}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["refused"]) == (1, 3)
    results = body["results"]
    assert [(x["aftersale_id"], x["result"]) for x in results] == [
        (ok["id"], "accepted"), (again["id"], "refused"), (other_shop["id"], "refused"), ("as_nope", "refused")]
    assert [(i["waybill_no"], i["status"], i["type"]) for i in results[0]["intercepts"]] == [
        ("ZT300000101", "requested", "return_to_sender")]
    assert results[0]["problem"] is None
    assert [(x["problem"]["status"], x["problem"]["type"]) for x in results[1:]] == [
        (409, "/problems/already-intercepted"), (404, "/problems/not-found"), (404, "/problems/not-found")]
    assert all(x["intercepts"] == [] for x in results[1:])

    after = _rows(api)
    assert after["intercepts"] == sorted([*before["intercepts"], ok["id"]])
    assert after["submit_jobs"] == before["submit_jobs"] + 1
    assert after["requested_events"] == sorted([*before["requested_events"], ok["id"]])
    assert api.client.get(f"/v1/aftersales/{other_shop['id']}", headers=api.b.headers()).json()["status"] == "open"

    replay = api.client.post("/v1/aftersales/intercept-batch", headers=api.a.headers("batch-request-00001"), json={
        "items": [{"aftersale_id": ok["id"]}, {"aftersale_id": again["id"]},
                  {"aftersale_id": other_shop["id"]}, {"aftersale_id": "as_nope"}]})
    assert replay.json() == body and _rows(api) == after  # the same key answers the same, does nothing more


def test_a_case_named_twice_refuses_the_whole_batch(api: Api) -> None:
    case = api.seed_case(api.a, "ZT300000104", "B-4")
    before = api.counts()
    r = api.client.post("/v1/aftersales/intercept-batch", headers=api.a.headers("batch-twice-0000001"), json={
        "items": [{"aftersale_id": case["id"]}, {"aftersale_id": case["id"], "type": "return_to_outlet"}]})
    assert r.status_code == 422, r.text
    assert (r.json()["rule"], r.json()["detail"]) == (
        "items", f"each case at most once per batch; repeated: {case['id']}")
    assert {k: v for k, v in api.counts().items() if k != "idempotency_keys"} == \
        {k: v for k, v in before.items() if k != "idempotency_keys"}


def test_an_empty_or_oversized_batch_is_bad_input(api: Api) -> None:
    for items in ([], [{"aftersale_id": f"as_{n}"} for n in range(101)]):
        r = api.client.post("/v1/aftersales/intercept-batch", headers=api.a.headers(f"batch-size-{len(items):07d}"),
                            json={"items": items})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json" and "items" in r.json()["detail"]
