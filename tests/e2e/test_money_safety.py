"""Money moves only on what lanjie confirmed with the carrier itself, and only once, with many workers."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import sqlalchemy as sa

from lanjie.store import job_listing
from lanjie.store import tables as t
from tests.e2e.live import K100_SALT, Live, start_live, stop_live
from tests.e2e.test_worker_crash import _worker

DAY = 24 * 3600


def _signed(param: dict) -> bytes:
    text = json.dumps(param, ensure_ascii=False, separators=(",", ":"))
    return urlencode({"param": text, "sign": hashlib.md5((text + K100_SALT).encode()).hexdigest().upper()}).encode()


def _push(live: Live, body: bytes) -> None:
    with live.container.engine.connect() as conn:
        token = conn.execute(sa.select(t.carrier_accounts.c.callback_token).where(
            t.carrier_accounts.c.carrier == "kuaidi100")).scalar_one()
    r = httpx.post(f"{live.base}/v1/carriers/kuaidi100/callbacks/{token}", content=body,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and r.json()["returnCode"] == "200"


def _requests(live: Live, waybill: str) -> list[dict]:
    return live.client.get("/sandbox/control/requests", params={"waybill_no": waybill}).json()["requests"]


@pytest.mark.parametrize(("code", "text", "pushed"), [("14", "拒签", "delivery_failed"), ("6", "退回", "returning")])
def test_a_signed_refusal_push_alone_does_not_refund_on_refusal(live: Live, code: str, text: str,
                                                                 pushed: str) -> None:
    waybill = f"ZT9200000{code:0>2}"
    case = live.staged_case(waybill, f"R-{code}", "in_transit")
    live.post(f"/v1/aftersales/{case['id']}/intercepts", {"type": "return_to_sender"})
    live.wait_for(lambda: live.case(case["id"])["intercepts"][0]["status"] == "submitted")
    r = live.post(f"/v1/aftersales/{case['id']}/refund", {"decision": "refund_on_refusal", "note": "拒签后退款"})
    assert (r.status_code, r.json()["status"]) == (200, "awaiting_refusal")
    before = len(_requests(live, waybill))

    # A leaked or replayed (but validly signed) tracking push: the buyer refused the parcel (拒签), or it
    # is on its way back (退回) — while the parcel is in fact still on its way to the buyer. It is stamped
    # a minute ahead of the sandbox's clock, so it is the parcel's newest scan.
    at = (live.world.clock.now() + timedelta(minutes=1)).astimezone(timezone(timedelta(hours=8)))
    stamp = at.strftime("%Y-%m-%d %H:%M:%S")
    _push(live, _signed({"status": "polling", "billstatus": "", "message": "", "autoCheck": "0", "comOld": "",
                         "comNew": "", "lastResult": {
                             "message": "ok", "state": code, "status": "200", "condition": "F00", "ischeck": "0",
                             "com": "zto", "nu": waybill, "data": [{"context": f"快件{text}", "time": stamp,
                                                                   "ftime": stamp, "status": text,
                                                                   "statusCode": code}]}}))

    check = live.wait_for(lambda: next((j for j in job_listing.list_jobs(live.container.engine)
                                        if j["kind"] == "refusal.check" and j["attempts"] >= 1
                                        and "RefusalNotConfirmed" in j["last_error"]), None))
    assert f"carrier trace shows in_transit for {waybill}, not the {pushed} pushed" in check["last_error"]
    after = _requests(live, waybill)[before:]
    assert len(after) >= 1 and {x["method"] for x in after} == {"query"}  # lanjie asked; it sent nothing else
    state = live.case(case["id"])
    assert (state["status"], state["intercepts"][0]["status"], state["refunds"]) == \
        ("awaiting_refusal", "submitted", [])
    assert live.client.get(f"/v1/shipments/{state['parcels'][0]['id']}").json()["tracking_status"] == pushed

    # When the parcel really turns back (a minute after the forged scan), the carrier's trace shows it: one refund.
    live.advance(120)
    r = live.client.post(f"/sandbox/control/parcels/{waybill}/outcome", json={"outcome": "succeed"})
    assert r.status_code == 200, r.text
    done = live.wait_for(lambda: (c := live.case(case["id"]))["status"] == "completed" and c, timeout=30)
    (refund,) = done["refunds"]
    assert (done["resolution"], refund["status"]) == ("refund_on_refusal", "succeeded")
    confirmation = refund["evidence"]["confirmation"]
    assert {k: confirmation[k] for k in ("confirmed_by", "operation", "carrier", "tracking_status")} == {
        "confirmed_by": "carrier_query", "operation": "query_tracking", "carrier": "kuaidi100",
        "tracking_status": "returning"}
    with live.container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.refunds)).scalar_one() == 1
        queried = conn.execute(sa.select(sa.func.count()).select_from(t.carrier_exchanges).where(
            t.carrier_exchanges.c.aftersale_id == case["id"],
            t.carrier_exchanges.c.operation == "query_tracking")).scalar_one()
    assert queried >= 2  # the forged push's query (at least once) and the one that paid


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

    confirm = live.wait_for(lambda: next((j for j in job_listing.list_jobs(live.container.engine)
                                          if j["kind"] == "intercept.confirm" and j["attempts"] >= 1
                                          and "NotYetConfirmed" in j["last_error"]), None))
    assert "carrier query shows indeterminate" in confirm["last_error"]
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
