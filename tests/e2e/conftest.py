from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.live import Live, start_live, stop_live


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    """lanjie with its worker and the sandbox, served on 127.0.0.1, with one shop and a Kuaidi100 account."""
    server = start_live(database_url, tmp_path)
    yield server
    stop_live(server)
