"""The public event types and the body sent for an event."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from lanjie.webhooks.events import body, invalid_event_types, public_type, wants


@pytest.mark.parametrize(("internal", "public"), [
    ("aftersale.created", "case.created"),
    ("aftersale.settled", "case.settled"),
    ("aftersale.status_changed", "case.updated"),
    ("aftersale.received", "case.updated"),
    ("intercept.submitted", "intercept.answered"),
    ("intercept.refused", "intercept.answered"),
    ("intercept.succeeded", "intercept.succeeded"),
    ("intercept.failed", "intercept.failed"),
    ("return.stalled", "return.stalled"),
    ("claim.paid", "claim.paid"),
    ("intercept.requested", None),
    ("intercept.unknown", None),
    ("intercept.cancelled", None),
    ("refund.succeeded", None),
    ("shipment.tracking_updated", None),
    ("return.*", None),
    ("claimx.filed", None),
])
def test_internal_events_map_to_public_types_or_are_not_sent(internal: str, public: str | None) -> None:
    assert public_type(internal) == public


def test_subscribable_names_are_public_types_families_and_return_or_claim_names() -> None:
    names = ["case.created", "intercept.*", "case.*", "return.*", "claim.*", "return.received", "claim.paid",
             "case.deleted", "refund.succeeded", "intercept.requested", "shipment.*", "*", "CASE.created", ""]
    assert invalid_event_types(names) == ["case.deleted", "refund.succeeded", "intercept.requested", "shipment.*",
                                          "*", "CASE.created", ""]


def test_an_endpoint_gets_what_it_chose_and_everything_when_it_chose_nothing() -> None:
    assert wants([], "claim.paid") is True
    assert wants(["case.settled"], "case.settled") is True
    assert wants(["case.settled"], "case.updated") is False
    assert wants(["intercept.*"], "intercept.failed") is True
    assert wants(["intercept.*"], "case.created") is False
    assert wants(["return.*"], "return.received") is True


def test_the_body_is_compact_utf8_json_with_type_utc_timestamp_and_data() -> None:
    at = datetime(2026, 11, 27, 16, 30, 5, 123456, tzinfo=timezone(timedelta(hours=8)))
    sent = body(event_id=42, internal_type="aftersale.created", public="case.created", aftersale_id="as_1",
                subject_type="aftersale", subject_id="as_1",
                payload={"aftersale_id": "as_1", "type": "refund_only_shipped", "refund_fen": 5900, "reason": "不要了"},
                created_at=at)
    assert sent == ('{"type":"case.created","timestamp":"2026-11-27T08:30:05.123Z","data":{"event_id":42,'
                    '"aftersale_id":"as_1","subject_type":"aftersale","subject_id":"as_1",'
                    '"event":"aftersale.created","type":"refund_only_shipped","refund_fen":5900,'
                    '"reason":"不要了"}}').encode()


@pytest.mark.parametrize(("internal", "payload", "answer", "reason"), [
    ("intercept.submitted", {"aftersale_id": "as_1", "task_id": "T1", "duplicate": False}, "accepted", None),
    ("intercept.refused", {"aftersale_id": "as_1", "reason": "out_for_delivery", "message": "派送中"}, "refused",
     "out_for_delivery"),
])
def test_an_intercept_answer_says_accepted_or_refused_with_the_reason(
        internal: str, payload: dict[str, object], answer: str, reason: str | None) -> None:
    sent = json.loads(body(event_id=7, internal_type=internal, public="intercept.answered", aftersale_id="as_1",
                           subject_type="intercept", subject_id="icp_1", payload=payload,
                           created_at=datetime(2026, 1, 1, tzinfo=UTC)))
    assert sent["type"] == "intercept.answered"
    assert sent["data"] == {"event_id": 7, "aftersale_id": "as_1", "subject_type": "intercept", "subject_id": "icp_1",
                            "event": internal, "answer": answer, "reason": reason, **payload}
