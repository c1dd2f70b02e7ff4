"""The README's API quick start, run as written (bash and curl) against `lanjie demo`.

The two shell blocks under "API quick start" are taken from README.md itself, so a change to the README that
breaks a step fails here. Only what a reader must fill in is filled in: the port, and the case id the README
writes as ``as_…``. The event stream, which a reader stops with Ctrl-C, is given ``--max-time``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lanjie.embedded import free_socket
from tests.e2e.live import interrupt

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"


def quick_start_blocks() -> list[str]:
    """The ``sh`` blocks of the README's "API quick start" section, in order."""
    section = README.read_text(encoding="utf-8").split("## API quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def steps(block: str) -> dict[str, str]:
    """The block's commands, keyed by the comment line that introduces each; the lines before the first
    comment (shell functions) are kept under the empty key."""
    out: dict[str, list[str]] = {"": []}
    current = ""
    for line in block.splitlines():
        if line.startswith("# ") and not line.startswith("# →"):
            current = line[2:]
            out[current] = []
        elif not line.startswith("# →"):
            out[current].append(line)
    return {title: "\n".join(lines).strip() for title, lines in out.items()}


def sh(script: str, cwd: Path) -> str:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={k: v for k, v in os.environ.items() if not k.startswith("LANJIE")})
    assert done.returncode == 0, (script, done.stdout, done.stderr)
    return done.stdout


def test_the_readme_quick_start_intercepts_a_parcel_and_settles_its_refund(tmp_path: Path) -> None:
    setup, commands = quick_start_blocks()
    titled = steps(commands)
    assert list(titled) == ["", "a parcel in the sandbox world, in transit",
                            "tell lanjie about the shipped parcel (it subscribes to its tracking)",
                            "the buyer's refund-only request",
                            "can it be intercepted?  then intercept (202 at once; the carrier's answer follows "
                            "as events)",
                            "watch it happen (server-sent events; resume with Last-Event-ID), or read the case"]
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANJIE")}
    with open(tmp_path / "demo.log", "wb") as log:  # as a reader does: in a folder of their own, data/ inside it
        demo = subprocess.Popen([sys.executable, "-m", "lanjie.cli", "demo", "--port", str(port)],
                                cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "data" / "demo-shop.json").exists() or not _answers(base):
            assert demo.poll() is None and time.monotonic() < deadline, (tmp_path / "demo.log").read_text()
            time.sleep(0.3)
        prelude = setup.replace("http://127.0.0.1:8000", base) + "\n" + titled[""] + "\n"

        parcel = json.loads(sh(prelude + titled["a parcel in the sandbox world, in transit"], tmp_path))
        assert (parcel["waybill_no"], parcel["status"]) == ("ZT7700001", "in_transit")
        shipment = json.loads(sh(prelude + titled["tell lanjie about the shipped parcel (it subscribes to its "
                                                  "tracking)"], tmp_path))
        assert (shipment["waybill_no"], shipment["order_id"], shipment["value_fen"]) == ("ZT7700001", "O-1001", 5900)
        case = json.loads(sh(prelude + titled["the buyer's refund-only request"], tmp_path))
        assert (case["id"][:3], case["status"], case["refund_fen"]) == ("as_", "open", 5900)

        preview_and_intercept = titled["can it be intercepted?  then intercept (202 at once; the carrier's answer "
                                       "follows as events)"].replace("as_…", case["id"])
        preview_line, intercept_lines = preview_and_intercept.split("\n", 1)
        watch = titled["watch it happen (server-sent events; resume with Last-Event-ID), or read the case"]
        events_line, read_line = watch.replace("as_…", case["id"]).split("\n")
        preview = json.loads(sh(prelude + preview_line, tmp_path))
        assert [(p["waybill_no"], p["can_intercept"], p["reason"]) for p in preview["parcels"]] == [
            ("ZT7700001", True, None)]
        # The stream shows what happens from when it is opened: watch it, as in a second terminal, from here.
        with subprocess.Popen(["bash", "-c", prelude + events_line.replace("curl -sN", "curl -sN --max-time 8")],
                              cwd=tmp_path, stdout=subprocess.PIPE, text=True, env=env) as watching:
            time.sleep(1)
            accepted = json.loads(sh(prelude + intercept_lines, tmp_path))
            assert [(i["waybill_no"], i["status"]) for i in accepted["intercepts"]] == [("ZT7700001", "requested")]
            deadline = time.monotonic() + 20
            while (read := json.loads(sh(prelude + read_line, tmp_path)))["intercepts"][0]["status"] == "requested":
                assert time.monotonic() < deadline, read
                time.sleep(0.2)
            assert read["intercepts"][0]["status"] == "submitted", read
            stream, _ = watching.communicate(timeout=30)
        seen = [json.loads(line[len("data: "):]) for line in stream.splitlines() if line.startswith("data: ")]
        mine = [e["type"] for e in seen if e["aftersale_id"] == case["id"]]
        assert mine[:3] == ["aftersale.status_changed", "intercept.requested", "intercept.submitted"], mine

        # The README's last paragraph: move the sandbox clock on, and the refund settles by itself.
        advance = re.search(r"`(curl -X POST \$LANJIE/sandbox/control/clock/advance[^`]*)`",
                            README.read_text(encoding="utf-8"))
        assert advance is not None
        deadline = time.monotonic() + 30
        while (read := json.loads(sh(prelude + read_line, tmp_path)))["status"] != "completed":
            assert time.monotonic() < deadline, read
            sh(prelude + advance.group(1) + " > /dev/null", tmp_path)
            time.sleep(0.5)
        assert (read["resolution"], read["refund"]["status"], read["refund"]["amount_fen"]) == (
            "intercepted_refund", "succeeded", 5900)
    finally:
        interrupt(demo, timeout=20)


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
