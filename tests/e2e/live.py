"""A live lanjie (API + embedded worker + mounted sandbox) on a real 127.0.0.1 port, for end-to-end tests."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from lanjie.api.app import create_app
from lanjie.api.responses import CaseCreatedOut, CaseOut, ShipmentOut
from lanjie.bootstrap import Container, bootstrap
from lanjie.domain.states import SettlementPolicy
from lanjie.embedded import ServerThread, free_socket
from lanjie.sandbox.world import SandboxConfig, SandboxWorld
from lanjie.service import shops
from lanjie.settings import Settings
from lanjie.store.db import make_engine

K100_KEY, K100_CUSTOMER, K100_SECRET = "TESTKEY", "TESTCUSTOMER", "TESTSECRET"
K100_SALT = "s" * 32


@dataclass
class Live:
    base: str
    container: Container
    world: SandboxWorld
    shop_id: str
    api_key: str
    server: ServerThread
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {self.api_key}"},
                                   timeout=10)

    # --------------------------------------------------------------- sandbox control
    def parcel(self, waybill_no: str, stage: str, courier: str = "zto", *, carrier: str = "") -> dict[str, Any]:
        r = self.client.post("/sandbox/control/parcels", json={"carrier": carrier or f"kuaidi100:{courier}",
                                                              "waybill_no": waybill_no, "stage": stage})
        assert r.status_code == 201, r.text
        return r.json()

    def advance(self, seconds: float) -> None:
        r = self.client.post("/sandbox/control/clock/advance", json={"seconds": seconds})
        assert r.status_code == 200, r.text

    # --------------------------------------------------------------- lanjie API
    def post(self, path: str, body: Any, *, key: str | None = None, api_key: str | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": key or f"test-{uuid.uuid4()}"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        return self.client.post(path, json=body, headers=headers)

    def ship(self, waybill_no: str, order_id: str, *, courier: str = "zto", price_fen: int = 5900,
             qty: int = 1, carrier: str = "") -> dict[str, Any]:
        r = self.post("/v1/shipments", shipment_body(waybill_no, order_id, courier=courier, price_fen=price_fen,
                                                     qty=qty, carrier=carrier))
        assert r.status_code == 201, r.text
        return ShipmentOut.model_validate(r.json()) and r.json()

    def open_case(self, order_id: str, waybill_nos: list[str], refund_fen: int = 5900) -> dict[str, Any]:
        r = self.post("/v1/aftersales", {"order_id": order_id, "type": "refund_only_shipped",
                                         "refund_fen": refund_fen, "waybill_nos": waybill_nos})
        assert r.status_code == 201, r.text
        return CaseCreatedOut.model_validate(r.json()) and r.json()

    def case(self, case_id: str) -> dict[str, Any]:
        r = self.client.get(f"/v1/aftersales/{case_id}")
        assert r.status_code == 200, r.text
        CaseOut.model_validate(r.json())  # the answer is what the OpenAPI description says
        return r.json()

    def wait_for(self, what: Callable[[], Any], timeout: float = 20.0, every: float = 0.02) -> Any:
        """Poll ``what`` until it returns something truthy (bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            value = what()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s; last value {value!r}\n{self.diagnosis()}")
            time.sleep(every)

    def staged_case(self, waybill_no: str, order_id: str, stage: str = "in_transit", *, qty: int = 1,
                    refund_fen: int = 5900, carrier: str = "") -> dict[str, Any]:
        """A sandbox parcel at ``stage``, registered with lanjie, tracked up to that stage, with a refund-only case.

        ``carrier`` is lanjie's ``plugin:courier`` (default ``kuaidi100:zto``)."""
        self.parcel(waybill_no, stage, carrier=carrier)
        shipment = self.ship(waybill_no, order_id, qty=qty, carrier=carrier)
        self.tracked(shipment["id"], stage)
        return self.open_case(order_id, [waybill_no], refund_fen=refund_fen)

    def diagnosis(self) -> str:
        """What the jobs and the sandbox looked like when a wait ran out (for the failure message)."""
        from lanjie.store import job_listing

        lines = [f"jobs: {job_listing.stats(self.container.engine)}"]
        for job in job_listing.list_jobs(self.container.engine, limit=20):
            lines.append(f"  {job['id']} {job['kind']} {job['status']} attempts={job['attempts']} "
                         f"{str(job.get('last_error', ''))[:300]!r}")
        lines.append(f"sandbox requests: {self.client.get('/sandbox/control/requests').json()['requests'][-10:]}")
        return "\n".join(lines)

    def tracked(self, shipment_id: str, status: str) -> dict[str, Any]:
        def check() -> Any:
            s = ShipmentOut.model_validate(self.client.get(f"/v1/shipments/{shipment_id}").json()).model_dump(
                mode="json")
            # A new parcel starts as created before the carrier said anything: wait for its word.
            return s if s["tracking_status"] == status and s["tracking_at"] is not None else None
        return self.wait_for(check)


def shipment_body(waybill_no: str, order_id: str, *, courier: str = "zto", price_fen: int = 5900,
                  qty: int = 1, carrier: str = "") -> dict[str, Any]:
    return {
        "carrier": carrier or f"kuaidi100:{courier}", "waybill_no": waybill_no, "order_id": order_id,
        "items": [{"sku": "TEE-01", "name": "cotton tee", "qty": qty, "price_fen": price_fen}],
        "value_fen": price_fen * qty, "freight_fen": 1200,
        "sender": {"name": "Warehouse", "phone": "02160000000", "address": "Hangzhou 1"},
        "recipient": {"name": "Buyer", "phone": "13800001234", "address": "Shanghai 100"},
    }


def start_live(database_url: str, tmp_path: Path, *, sandbox: dict[str, Any] | None = None,
               settings: dict[str, Any] | None = None, run_worker: bool = True, policy: str = "on_turned_back") -> Live:
    sock = free_socket()
    try:
        return _start(sock, database_url, tmp_path, sandbox, settings, run_worker, policy)
    except BaseException:
        sock.close()
        raise


def _start(sock: Any, database_url: str, tmp_path: Path, sandbox: dict[str, Any] | None,
           settings: dict[str, Any] | None, run_worker: bool, policy: str) -> Live:
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    s = Settings(**{"data_dir": tmp_path, "database_url": database_url, "public_base_url": base,
                    "carrier_sandbox_url": f"{base}/sandbox", "channel_sandbox_url": f"{base}/sandbox",
                    "carrier_timeout_seconds": 2.0, "worker_poll_seconds": 0.02, **(settings or {})})
    world = SandboxWorld(SandboxConfig(**{
        "time_factor": 0.0, "ack_latency_ms": 0, "propagation_seconds": 600.0,
        "kuaidi100_accounts": {K100_KEY: {"customer": K100_CUSTOMER, "secret": K100_SECRET}}, **(sandbox or {})}))
    container = bootstrap(s, engine=make_engine(database_url), run_migrations=False)
    shop, key = shops.create_shop(container.engine, "Test shop", SettlementPolicy(policy))
    with container.engine.begin() as conn:
        shops.upsert_carrier_account(conn, shop.id, "kuaidi100", {
            "key": K100_KEY, "customer": K100_CUSTOMER, "secret": K100_SECRET, "salt": K100_SALT})
        for name, twin in world.twins.items():  # every native carrier, with its twin's test account
            if name in container.gateway.registry:
                shops.upsert_carrier_account(conn, shop.id, name, dict(twin.test_credentials))
    server = ServerThread(create_app(container, run_worker=run_worker, sandbox=world), sock)
    server.start()
    return Live(base=base, container=container, world=world, shop_id=shop.id, api_key=key, server=server)


def stop_live(live: Live) -> None:
    live.client.close()
    live.server.stop()
    live.container.engine.dispose()


def interrupt(process: subprocess.Popen[Any], timeout: float = 20) -> None:
    """Stop a ``lanjie`` command as Ctrl-C does; kill it if it has not ended within ``timeout`` seconds."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
