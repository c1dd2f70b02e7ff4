"""Money moves only on what lanjie confirmed with the carrier itself, and only once, with many workers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import sqlalchemy as sa

from lanjie.store import jobs
from lanjie.store import tables as t
from tests.e2e.live import K100_SALT, Live, start_live, stop_live
from tests.e2e.test_worker_crash import _worker

DAY = 24 * 3600


def _signed(param: dict) -> bytes:
    text = json.dumps(param, ensure_ascii=False, separators=(",", ":"))
    return urlencode({"param": text, "sign": hashlib.md5((text + K100_SALT).encode()).hexdigest().upper()}).encode()


def test_a_signed_success_callback_alone_does_not_refund(live: Live) -> None:
    case = live.staged_case("ZT900000001", "M-1", "in_transit")
    live.post(f"/v1/aftersales/{case['id']}/intercepts", {"type": "return_to_sender"})
    icpt = live.wait_for(lambda: (i := live.case(case["id"])["intercepts"][0])["status"] == "submitted" and i)
    with live.container.engine.connect() as conn:
        token = conn.execute(sa.select(t.carrier_accounts.c.callback_token).where(
            t.carrier_accounts.c.carrier == "kuaidi100")).scalar_one()

    # A replayed or leaked (but validly signed) "intercepted successfully" callback, while the parcel
    # is in fact still on its way to the buyer.
    body = _signed({"taskId": icpt["task_id"], "kuaidicom": "zto", "kuaidinum": "ZT900000001",
                    "status": "SUCCESS", "code": "200", "message": "拦截成功", "time": "2026-11-26 12:00:00"})
    r = httpx.post(f"{live.base}/v1/carriers/kuaidi100/callbacks/{token}", content=body,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and r.json()["returnCode"] == "200"

    confirm = live.wait_for(lambda: next((j for j in jobs.list_jobs(live.container.engine)
                                          if j["kind"] == "intercept.confirm" and j["attempts"] >= 1
                                          and "NotYetConfirmed" in j["last_error"]), None))
    assert "carrier query shows pending" in confirm["last_error"]
    queries = [x for x in live.client.get("/sandbox/control/requests", params={"waybill_no": "ZT900000001"})
               .json()["requests"] if x["method"] == "query"]
    assert len(queries) >= 1
    state = live.case(case["id"])
    assert (state["status"], state["intercepts"][0]["status"], state["refunds"]) == ("intercepting", "submitted", [])

    # When the parcel really turns back, the same confirmation pays — once.
    live.advance(2 * DAY)
    done = live.wait_for(lambda: (c := live.case(case["id"]))["status"] == "completed" and c, timeout=20)
    assert len(done["refunds"]) == 1


@pytest.mark.slow
def test_two_worker_processes_submit_every_intercept_exactly_once(database_url: str, tmp_path: Path) -> None:
    # Each worker takes two jobs at a time and the carrier answers in 300 ms, so both must share the work.
    live = start_live(database_url, tmp_path, run_worker=False, sandbox={"ack_latency_ms": 300})
    workers = []
    try:
        cases = []
        for n in range(12):
            waybill = f"ZT9100000{n:02d}"
            live.parcel(waybill, "in_transit")
            live.ship(waybill, f"W-{n}")
            cases.append(live.open_case(f"W-{n}", [waybill])["id"])
        workers = [_worker(live.base, database_url, tmp_path, LANJIE_WORKER_CONCURRENCY="2") for _ in range(2)]
        for case_id in cases:
            live.post(f"/v1/aftersales/{case_id}/intercepts", {"type": "return_to_sender"})
        live.wait_for(lambda: all(live.case(c)["intercepts"][0]["status"] == "submitted" for c in cases),
                      timeout=60, every=0.2)
        live.advance(2 * DAY)
        live.wait_for(lambda: all(live.case(c)["status"] == "completed" for c in cases), timeout=60, every=0.2)

        log = live.client.get("/sandbox/control/requests").json()["requests"]
        intercepts = [(x["waybill_no"], x["code"]) for x in log if x["method"] == "interceptOrder"]
        assert sorted(intercepts) == sorted((f"ZT9100000{n:02d}", "200") for n in range(12))
        with live.container.engine.connect() as conn:
            refunds = conn.execute(sa.select(t.refunds.c.aftersale_id, t.refunds.c.status)).all()
            ran_by = set(conn.execute(sa.select(t.jobs.c.locked_by).where(
                t.jobs.c.kind == "intercept.submit")).scalars())
        assert sorted(refunds) == sorted((c, "succeeded") for c in cases)
        assert len(ran_by) == 2  # both workers took part
    finally:
        for proc in workers:
            proc.kill()
            proc.wait(timeout=10)
        stop_live(live)
