"""A parcel keeps the newest tracking snapshot by carrier event time, whatever order they arrive in."""

from __future__ import annotations

from lanjie.domain.events import Event
from lanjie.domain.states import TrackingStatus

from .factories import at, make_shipment

HISTORY_1 = [{"time": "2024-06-01T08:10:00+00:00", "context": "picked up in Hangzhou"}]
HISTORY_2 = [*HISTORY_1, {"time": "2024-06-01T09:00:00+00:00", "context": "left Hangzhou hub"}]


def tracking_updated(from_: TrackingStatus, to: TrackingStatus, minutes: int) -> Event:
    return Event("shipment.tracking_updated", "shipment", "sh_1", {
        "waybill_no": "ZT0000000001", "from": from_, "to": to, "at": at(minutes).isoformat()})


def test_first_tracking_snapshot_is_taken() -> None:
    parcel = make_shipment(status=TrackingStatus.created, tracking_at=None)
    assert parcel.apply_tracking(TrackingStatus.picked_up, at(10), HISTORY_1, subscription="sub-1") is True
    assert (parcel.tracking_status, parcel.tracking_at, parcel.tracking_events, parcel.subscription) == (
        TrackingStatus.picked_up, at(10), HISTORY_1, "sub-1")
    assert parcel.events == [tracking_updated(TrackingStatus.created, TrackingStatus.picked_up, 10)]
    assert parcel.events[0].payload["at"] == "2024-06-01T08:10:00+00:00"


def test_newer_tracking_snapshot_replaces_the_held_one() -> None:
    parcel = make_shipment(status=TrackingStatus.picked_up, tracking_at=at(10))
    assert parcel.apply_tracking(TrackingStatus.in_transit, at(60), HISTORY_2) is True
    assert (parcel.tracking_status, parcel.tracking_at, parcel.tracking_events) == (
        TrackingStatus.in_transit, at(60), HISTORY_2)
    assert parcel.events == [tracking_updated(TrackingStatus.picked_up, TrackingStatus.in_transit, 60)]


def test_older_tracking_snapshot_arriving_late_is_ignored() -> None:
    parcel = make_shipment(status=TrackingStatus.created, tracking_at=None)
    parcel.apply_tracking(TrackingStatus.in_transit, at(60), HISTORY_2)
    parcel.events.clear()
    assert parcel.apply_tracking(TrackingStatus.picked_up, at(10), HISTORY_1) is False
    assert (parcel.tracking_status, parcel.tracking_at, parcel.tracking_events) == (
        TrackingStatus.in_transit, at(60), HISTORY_2)
    assert parcel.events == []


def test_snapshot_with_the_same_event_time_and_no_more_scans_is_ignored() -> None:
    parcel = make_shipment(status=TrackingStatus.created, tracking_at=None)
    parcel.apply_tracking(TrackingStatus.in_transit, at(60), HISTORY_2)
    parcel.events.clear()
    assert parcel.apply_tracking(TrackingStatus.delivered, at(60), HISTORY_2) is False
    assert parcel.apply_tracking(TrackingStatus.delivered, at(60), HISTORY_1) is False
    assert (parcel.tracking_status, parcel.tracking_at, parcel.tracking_events) == (
        TrackingStatus.in_transit, at(60), HISTORY_2)
    assert parcel.events == []


def test_at_the_same_event_time_the_longer_history_is_the_newer_one() -> None:
    # Carriers report whole seconds: a scan in the same second as the last one still counts.
    parcel = make_shipment(status=TrackingStatus.created, tracking_at=None)
    parcel.apply_tracking(TrackingStatus.in_transit, at(60), HISTORY_1)
    parcel.events.clear()
    assert parcel.apply_tracking(TrackingStatus.returning, at(60), HISTORY_2) is True
    assert (parcel.tracking_status, parcel.tracking_at, parcel.tracking_events) == (
        TrackingStatus.returning, at(60), HISTORY_2)
    assert [e.type for e in parcel.events] == ["shipment.tracking_updated"]


def test_stale_snapshot_still_records_the_subscription_it_came_from() -> None:
    parcel = make_shipment(status=TrackingStatus.in_transit, tracking_at=at(60))
    assert parcel.apply_tracking(TrackingStatus.picked_up, at(10), HISTORY_1, subscription="sub-2") is False
    assert (parcel.subscription, parcel.tracking_status, parcel.events) == ("sub-2", TrackingStatus.in_transit, [])


def test_snapshot_without_a_subscription_keeps_the_known_one() -> None:
    parcel = make_shipment(status=TrackingStatus.created, tracking_at=None)
    parcel.apply_tracking(TrackingStatus.picked_up, at(10), HISTORY_1, subscription="sub-1")
    parcel.apply_tracking(TrackingStatus.in_transit, at(60), HISTORY_2)
    assert parcel.subscription == "sub-1"


def test_registering_a_parcel_records_it() -> None:
    from lanjie.domain.events import Event
    from lanjie.domain.model import Shipment
    from tests.domain.factories import make_shipment

    template = make_shipment(1)
    fields = {k: getattr(template, k) for k in ("id", "shop_id", "carrier", "carrier_code", "waybill_no", "order_id",
                                                "items", "value_fen", "freight_fen", "sender", "recipient",
                                                "created_at")}
    shipment = Shipment.register(**fields)
    assert shipment.events == [Event("shipment.registered", "shipment", template.id, {
        "waybill_no": template.waybill_no, "carrier": f"{template.carrier}:{template.carrier_code}",
        "order_id": template.order_id})]
    assert shipment.tracking_status == "created" and shipment.tracking_at is None


def test_a_corrected_courier_code_is_taken_and_recorded_once() -> None:
    parcel = make_shipment()
    parcel.events.clear()
    assert parcel.correct_carrier_code("yto", reported_by="inbox7") is True
    assert parcel.correct_carrier_code("yto", reported_by="inbox8") is False
    assert parcel.correct_carrier_code("", reported_by="inbox9") is False
    assert parcel.carrier_code == "yto"
    assert [(e.type, e.payload) for e in parcel.events] == [("shipment.carrier_corrected", {
        "waybill_no": parcel.waybill_no, "from": "zto", "to": "yto", "reported_by": "inbox7"})]
