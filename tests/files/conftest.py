"""The API on 127.0.0.1 with the files router, two shops, and a small file limit (fast 413 tests)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from lanjie.api.app import create_app
from lanjie.bootstrap import Container, bootstrap
from lanjie.embedded import ServerThread, free_socket
from lanjie.service import shops
from lanjie.settings import Settings
from lanjie.store import tables as t
from lanjie.store.db import make_engine
from tests.e2e.live import K100_CUSTOMER, K100_KEY, K100_SALT, K100_SECRET

LIMIT = 64 * 1024


class FileSettings(Settings):
    """The settings section the lead adds to Settings (until then, the route reads them with getattr)."""

    files_dir: Path | None = None
    file_max_bytes: int = LIMIT


@dataclass
class Shop:
    shop_id: str
    key: str

    def headers(self, idem: str | None = None, **extra: str) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.key}", **extra}
        if idem:
            h["Idempotency-Key"] = idem
        return h


@dataclass
class FilesApi:
    client: httpx.Client
    container: Container
    files_dir: Path
    a: Shop
    b: Shop

    def rows(self) -> list[Any]:
        with self.container.engine.connect() as conn:
            return list(conn.execute(sa.select(t.evidence_files).order_by(t.evidence_files.c.shop_id)))

    def stored(self) -> list[str]:
        """Every file in the store's folder (temporary ones too), relative to it."""
        if not self.files_dir.exists():
            return []
        return sorted(str(p.relative_to(self.files_dir)) for p in self.files_dir.rglob("*") if p.is_file())


def _shop(engine: sa.Engine, name: str) -> Shop:
    shop, key = shops.create_shop(engine, name)
    with engine.begin() as conn:  # registering a parcel needs the shop's carrier account
        shops.upsert_carrier_account(conn, shop.id, "kuaidi100", {
            "key": K100_KEY, "customer": K100_CUSTOMER, "secret": K100_SECRET, "salt": K100_SALT})
    return Shop(shop.id, key)


@pytest.fixture
def files_api(database_url: str, tmp_path: Path) -> Iterator[FilesApi]:
    files_dir = tmp_path / "evidence"
    settings = FileSettings(data_dir=tmp_path, database_url=database_url, files_dir=files_dir,
                            kuaidi100_api_url="http://127.0.0.1:9/none", kuaidi100_poll_url="http://127.0.0.1:9/none")
    container = bootstrap(settings, engine=make_engine(database_url), run_migrations=False)
    a, b = _shop(container.engine, "Shop A"), _shop(container.engine, "Shop B")
    app = create_app(container)
    server = ServerThread(app, free_socket())
    server.start()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield FilesApi(client, container, files_dir, a, b)
    server.stop()
    container.engine.dispose()
