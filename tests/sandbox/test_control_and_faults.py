"""The control API, injected faults, and mounting the sandbox inside another app."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from lanjie.sandbox import SandboxConfig, SandboxWorld, create_sandbox_app
from tests.sandbox.conftest import BASE_CONFIG, Sandbox, ServerThread

HOUR = 3600


def test_parcel_is_created_with_its_past_and_its_next_scan_planned(sandbox: Sandbox) -> None:
    parcel = sandbox.create("ZT3001", "at_destination", carrier="kuaidi100:zto",
                            sender={"name": "杭州小店", "city": "杭州"}, recipient={"name": "王五", "city": "上海"})
    assert parcel["route"] == ["杭州西湖营业部", "杭州转运中心", "上海转运中心", "上海浦东营业部"]
    assert (parcel["status"], parcel["stage"]) == ("at_destination", "arrived_outlet")
    assert parcel["history"][0]["at"] == "2025-03-01T02:00:00+00:00"
    assert [h["code"] for h in parcel["history"]][::-1] == [
        "ordered", "picked_up", "departed", "arrived_hub", "departed", "arrived_hub", "departed",
        "arrived_outlet"]
    assert parcel["next_scan_at"] == "2025-03-01T04:00:00+00:00"
    assert (parcel["sender"]["name"], parcel["recipient"]["city"]) == ("杭州小店", "上海市")


def test_cities_come_from_the_addresses_when_not_named(sandbox: Sandbox) -> None:
    sender = {"name": "演示仓", "address": "杭州市余杭区仓前街道1号"}
    recipient = {"name": "王小明", "phone": "13800001234", "address": "上海市浦东新区世纪大道100号"}
    parcel = sandbox.create("ZT3015", "created", sender=sender, recipient=recipient)
    assert (parcel["route"][0], parcel["route"][-1]) == ("杭州西湖营业部", "上海浦东营业部")
    assert parcel["recipient"] == {**recipient, "city": "上海市"}


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"carrier": "zto", "waybill_no": "ZT3002", "stage": "returning"}, 422, "stage"),
    ({"carrier": "nosuch", "waybill_no": "ZT3002", "stage": "created"}, 422, "carrier"),
    ({"carrier": "fedex:zto", "waybill_no": "ZT3002", "stage": "created"}, 422, "carrier"),
    ({"carrier": "zto", "waybill_no": "a b", "stage": "created"}, 422, "waybill_no"),
    ({"carrier": "zto", "waybill_no": "ZT3000", "stage": "created"}, 409, "waybill_no"),
])
def test_bad_parcel_request_is_a_problem_naming_the_field(sandbox: Sandbox, body: dict[str, str], status: int,
                                                          field: str) -> None:
    sandbox.create("ZT3000", "created")
    response = sandbox.http.post("/control/parcels", json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith(field)
    assert sandbox.http.get("/control/parcels/ZT3002").status_code == 404


def test_clock_reads_changes_speed_and_advances(sandbox: Sandbox) -> None:
    assert sandbox.http.get("/control/clock").json() == {"now": "2025-03-01T02:00:00+00:00", "time_factor": 0.0}
    assert sandbox.advance(90)["now"] == "2025-03-01T02:01:30+00:00"
    assert sandbox.http.post("/control/clock/advance", json={"seconds": -1}).status_code == 422
    assert sandbox.http.put("/control/clock", json={"time_factor": 3600}).json()["time_factor"] == 3600
    time.sleep(0.05)
    assert sandbox.http.get("/control/clock").json()["now"] > "2025-03-01T02:01:30+00:00"


def test_running_clock_moves_parcels_without_being_advanced(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(time_factor=3 * HOUR * 20)  # 3 sim hours per 50 ms
    sandbox.create("ZT3003", "in_transit")
    deadline = time.monotonic() + 5
    while sandbox.parcel("ZT3003")["status"] != "delivered" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox.parcel("ZT3003")["status"] == "delivered"


def test_timeout_fault_holds_the_answer_but_applies_the_request(sandbox: Sandbox) -> None:
    sandbox.faults({"channels": {"intercept": {"timeout_rate": 1.0, "timeout_seconds": 0.6}}})
    sandbox.create("ZT3004", "in_transit")
    with pytest.raises(httpx.ReadTimeout):
        sandbox.http.post("/kuaidi100/label/order", timeout=0.2, data={
            "method": "interceptOrder", "key": "SANDBOXKEY", "t": "1", "param": sandbox.intercept_param("ZT3004"),
            "sign": "0" * 32})
    started = time.monotonic()
    answer = sandbox.intercept("ZT3004")  # the lost answer's request did reach the sandbox: see the log
    assert time.monotonic() - started >= 0.6
    assert answer["code"] == 200
    entries = [(e["code"], e["held_seconds"]) for e in sandbox.requests("ZT3004")]
    assert entries == [("403", 0.6), ("200", 0.6)]


def test_error_fault_answers_5xx_and_does_nothing(sandbox: Sandbox) -> None:
    sandbox.faults({"default": {"error_rate": 1.0}})
    sandbox.create("ZT3005", "in_transit")
    param = sandbox.intercept_param("ZT3005")
    response = sandbox.http.post("/kuaidi100/label/order", data={"method": "interceptOrder", "key": "K", "t": "1",
                                                                 "param": param, "sign": "x"})
    assert response.status_code in (500, 502)
    poll = sandbox.http.post("/kuaidi100/poll", data={"schema": "json", "param": "{}"})
    assert poll.status_code in (500, 502)
    assert sandbox.parcel("ZT3005")["intercept"] is None
    [entry] = sandbox.requests("ZT3005")
    assert (entry["http_status"], entry["code"]) == (response.status_code, str(response.status_code))


def test_rate_limit_answers_429_beyond_the_limit(sandbox: Sandbox) -> None:
    sandbox.faults({"channels": {"intercept": {"rate_limit_per_second": 1}}})
    sandbox.create("ZT3006", "in_transit")
    sandbox.create("ZT3007", "in_transit")
    assert sandbox.intercept("ZT3006")["code"] == 200
    limited = sandbox.intercept("ZT3007")
    assert (limited["code"], limited["data"]) == (429, {})
    assert sandbox.parcel("ZT3007")["intercept"] is None


def test_duplicate_fault_delivers_the_same_push_twice(sandbox: Sandbox) -> None:
    sandbox.faults({"channels": {"push": {"duplicate_push_rate": 1.0}}})
    sandbox.create("ZT3008", "in_transit")
    sandbox.subscribe("ZT3008")
    sandbox.settle()
    first, second = sandbox.received("track")
    assert first.raw == second.raw
    assert [p["fault"] for p in sandbox.parcel("ZT3008")["pushes"]] == ["", "duplicate"]


def test_out_of_order_fault_resends_the_older_snapshot_after_the_newer(sandbox: Sandbox) -> None:
    sandbox.faults({"channels": {"push": {"out_of_order_rate": 1.0}}})
    sandbox.create("ZT3009", "in_transit")
    sandbox.subscribe("ZT3009")
    sandbox.advance(3 * HOUR)
    sizes = [len(call.param["lastResult"]["data"]) for call in sandbox.received("track")]
    assert sizes == [3, 4, 3]


def test_latency_fault_applies_only_to_its_channel(sandbox: Sandbox) -> None:
    sandbox.faults({"channels": {"query": {"latency_ms": 300}}})
    assert sandbox.http.get("/control/faults").json()["channels"]["query"]["latency_ms"] == 300
    sandbox.create("ZT3010", "in_transit")
    started = time.monotonic()
    sandbox.query("ZT3010")
    assert time.monotonic() - started >= 0.3
    sandbox.subscribe("ZT3010")
    assert [(e["channel"], e["held_seconds"]) for e in sandbox.requests("ZT3010")] == [
        ("query", 0.3), ("subscribe", 0.0)]


def test_bad_fault_settings_are_refused_naming_the_field(sandbox: Sandbox) -> None:
    response = sandbox.http.put("/control/faults", json={"default": {"error_rate": 2}})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("default.error_rate")
    assert sandbox.http.get("/control/faults").json()["default"]["error_rate"] is None


def test_request_log_shows_a_resubmission_after_a_query(sandbox: Sandbox) -> None:
    sandbox.create("ZT3011", "in_transit")
    sandbox.create("ZT3012", "in_transit")
    task_id = sandbox.intercept("ZT3011")["data"]["taskId"]
    sandbox.query("ZT3011")
    sandbox.intercept("ZT3011")
    sandbox.intercept("ZT3012")
    log = [(e["method"], e["code"], e["task_id"]) for e in sandbox.requests("ZT3011")]
    assert log == [("interceptOrder", "200", task_id), ("query", "200", ""), ("interceptOrder", "30004", task_id)]
    assert len(sandbox.requests()) == 4


def test_registered_account_can_sign_requests(sandbox: Sandbox) -> None:
    created = sandbox.http.post("/control/accounts", json={"key": "K2", "customer": "C2", "secret": "S2"})
    assert created.status_code == 201
    sandbox.create("ZT3013", "in_transit")
    assert sandbox.intercept("ZT3013", key="K2", secret="S2")["code"] == 200
    assert sandbox.query("ZT3013", customer="C2", key="K2")["nu"] == "ZT3013"
    taken = sandbox.http.post("/control/accounts", json={"key": "K3", "customer": "C2", "secret": "S3"})
    assert taken.status_code == 409


def test_mounted_sandbox_serves_under_the_parent_with_an_explicit_start() -> None:
    world = SandboxWorld(SandboxConfig(**BASE_CONFIG))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await world.start()  # a mounted app's own lifespan would not run
        yield
        await world.stop()

    parent = FastAPI(lifespan=lifespan)
    parent.mount("/sandbox", create_sandbox_app(world))
    with ServerThread(parent) as url, httpx.Client(base_url=url, trust_env=False, timeout=5) as client:
        body: dict[str, Any] = {"carrier": "zto", "waybill_no": "ZT3014", "stage": "in_transit"}
        assert client.post("/sandbox/control/parcels", json=body).status_code == 201
        answer = client.post("/sandbox/kuaidi100/poll", data={"schema": "json", "param": "{}"}).json()
        assert answer["returnCode"] == "600"
        assert world.request_log[0].path == "/sandbox/kuaidi100/poll"
