"""Kuaidi100 wire helpers and the sim clock, without a server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from lanjie.sandbox.clock import SimClock
from lanjie.sandbox.kuaidi100_wire import (
    STATE_OF,
    intercept_sign,
    is_ack,
    last_result,
    md5_upper,
    parse_wire_time,
    push_sign,
    query_sign,
    wire_time,
)
from lanjie.sandbox.model import Scan
from lanjie.sandbox.route import CITIES, Node, NodeKind, ScanCode


def test_md5_is_upper_case_hex_of_utf8_bytes() -> None:
    assert md5_upper("abc") == "900150983CD24FB0D6963F7D28E17F72"  # RFC 1321 test suite
    assert push_sign('{"status":"polling"}', "盐") == "2237A5599EF3393604B49379A4730CA0"


def test_intercept_sign_concatenates_param_t_key_secret() -> None:
    param = '{"kuaidicom":"zto","kuaidinum":"ZT1001"}'
    assert intercept_sign(param, "1576123932000", "KEY", "SECRET") == "966F2AEFF5ED51C1B783FEC9F1F62935"


def test_query_sign_concatenates_param_key_customer() -> None:
    assert query_sign("P", "K", "C") == md5_upper("PKC")


def test_wire_time_is_beijing_time() -> None:
    at = datetime(2025, 3, 1, 16, 30, 5, 999_000, tzinfo=UTC)
    assert wire_time(at) == "2025-03-02 00:30:05"
    assert parse_wire_time("2025-03-02 00:30:05") == datetime(2025, 3, 1, 16, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize(("code", "expected"), [
    (ScanCode.ordered, ("1", "102")),
    (ScanCode.picked_up, ("1", "103")),
    (ScanCode.departed, ("0", "1002")),
    (ScanCode.arrived_hub, ("0", "1002")),
    (ScanCode.arrived_outlet, ("0", "1001")),
    (ScanCode.out_for_delivery, ("5", None)),
    (ScanCode.delivered, ("3", "301")),
    (ScanCode.intercepted, ("6", None)),
    (ScanCode.return_departed, ("6", None)),
    (ScanCode.return_signed, ("4", None)),
    (ScanCode.damaged, ("2", "209")),
    (ScanCode.lost, ("2", "202")),
])
def test_scan_codes_map_to_kuaidi100_states(code: ScanCode, expected: tuple[str, str | None]) -> None:
    assert STATE_OF[code] == expected


def test_every_scan_code_has_a_kuaidi100_state() -> None:
    assert set(STATE_OF) == set(ScanCode)


def test_last_result_lists_history_newest_first_and_checks_when_finished() -> None:
    node = Node("杭州西湖营业部", CITIES[0], NodeKind.outlet)
    t0 = datetime(2025, 3, 1, 2, tzinfo=UTC)
    scans = [Scan(t0, ScanCode.out_for_delivery, 0, node, "派件中"),
             Scan(t0 + timedelta(hours=1), ScanCode.delivered, 0, node, "已签收")]
    result = last_result("zto", "ZT1", scans)
    assert result["state"] == "3"
    assert result["ischeck"] == "1"
    assert result["data"] == [
        {"context": "已签收", "time": "2025-03-01 11:00:00", "ftime": "2025-03-01 11:00:00", "status": "签收",
         "areaCode": "CN330100000000", "areaName": "浙江,杭州市", "statusCode": "301"},
        {"context": "派件中", "time": "2025-03-01 10:00:00", "ftime": "2025-03-01 10:00:00", "status": "派件",
         "areaCode": "CN330100000000", "areaName": "浙江,杭州市", "statusCode": "5"},
    ]
    assert last_result("zto", "ZT1", scans[:1])["ischeck"] == "0"


@pytest.mark.parametrize(("status", "body", "expected"), [
    (200, {"result": True, "returnCode": "200", "message": "成功"}, True),
    (200, {"result": True, "returnCode": "200", "message": "提交成功"}, True),
    (200, {"result": True, "returnCode": 200}, False),
    (200, {"result": "true", "returnCode": "200"}, False),
    (200, {"result": False, "returnCode": "200"}, False),
    (500, {"result": True, "returnCode": "200"}, False),
])
def test_only_the_documented_acknowledgement_counts(status: int, body: dict[str, object], expected: bool) -> None:
    assert is_ack(status, json.dumps(body).encode()) is expected
    assert is_ack(200, b"success") is False


def test_manual_clock_moves_only_when_advanced() -> None:
    real = [100.0]
    clock = SimClock(datetime(2025, 1, 1, tzinfo=UTC), 0.0, monotonic=lambda: real[0])
    real[0] += 50
    assert clock.now() == datetime(2025, 1, 1, tzinfo=UTC)
    clock.advance(90)
    assert clock.now() == datetime(2025, 1, 1, 0, 1, 30, tzinfo=UTC)
    clock.set_time_factor(60)
    real[0] += 2
    assert clock.now() == datetime(2025, 1, 1, 0, 3, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.advance(-1)
