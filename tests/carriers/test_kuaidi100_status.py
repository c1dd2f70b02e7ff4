"""Kuaidi100 tracking codes onto lanjie's statuses, and Beijing wire times onto UTC."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from lanjie.carriers.base import TrackingEvent, TrackingSnapshot
from lanjie.carriers.kuaidi100 import codes, wire
from lanjie.domain.states import TrackingStatus

S = TrackingStatus
EXPECTED = {
    **dict.fromkeys(["101", "102"], S.created),
    **dict.fromkeys(["103", "1"], S.picked_up),
    **dict.fromkeys(["0", "1002", "1003", "7", "8", "10", "11", "12", "13"], S.in_transit),
    "1001": S.at_destination,
    **dict.fromkeys(["5", "501"], S.out_for_delivery),
    **dict.fromkeys(["3", "301", "302", "303", "304"], S.delivered),
    **dict.fromkeys(["203", "204", "206", "14"], S.delivery_failed),
    "209": S.damaged,
    **dict.fromkeys(["2", "201", "202", "205", "207", "208", "210"], S.exception),
    "6": S.returning,
    **dict.fromkeys(["4", "401"], S.returned),
}


@pytest.mark.parametrize(("code", "status"), sorted(EXPECTED.items()))
def test_each_documented_code_has_its_status(code: str, status: TrackingStatus,
                                             caplog: pytest.LogCaptureFixture) -> None:
    assert codes.tracking_status(code) is status
    assert caplog.records == []


def test_the_table_holds_exactly_the_documented_codes() -> None:
    assert dict(codes.TRACKING_CODES) == EXPECTED


def test_an_unknown_code_is_in_transit_and_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    assert [codes.tracking_status("9001"), codes.tracking_status("9001")] == [S.in_transit, S.in_transit]

    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("lanjie.carriers.kuaidi100.codes", logging.WARNING,
         "kuaidi100 tracking code '9001' is unknown; treated as in_transit")]


@pytest.mark.parametrize(("text", "at"), [
    ("2024-06-01 08:00:00", datetime(2024, 6, 1, 0, 0, tzinfo=UTC)),
    ("2024-06-01 03:30:15", datetime(2024, 5, 31, 19, 30, 15, tzinfo=UTC)),  # the day before, in UTC
    ("2024-01-01 00:00:00", datetime(2023, 12, 31, 16, 0, tzinfo=UTC)),
])
def test_beijing_wire_times_become_aware_utc(text: str, at: datetime) -> None:
    converted = wire.beijing_time(text)

    assert converted == at
    assert converted.tzinfo is UTC


@pytest.mark.parametrize("text", ["", "2024/06/01 08:00:00", "2024-06-01T08:00:00", "2024-02-30 08:00:00"])
def test_a_time_in_another_shape_is_a_payload_error(text: str) -> None:
    with pytest.raises(wire.PayloadError):
        wire.beijing_time(text)


def test_an_item_without_time_uses_ftime_and_one_without_code_uses_its_state_name() -> None:
    result = {"com": "zto", "nu": "1", "state": "6", "data": [
        {"ftime": "2024-06-02 10:00:00", "context": "退回中", "status": "退回"},
        {"time": "2024-06-02 09:00:00", "context": "派件中", "status": "派件", "statusCode": "501"},
    ]}

    snapshot = wire.tracking_snapshot(result, carrier_code="zto", waybill_no="1")

    assert snapshot == TrackingSnapshot("zto", "1", S.returning, (
        TrackingEvent(datetime(2024, 6, 2, 2, 0, tzinfo=UTC), S.returning, "6", "退回中"),
        TrackingEvent(datetime(2024, 6, 2, 1, 0, tzinfo=UTC), S.out_for_delivery, "501", "派件中"),
    ))


def test_only_the_newest_item_may_borrow_the_parcels_state() -> None:
    result = {"state": "3", "data": [
        {"time": "2024-06-02 10:00:00", "context": "已签收"},
        {"time": "2024-06-02 09:00:00", "context": "?", "statusCode": "5"},
    ]}

    snapshot = wire.tracking_snapshot(result, carrier_code="zto", waybill_no="1")

    assert [(e.code, e.status) for e in snapshot.events] == [("3", S.delivered), ("5", S.out_for_delivery)]


def test_items_out_of_order_are_put_newest_first_keeping_ties_in_carrier_order() -> None:
    result = {"data": [
        {"time": "2024-06-01 09:00:00", "context": "a", "statusCode": "103"},
        {"time": "2024-06-02 09:00:00", "context": "b", "statusCode": "1002"},
        {"time": "2024-06-02 09:00:00", "context": "c", "statusCode": "1001"},
    ]}

    snapshot = wire.tracking_snapshot(result, carrier_code="zto", waybill_no="1")

    assert [e.description for e in snapshot.events] == ["b", "c", "a"]
    assert snapshot.status is S.in_transit


@pytest.mark.parametrize(("subscription", "status"), [
    ("abort", S.expired), ("polling", S.created), ("", S.created),
])
def test_a_trace_without_events_is_created_unless_tracking_was_aborted(
        subscription: str, status: TrackingStatus) -> None:
    snapshot = wire.tracking_snapshot({"state": "0", "data": []}, carrier_code="zto", waybill_no="1",
                                      subscription=subscription)

    assert (snapshot.status, snapshot.events) == (status, ())
