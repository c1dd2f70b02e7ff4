"""The API alone on 127.0.0.1 (no worker, no sandbox): for security, idempotency and bad-input tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from lanjie.api.app import create_app
from lanjie.bootstrap import Container, bootstrap
from lanjie.embedded import ServerThread, free_socket
from lanjie.service import shops
from lanjie.settings import Settings
from lanjie.store import tables as t
from lanjie.store.db import make_engine
from tests.e2e.live import K100_CUSTOMER, K100_KEY, K100_SALT, K100_SECRET, shipment_body


@dataclass
class Tenant:
    shop_id: str
    key: str
    token: str  # the Kuaidi100 callback token

    def headers(self, idem: str | None = None) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.key}"}
        if idem:
            h["Idempotency-Key"] = idem
        return h


@dataclass
class Api:
    client: httpx.Client
    app: FastAPI
    container: Container
    a: Tenant
    b: Tenant

    def counts(self) -> dict[str, int]:
        """Rows per table: compared before and after a request to show nothing was written."""
        with self.container.engine.connect() as conn:
            return {tb.name: conn.execute(sa.select(sa.func.count()).select_from(tb)).scalar_one()
                    for tb in t.metadata.sorted_tables}

    def seed_case(self, tenant: Tenant, waybill: str = "ZT300000001", order: str = "A-1") -> dict[str, Any]:
        r = self.client.post("/v1/shipments", json=shipment_body(waybill, order),
                             headers=tenant.headers(f"seed-ship-{waybill}-0001"))
        assert r.status_code == 201, r.text
        r = self.client.post("/v1/aftersales", json={"order_id": order, "type": "refund_only_shipped",
                                                     "refund_fen": 5900, "waybill_nos": [waybill]},
                             headers=tenant.headers(f"seed-case-{waybill}-0001"))
        assert r.status_code == 201, r.text
        return r.json()


def _tenant(engine: sa.Engine, name: str) -> Tenant:
    shop, key = shops.create_shop(engine, name)
    with engine.begin() as conn:
        acct = shops.upsert_carrier_account(conn, shop.id, "kuaidi100", {
            "key": K100_KEY, "customer": K100_CUSTOMER, "secret": K100_SECRET, "salt": K100_SALT})
    return Tenant(shop.id, key, acct.callback_token)


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    container = bootstrap(Settings(data_dir=tmp_path, database_url=database_url,
                                   kuaidi100_api_url="http://127.0.0.1:9/none",
                                   kuaidi100_poll_url="http://127.0.0.1:9/none"),
                          engine=make_engine(database_url), run_migrations=False)
    # Webhook URLs the tests (and the fuzzer) register are looked up here, never in real DNS: every
    # name resolves to one public address. No worker runs in this fixture, so nothing is ever sent.
    container.webhooks.resolve = lambda host, port: ["93.184.215.14"]
    a, b = _tenant(container.engine, "Shop A"), _tenant(container.engine, "Shop B")
    app = create_app(container)
    server = ServerThread(app, free_socket())
    server.start()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield Api(client, app, container, a, b)
    server.stop()
    container.engine.dispose()
