"""`lanjie demo` starts everything in one process and simulated buyers file cases over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lanjie.embedded import free_socket

pytestmark = pytest.mark.slow


def test_demo_serves_the_api_console_and_sandbox_with_a_demo_shop_and_buyers(tmp_path: Path) -> None:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "LANJIE_DATA_DIR": str(tmp_path), "LANJIE_DATABASE_URL": ""}
    with open(tmp_path / "demo.log", "wb") as log:
        demo = subprocess.Popen([sys.executable, "-m", "lanjie.cli", "demo", "--port", str(port),
                                 "--buyers-per-minute", "120"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        total, channels = 0, set()
        while total < 3 or not channels & {"douyin", "taobao"}:  # buyers come through the platforms too
            assert time.monotonic() < deadline, (tmp_path / "demo.log").read_text()
            time.sleep(0.3)
            shop = tmp_path / "demo-shop.json"
            if not shop.exists():
                continue
            key = json.loads(shop.read_text())["api_key"]
            try:
                r = httpx.get(f"{base}/v1/aftersales", headers={"Authorization": f"Bearer {key}"})
            except httpx.TransportError:
                continue
            total = r.json()["total"] if r.status_code == 200 else 0
            channels = {c["channel"] for c in r.json()["items"]} if r.status_code == 200 else set()
        printed = (tmp_path / "demo.log").read_text()
        password = json.loads((tmp_path / "demo-console.json").read_text())["password"]
        assert (f"console   {base}/console   sign in as owner@demo, agent@demo, warehouse@demo\n"
                f"            password  {password}\n") in printed
        assert f"API key   {key}" in printed
        assert (tmp_path / "lanjie.db").is_file()
        with httpx.Client(base_url=base) as browser:
            assert "拦截" in browser.get("/console", follow_redirects=True).text  # the sign-in page
            signed = browser.post("/console/sign-in", data={"login": "owner@demo", "password": password})
            assert (signed.status_code, signed.headers["location"]) == (303, "/console/cases")
        assert httpx.get(f"{base}/sandbox/control/clock").json()["time_factor"] == 60.0
        assert httpx.get(f"{base}/openapi.json").json()["info"]["title"] == "lanjie"
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=20)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait(timeout=10)
    assert demo.returncode == 0, (tmp_path / "demo.log").read_text()
