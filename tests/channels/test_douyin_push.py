"""Douyin message pushes: recorded pushes verify and parse to exact messages; anything else is refused.

The recordings (tests/channels/recordings/douyin/push_*.json) are push bodies built from the fields of
the SDK's message files, one per tag group, stored as the exact bytes Douyin would send. Their
``event-sign`` is computed here with hashlib from the recipe (MD5 hex of app_key + body + app_secret);
one known answer was computed outside Python with ``openssl md5``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime

import httpx
import pytest

from lanjie.channels.base import ChannelAccount, ChannelMessage, Inbound, MessageKind
from lanjie.channels.douyin import PUSH_ACK, PUSH_REJECT, Douyin
from lanjie.channels.errors import MalformedMessage, SignatureInvalid
from lanjie.domain.states import ArbitrationStatus
from tests.channels.test_douyin_requests import ACCOUNT, APP_KEY, APP_SECRET, RECORDINGS

EMPTY_PUSH_SIGN = "71277c7788108fc50ff3bbc3fb2bd127"  # printf '%s' 'SANDBOXDYKEY[]SANDBOXDYSECRET' | openssl md5


def event_sign(body: bytes, app_key: str = APP_KEY, app_secret: str = APP_SECRET) -> str:
    return hashlib.md5(app_key.encode() + body + app_secret.encode()).hexdigest()


def headers(body: bytes) -> dict[str, str]:
    return {"app-id": APP_KEY, "event-sign": event_sign(body), "content-type": "application/json"}


def no_calls(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"parsing a push must not call Douyin: {request.url}")


def channel(account: ChannelAccount = ACCOUNT) -> Douyin:
    return Douyin(account, httpx.AsyncClient(transport=httpx.MockTransport(no_calls)))


def parse(body: bytes, push_headers: dict[str, str] | None = None, account: ChannelAccount = ACCOUNT) -> Inbound:
    return channel(account).parse_push(body, "application/json", headers(body) if push_headers is None
                                       else push_headers)


def recording(name: str) -> bytes:
    return (RECORDINGS / name).read_bytes()


def push(*items: dict[str, object]) -> bytes:
    return json.dumps(list(items), ensure_ascii=False, separators=(",", ":")).encode()


def item(tag: str = "200", msg_id: str = "m-1", **data: object) -> dict[str, object]:
    return {"tag": tag, "msg_id": msg_id, "data": json.dumps(data, ensure_ascii=False)}


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# ---- recorded pushes -----------------------------------------------------------------------------

def test_the_event_sign_recipe_matches_the_known_answer() -> None:
    assert event_sign(b"[]") == EMPTY_PUSH_SIGN


def test_an_empty_push_verifies_and_is_acknowledged_in_douyins_format() -> None:
    inbound = parse(b"[]", {"app-id": APP_KEY, "event-sign": EMPTY_PUSH_SIGN})

    assert inbound == Inbound(messages=(), ack_body=b'{"code":0,"msg":"success"}', ack_media_type="application/json")
    assert (PUSH_ACK, Douyin.reject_ack()) == (b'{"code":0,"msg":"success"}',
                                               (b'{"code":1,"msg":"fail"}', "application/json"))
    assert PUSH_REJECT == b'{"code":1,"msg":"fail"}'


def test_the_after_sale_lifecycle_push_parses_to_exact_messages() -> None:
    inbound = parse(recording("push_after_sale.json"))

    def case_message(tag: str, key: str, kind: MessageKind, version: int, ref: str = "7000001") -> ChannelMessage:
        return ChannelMessage(message_key=key, topic=tag, kind=kind, ref=ref, order_id="6900001", version=str(version))

    assert inbound.messages == (
        case_message("200", "7000001-200-1740792600", MessageKind.created, 1740792600),
        case_message("208", "7000001-208-1740793200", MessageKind.modified, 1740793200),
        case_message("201", "7000001-201-1740794400", MessageKind.refund_agreed, 1740794400),
        case_message("206", "7000001-206-1740794460", MessageKind.refund_succeeded, 1740794460),
        case_message("207", "7000002-207-1740794500", MessageKind.closed, 1740794500, ref="7000002"),
    )
    assert dict(inbound.messages[1].data) == {
        "aftersale_id": 7000001, "aftersale_type": 1, "p_id": 6900001, "s_id": 6900001001, "shop_id": 1000001,
        "aftersale_status": 6, "modify_time": 1740793200, "reason_code": 3, "refund_amount": 11900,
        "refund_post_amount": 0, "refund_voucher_num": 0, "update_time": 1740793200}


def test_the_deadline_push_carries_the_new_status_deadline() -> None:
    assert parse(recording("push_deadline.json")).messages == (ChannelMessage(
        message_key="7000001-209-1740880800", topic="209", kind=MessageKind.deadline_changed, ref="7000001",
        order_id="6900001", version="1740880800", deadline_at=datetime(2025, 3, 3, 2, 0, tzinfo=UTC)),)


def test_the_arbitration_push_reads_each_step_and_the_verdict() -> None:
    messages = parse(recording("push_arbitration.json")).messages

    assert [(m.topic, m.kind, m.ref, m.order_id, m.version, m.arbitration) for m in messages] == [
        ("212", MessageKind.arbitration, "7000001", "6900001", None, ArbitrationStatus.requested),
        ("213", MessageKind.arbitration, "7000001", "6900001", None, ArbitrationStatus.evidence_requested),
        ("214", MessageKind.arbitration, "7000001", "6900001", None, ArbitrationStatus.evidence_submitted),
        ("215", MessageKind.arbitration, "7000001", "6900001", None, ArbitrationStatus.cancelled),
        ("216", MessageKind.arbitration, "7000001", "6900001", None, ArbitrationStatus.buyer_won),
        ("217", MessageKind.arbitration, "7000001", "6900001", None, ArbitrationStatus.in_review),
        ("218", MessageKind.arbitration, "7000001", "6900001", None, ArbitrationStatus.evidence_submitted),
    ]
    assert [m.message_key for m in messages] == [f"7000001-{tag}" for tag in range(212, 219)]


def test_a_verdict_without_a_winner_reads_as_in_review() -> None:
    body = push(item("216", aftersale_id=7000001, p_id=6900001, shop_id=1000001, arbitrate_status=1))

    assert parse(body).messages[0].arbitration == ArbitrationStatus.in_review


def test_the_trade_push_carries_the_waybill_of_shipped_and_changed_parcels() -> None:
    assert parse(recording("push_trade.json")).messages == (
        ChannelMessage(message_key="6900001-102", topic="102", kind=MessageKind.order_shipped, order_id="6900001",
                       version="1740700000", waybill_no="73100196611386", company_code="zhongtong"),
        ChannelMessage(message_key="6900001-104", topic="104", kind=MessageKind.logistics_changed, order_id="6900001",
                       version="1740710000", waybill_no="4312345678901", company_code="yunda"),
        ChannelMessage(message_key="6900001-105", topic="105", kind=MessageKind.address_changed, order_id="6900001",
                       version="1740720000"),
    )


def test_unknown_tags_are_kept_and_another_shops_message_is_never_acted_on(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lanjie.channels.douyin")

    messages = parse(recording("push_others.json")).messages

    assert messages == (
        ChannelMessage(message_key="7000003-211", topic="211", kind=MessageKind.other, ref="7000003",
                       order_id="6900001", version="1740800000"),
        ChannelMessage(message_key="unknown-999", topic="999", kind=MessageKind.other),
        ChannelMessage(message_key="7000009-200", topic="200", kind=MessageKind.other),
    )
    assert messages[2].data["shop_id"] == 2000002
    assert "is for shop 2000002, not 1000001" in caplog.text


def test_an_update_time_that_is_not_unix_seconds_leaves_the_version_out() -> None:
    body = push(item("201", aftersale_id=7000001, p_id=6900001, shop_id=1000001,
                     update_time="2025-03-01T10:00:00+08:00"))

    [message] = parse(body).messages
    assert (message.kind, message.ref, message.version) == (MessageKind.refund_agreed, "7000001", None)


def test_headers_are_read_whatever_their_case_and_a_tag_may_be_a_number() -> None:
    body = push({"tag": 200, "msg_id": "m-9", "data": json.dumps({"aftersale_id": "7000001", "shop_id": "1000001"})})

    [message] = parse(body, {"App-Id": APP_KEY, "Event-Sign": event_sign(body).upper()}).messages
    assert (message.topic, message.kind, message.ref, message.order_id, message.version) == (
        "200", MessageKind.created, "7000001", None, None)


# ---- verification fails closed -------------------------------------------------------------------

def flipped(body: bytes, index: int) -> bytes:
    return body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1:]


@pytest.mark.parametrize(("body", "push_headers", "account_secret", "problem"), [
    (flipped(recording("push_after_sale.json"), 120), headers(recording("push_after_sale.json")), APP_SECRET,
     "does not match"),
    (recording("push_deadline.json"), {"app-id": "OTHERAPP", "event-sign": event_sign(recording("push_deadline.json"))},
     APP_SECRET, "another app"),
    (recording("push_deadline.json"), {"app-id": APP_KEY}, APP_SECRET, "no event-sign"),
    (recording("push_deadline.json"), {"event-sign": event_sign(recording("push_deadline.json"))}, APP_SECRET,
     "no app-id"),
    (recording("push_deadline.json"), headers(recording("push_deadline.json")), "", "no app_key/app_secret"),
    (recording("push_deadline.json"), {"app-id": APP_KEY, "event-sign": event_sign(recording("push_deadline.json"),
                                                                                    app_secret="OTHERSECRET")},
     APP_SECRET, "does not match"),
    (b"[]", {"app-id": APP_KEY, "event-sign": event_sign(b"", app_secret="")}, "", "no app_key/app_secret"),
])
def test_a_push_that_does_not_verify_is_refused(body: bytes, push_headers: dict[str, str], account_secret: str,
                                                problem: str) -> None:
    account = ChannelAccount("douyin", {**ACCOUNT.credentials, "app_secret": account_secret}, ACCOUNT.endpoints)

    with pytest.raises(SignatureInvalid, match=problem):
        parse(body, push_headers, account)


def test_a_flipped_byte_inside_a_message_is_refused_too() -> None:
    body = recording("push_trade.json")
    index = body.index(b"73100196611386")

    with pytest.raises(SignatureInvalid):
        parse(flipped(body, index), headers(body))


# ---- malformed bodies ----------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "problem"), [
    (b"\xff\xfe[", "not UTF-8 JSON"),
    (b'{"tag":"200"}', "not a JSON array"),
    (b'["200"]', "item 0: an item is not an object"),
    (push({"msg_id": "m", "data": "{}"}), "item 0: tag is missing"),
    (push({"tag": "200", "data": "{}"}), "item 0: msg_id is missing"),
    (push({"tag": "200", "msg_id": "m"}), "item 0: data is missing"),
    (push({"tag": "200", "msg_id": "m", "data": {"aftersale_id": 1}}), "data is not a JSON-encoded string"),
    (push({"tag": "200", "msg_id": "m", "data": "{oops"}), "data is not JSON"),
    (push({"tag": "200", "msg_id": "m", "data": "[1]"}), "data is not a JSON object"),
    (push(item("200", "m-1", aftersale_id=1, shop_id=1000001), item("201", "m-2", shop_id=1000001)),
     "item 1: aftersale_id is missing"),
    (push(item("209", aftersale_id=1, shop_id=1000001)), "status_deadline is missing"),
    (push(item("102", p_id=6900001, shop_id=1000001)), "logistics_msg is missing"),
    (push(item("102", p_id=6900001, shop_id=1000001, logistics_msg={"express_company_id": "yunda"})),
     "logistics_code is missing"),
    (push(item("200", aftersale_id=[1], shop_id=1000001)), "aftersale_id is not an id"),
])
def test_a_malformed_push_names_what_is_wrong(body: bytes, problem: str) -> None:
    with pytest.raises(MalformedMessage, match=problem):
        parse(body)
