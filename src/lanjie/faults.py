"""Test-only pause points, so a test can SIGKILL a worker at an exact line.

Set ``LANJIE_PAUSE_AT=<name>`` and ``LANJIE_PAUSE_FILE=<path>`` in a worker's environment: when it
reaches ``checkpoint(name)`` it writes the file and sleeps until killed. Unset, it does nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def checkpoint(name: str) -> None:
    if os.environ.get("LANJIE_PAUSE_AT") != name:
        return
    Path(os.environ["LANJIE_PAUSE_FILE"]).write_text(name)
    while True:  # pragma: no cover - ended by the test's SIGKILL
        time.sleep(0.05)
