"""A worker SIGKILLed after Douyin agreed the refund and before lanjie recorded it: the next worker reads
the platform's case first, agrees nothing twice, and records the one refund under its fixed number."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from lanjie.store import tables as t
from tests.e2e.live import Live, start_live, stop_live
from tests.e2e.test_channel_flow import ALL_DAY, connect, douyin_after_sale, lanjie_case, platform_case
from tests.e2e.test_worker_crash import _worker

pytestmark = pytest.mark.slow

WAYBILL, ORDER = "ZT6200000001", "6920000000000000001"


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    server = start_live(database_url, tmp_path, run_worker=False, policy="on_accept")
    yield server
    stop_live(server)


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Worker processes the test starts; whatever still runs at the end is killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_worker_killed_after_the_platform_agreed_the_refund_agrees_it_once_under_one_refund_number(
        live: Live, workers: list[subprocess.Popen[bytes]], database_url: str, tmp_path: Path) -> None:
    pause = tmp_path / "paused"
    sandbox = {"LANJIE_CHANNEL_SANDBOX_URL": f"{live.base}/sandbox"}
    # One job at a time: Douyin's push that the refund was paid, which lands while the approve call
    # is in flight, must not be applied by this worker before it dies at the pause.
    first = _worker(live.base, database_url, tmp_path, LANJIE_PAUSE_AT="refund.after_platform_call",
                    LANJIE_PAUSE_FILE=str(pause), LANJIE_WORKER_CONCURRENCY="1", **sandbox)
    workers.append(first)
    live.parcel(WAYBILL, "in_transit")
    live.tracked(live.ship(WAYBILL, ORDER, price_fen=5900)["id"], "in_transit")
    connect(live, "douyin")
    r = live.client.put("/v1/rules", json={"rules": [
        {"name": "douyin in transit", "channels": ["douyin"], "service_hours": ALL_DAY}]})
    assert r.status_code == 200, r.text
    ref = douyin_after_sale(live, WAYBILL, ORDER)
    live.wait_for(pause.exists, timeout=30)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)

    # Douyin agreed; lanjie did not record the answer.
    operations = platform_case(live, "douyin", int(ref))["operations"]
    assert [(o["actor"], o["action"], o["outcome"]) for o in operations] == [("merchant", "operate 201", "ok")]
    before = lanjie_case(live, ref)
    assert before is not None
    assert (before["status"], before["refund"]["status"]) == ("refunding", "pending")
    refund_no = before["refund"]["refund_no"]

    second = _worker(live.base, database_url, tmp_path, **sandbox)
    workers.append(second)
    done = live.wait_for(lambda: (c := lanjie_case(live, ref)) and c["status"] == "completed" and c, timeout=30)

    on_platform = platform_case(live, "douyin", int(ref))
    assert [(o["actor"], o["action"], o["outcome"]) for o in on_platform["operations"]] == [
        ("merchant", "operate 201", "ok")], on_platform["operations"]
    assert on_platform["refund_paid"] is True
    assert (done["refund"]["status"], done["refund"]["refund_no"]) == ("succeeded", refund_no)
    types = [e["type"] for e in done["timeline"]]
    assert (types.count("refund.approved"), types.count("refund.succeeded")) == (1, 1)
    with live.container.engine.connect() as conn:
        refunds = conn.execute(sa.select(t.refunds.c.refund_no, t.refunds.c.status)).all()
        errors = conn.execute(sa.select(t.jobs.c.kind, t.jobs.c.status, t.jobs.c.last_error)).all()
    assert [tuple(r) for r in refunds] == [(refund_no, "succeeded")]
    assert [(kind, status) for kind, status, _ in errors if status == "dead"] == []
    assert [kind for kind, _, error in errors if "deadlock" in error.lower()] == []
    second.terminate()  # SIGTERM: a clean stop
    assert second.wait(timeout=20) == 0
