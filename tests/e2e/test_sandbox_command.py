"""`lanjie sandbox` runs the simulated carrier world on its own, at the same URLs as in the demo."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lanjie.embedded import free_socket
from tests.e2e.live import interrupt

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("flags", "setting"), [(["--time-factor", "0"], "60"), ([], "0")],
                         ids=["flag-beats-setting", "setting-without-flag"])
def test_sandbox_command_serves_the_kuaidi100_twin_and_its_control_api(
        tmp_path: Path, flags: list[str], setting: str) -> None:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    base = f"http://127.0.0.1:{port}/sandbox"
    with open(tmp_path / "sandbox.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "lanjie.cli", "sandbox", "--port", str(port), *flags],
                                env={**os.environ, "LANJIE_SANDBOX_TIME_FACTOR": setting}, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                clock = httpx.get(f"{base}/control/clock").json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, (tmp_path / "sandbox.log").read_text()
                time.sleep(0.1)
        assert clock["time_factor"] == 0.0
        assert httpx.post(f"{base}/control/parcels", json={"carrier": "zto", "waybill_no": "ZT5550001",
                                                           "stage": "in_transit"}).status_code == 201
        # The default sandbox account answers a correctly signed real-time query for that parcel.
        # Kuaidi100 names the courier in its own code: zhongtong, not lanjie's zto.
        param = json.dumps({"com": "zhongtong", "num": "ZT5550001", "resultv2": "4", "show": "0", "order": "desc"})
        sign = hashlib.md5((param + "SANDBOXKEY" + "SANDBOXCUSTOMER").encode()).hexdigest().upper()
        answer = httpx.post(f"{base}/kuaidi100/poll/query.do",
                            data={"customer": "SANDBOXCUSTOMER", "sign": sign, "param": param}).json()
        assert (answer["status"], answer["nu"], answer["state"]) == ("200", "ZT5550001", "0")
    finally:
        interrupt(proc, timeout=15)
