"""A worker SIGKILLed after the carrier call and before its commit: the next worker finishes the job,
the intercept is submitted once, the refund is recorded once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from lanjie.store import tables as t
from tests.e2e.live import start_live, stop_live

pytestmark = pytest.mark.slow


def _worker(live_base: str, database_url: str, tmp_path: Path, **extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LANJIE_DATABASE_URL": database_url, "LANJIE_PUBLIC_BASE_URL": live_base,
           "LANJIE_KUAIDI100_API_URL": f"{live_base}/sandbox/kuaidi100",
           "LANJIE_KUAIDI100_POLL_URL": f"{live_base}/sandbox/kuaidi100", "LANJIE_DATA_DIR": str(tmp_path),
           "LANJIE_JOB_LEASE_SECONDS": "2", "LANJIE_JOB_REAP_SECONDS": "0.5", "LANJIE_WORKER_POLL_SECONDS": "0.05",
           **extra}
    with open(tmp_path / f"worker-{time.monotonic_ns()}.log", "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "lanjie.cli", "worker"], env=env, stdout=log, stderr=log)


def test_worker_killed_between_carrier_call_and_commit_loses_and_repeats_nothing(
        database_url: str, tmp_path: Path) -> None:
    live = start_live(database_url, tmp_path, run_worker=False)
    pause = tmp_path / "paused"
    first = second = None
    try:
        live.parcel("ZT200000001", "in_transit")
        live.ship("ZT200000001", "K-1")
        case = live.open_case("K-1", ["ZT200000001"])
        first = _worker(live.base, database_url, tmp_path,
                        LANJIE_PAUSE_AT="intercept.after_carrier_call", LANJIE_PAUSE_FILE=str(pause))
        r = live.post(f"/v1/aftersales/{case['id']}/intercepts", {"type": "return_to_sender"})
        assert r.status_code == 202
        live.wait_for(pause.exists, timeout=30)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

        # The carrier took the request, lanjie did not record its answer.
        log = live.client.get("/sandbox/control/requests").json()["requests"]
        (call,) = [x for x in log if x["method"] == "interceptOrder"]
        assert call["code"] == "200"
        task = live.client.get("/sandbox/control/parcels/ZT200000001").json()["intercept"]
        icpt = live.case(case["id"])["intercepts"][0]
        assert (icpt["status"], icpt["task_id"], icpt["attempts"]) == ("requested", None, 1)

        second = _worker(live.base, database_url, tmp_path)
        submitted = live.wait_for(lambda: (c := live.case(case["id"]))["intercepts"][0]["status"] == "submitted"
                                  and c, timeout=30)
        assert submitted["intercepts"][0]["task_id"] == task["task_id"]
        live.advance(2 * 24 * 3600)
        done = live.wait_for(lambda: (c := live.case(case["id"]))["status"] == "completed" and c, timeout=30)

        calls = [(x["method"], x["code"]) for x in live.client.get("/sandbox/control/requests").json()["requests"]
                 if x["method"] in ("interceptOrder", "query")]
        with live.container.engine.connect() as conn:
            confirmations = conn.execute(sa.select(sa.func.count()).select_from(t.jobs).where(
                t.jobs.c.kind == "intercept.confirm")).scalar_one()
        # The second worker asked before sending again (Kuaidi100's trace cannot tell whether it holds the
        # intercept); the resubmission was recognised as the same intercept. Then each push showing the
        # parcel turned back was confirmed by a query (those that ran after the first confirmation had
        # committed needed none) — and nothing else reached the carrier.
        assert calls[:3] == [("interceptOrder", "200"), ("query", "200"), ("interceptOrder", "30004")]
        assert calls[3:] == [("query", "200")] * len(calls[3:]) and 1 <= len(calls[3:]) <= confirmations
        types = [e["type"] for e in done["timeline"]]
        assert types.count("intercept.submitted") == 1 and types.count("intercept.unknown") == 1
        assert types.count("refund.succeeded") == 1
        with live.container.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(t.refunds)).scalar_one() == 1
            assert conn.execute(sa.select(sa.func.count()).select_from(t.jobs)
                                .where(t.jobs.c.status == "dead")).scalar_one() == 0
            errors = conn.execute(sa.select(t.jobs.c.kind, t.jobs.c.last_error)).all()
        # Parcels are locked before cases everywhere, so concurrent push and confirmation never deadlock.
        assert [(kind, error) for kind, error in errors if "deadlock" in error.lower()] == []
        second.terminate()  # SIGTERM: a clean stop
        assert second.wait(timeout=20) == 0
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        stop_live(live)
