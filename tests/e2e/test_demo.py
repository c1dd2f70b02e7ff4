"""`lanjie demo` starts everything in one process and simulated buyers file cases over real HTTP; it is
scriptable (--host, --port, LANJIE_DATABASE_URL) and survives a restart on the same database."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from lanjie.demo import CARRIERS, SANDBOX_RESTARTED, buyer_channels
from lanjie.embedded import free_socket
from lanjie.store import tables as t
from lanjie.store.db import make_engine
from tests.e2e.live import interrupt

HOST = "127.0.0.1"
DAY = 24 * 3600
PLATFORMS = {"douyin", "taobao"}
FINISHED = {"completed", "rejected", "cancelled"}


def test_simulated_buyers_ask_through_douyin_only_for_couriers_douyin_names() -> None:
    assert buyer_channels("ups:ups") == [("rest", 2), ("taobao", 1)]  # Douyin has no company code for UPS
    assert buyer_channels("kuaidi100:zto") == [("rest", 2), ("douyin", 2), ("taobao", 1)]
    assert buyer_channels("sf:sf") == [("rest", 2), ("douyin", 2), ("taobao", 1)]  # the world says "shunfeng"
    assert [carrier for carrier, _ in CARRIERS if "douyin" not in dict(buyer_channels(carrier))] == ["ups:ups"]


def _port() -> int:
    sock = free_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    return port


@contextmanager
def _demo(data_dir: Path, database_url: str) -> Iterator[tuple[str, Path]]:
    """A running `lanjie demo` (base URL, its log); stopped with SIGINT, which must end it cleanly."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port, log_path = _port(), data_dir / "demo.log"
    env = {**os.environ, "LANJIE_DATA_DIR": str(data_dir), "LANJIE_DATABASE_URL": database_url}
    for name in ("LANJIE_PUBLIC_BASE_URL", "LANJIE_CARRIER_SANDBOX_URL", "LANJIE_CHANNEL_SANDBOX_URL"):
        env.pop(name, None)
    with open(log_path, "wb") as log:
        demo = subprocess.Popen([sys.executable, "-m", "lanjie.cli", "demo", "--host", HOST, "--port", str(port),
                                 "--buyers-per-minute", "120"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield f"http://{HOST}:{port}", log_path
    finally:
        interrupt(demo, timeout=20)
    assert demo.returncode == 0, log_path.read_text()


def _wait(what: Callable[[], Any], log: Path, timeout: float = 30.0) -> Any:
    """Poll ``what`` until it returns something truthy (bounded; the demo's log on failure)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = what()
        except httpx.TransportError:
            found = None
        if found:
            return found
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.3)


def _printed(log: Path, label: str) -> str:
    """A value the demo printed on start (``  <label>  <value>``), or "" before it did."""
    found = re.search(rf"^  {label} +(\S+)$", log.read_text(), re.MULTILINE)
    return found.group(1) if found else ""


def _cases(base: str, key: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{base}/v1/aftersales", params={"limit": 200}, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _platform_cases(http: httpx.Client) -> set[tuple[str, str]]:
    """(channel, after-sale id) of every after-sale the simulated platforms hold, after one more of each."""
    for platform in sorted(PLATFORMS):
        r = http.post(f"/sandbox/control/platforms/{platform}/aftersales", json={
            "type": "refund_only_unshipped", "refund_fen": 1990})
        assert r.status_code == 201, r.text
    return {(platform, str(case["id"])) for platform in PLATFORMS
            for case in http.get(f"/sandbox/control/platforms/{platform}/aftersales").json()["aftersales"]}


def _started(base: str, log: Path) -> str:
    """The API key the demo printed, once it answers."""
    key = _wait(lambda: _printed(log, "API key"), log)
    _wait(lambda: httpx.get(f"{base}/healthz").status_code == 200, log)
    return str(key)


def _intercepted_case(http: httpx.Client, log: Path) -> dict[str, Any]:
    """A parcel on its way and a refund-only request over the API, intercepted by a call (the demo's
    auto-intercept rule decides only the platforms' cases), once the carrier has answered: accepted, with its
    task id."""
    waybill = f"DEMOT{uuid.uuid4().int % 10**10:010d}"
    party = {"name": "测试", "phone": "13800000000", "address": "上海市浦东新区世纪大道100号"}
    assert http.post("/sandbox/control/parcels", json={"carrier": "kuaidi100:zto", "waybill_no": waybill,
                                                       "stage": "in_transit"}).status_code == 201
    assert http.post("/v1/shipments", headers={"Idempotency-Key": str(uuid.uuid4())}, json={
        "carrier": "kuaidi100:zto", "waybill_no": waybill, "order_id": f"O-{waybill}",
        "items": [{"sku": "TEE-01", "name": "tee", "qty": 1, "price_fen": 5900}], "value_fen": 5900,
        "freight_fen": 1200, "sender": party, "recipient": party}).status_code == 201
    r = http.post("/v1/aftersales", headers={"Idempotency-Key": str(uuid.uuid4())}, json={
        "order_id": f"O-{waybill}", "type": "refund_only_shipped", "refund_fen": 5900, "waybill_nos": [waybill]})
    assert r.status_code == 201, r.text
    intercept = http.post(f"/v1/aftersales/{r.json()['id']}/intercepts", headers={"Idempotency-Key": str(uuid.uuid4())},
                          json={"type": "return_to_sender"})
    assert intercept.status_code == 202, intercept.text
    case = _wait(lambda: (c := http.get(f"/v1/aftersales/{r.json()['id']}").json())["intercepts"]
                 and c["intercepts"][0]["status"] == "submitted" and c, log)
    assert (case["status"], bool(case["intercepts"][0]["task_id"])) == ("intercepting", True)
    return dict(case)


@pytest.mark.slow
def test_demo_serves_a_given_database_settles_an_intercepted_case_and_survives_a_restart(
        tmp_path: Path, database_url: str) -> None:
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    with _demo(first_dir, database_url) as (base, log):
        key = _started(base, log)
        printed = log.read_text()
        shop_id = _printed(log, "shop")
        password = json.loads((first_dir / "demo-console.json").read_text())["password"]
        assert (f"console   {base}/console   sign in as owner@demo, agent@demo, warehouse@demo\n"
                f"            password  {password}\n") in printed
        assert f"database  {database_url}\n" in printed and "earlier" not in printed
        assert not (first_dir / "lanjie.db").exists()  # the database given, not the data folder's default
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
            case_id = _intercepted_case(http, log)["id"]
            # Two days on the sandbox clock: the parcel has turned back and the refund is settled by itself.
            assert http.post("/sandbox/control/clock/advance", json={"seconds": 2 * DAY}).status_code == 200
            done = _wait(lambda: (c := http.get(f"/v1/aftersales/{case_id}").json())["status"] == "completed"
                         and c, log)
            assert (done["resolution"], done["intercepts"][0]["status"]) == ("intercepted_refund", "succeeded")
            assert (done["refund"]["status"], done["refund"]["amount_fen"]) == ("succeeded", 5900)
            _wait(lambda: PLATFORMS & {c["channel"] for c in _cases(base, key)}, log)  # buyers use the platforms
            with httpx.Client(base_url=base) as browser:
                assert "拦截" in browser.get("/console", follow_redirects=True).text  # the sign-in page
                signed = browser.post("/console/sign-in", data={"login": "owner@demo", "password": password})
                assert (signed.status_code, signed.headers["location"]) == (303, "/console/cases")
            assert http.get("/sandbox/control/clock").json()["time_factor"] == 60.0
            assert http.get("/openapi.json").json()["info"]["title"] == "lanjie"
            first_run = _platform_cases(http)
            stranded = _intercepted_case(http, log)["id"]  # still on its way when the demo stops
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            before = {row.id: row.status for row in conn.execute(sa.select(t.aftersales.c.id, t.aftersales.c.status))}
        waiting = {case_id for case_id, status in before.items() if status not in FINISHED | {"refunding",
                                                                                             "needs_attention"}}
        assert stranded in waiting

        # Another data folder on the same database: the same demo shop, a key of its own, new platform pushes kept.
        with _demo(second_dir, database_url) as (base, log):
            second_key = _started(base, log)
            assert (_printed(log, "shop"), second_key != key) == (shop_id, True)
            for api_key in (key, second_key):
                assert httpx.get(f"{base}/v1/aftersales", headers={"Authorization": f"Bearer {api_key}"}
                                 ).status_code == 200
            assert (f"  earlier   {len(waiting)} unfinished case(s) waited on parcels of an earlier run"
                    in log.read_text())
            with httpx.Client(base_url=base, timeout=10) as http:
                second_run = _platform_cases(http)
            # Every after-sale the restarted platforms hold is a new case of its own in lanjie: none of their
            # ids or pushes repeats the first run's, which lanjie would drop as duplicates or put on old cases.
            assert not {ref for _, ref in second_run} & {ref for _, ref in first_run}
            def opened() -> dict[tuple[str, str], str]:
                found = {(c["channel"], c["channel_ref"]): c["id"] for c in _cases(base, second_key)
                         if c["id"] not in before}
                return found if second_run <= set(found) else {}

            new = _wait(opened, log)
            assert len({new[ref] for ref in second_run}) == len(second_run)
            second_password = json.loads((second_dir / "demo-console.json").read_text())["password"]
            with httpx.Client(base_url=base) as browser:
                signed = browser.post("/console/sign-in", data={"login": "owner@demo", "password": second_password})
                assert signed.status_code == 303
        with engine.connect() as conn:
            assert conn.execute(sa.select(t.shops.c.id)).scalars().all() == [shop_id]
            flagged = {row.id: (row.status, row.attention) for row in conn.execute(
                sa.select(t.aftersales.c.id, t.aftersales.c.status, t.aftersales.c.attention).where(
                    t.aftersales.c.id.in_(waiting)))}
    finally:
        engine.dispose()
    # The earlier run's cases that waited on its parcels were put in front of a person, saying why.
    assert flagged == dict.fromkeys(waiting, ("needs_attention", SANDBOX_RESTARTED))
