"""TMC messages through lanjie's relay: the signature first (failing closed), then the messages."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from lanjie.channels.base import ChannelAccount, ChannelMessage, MessageKind
from lanjie.channels.errors import MalformedMessage, SignatureInvalid
from lanjie.channels.taobao import PUSH_ACK, PUSH_REJECT, Taobao
from lanjie.domain.states import ArbitrationStatus

from .test_taobao_support import ACCOUNT, APP_KEY, APP_SECRET, CREDENTIALS, RECORDINGS, relay_sign

BODY = (RECORDINGS / "tmc_relay_refund_created.json").read_bytes()
JSON = "application/json"


def headers(body: bytes = BODY, *, key: str = APP_KEY, secret: str = APP_SECRET) -> dict[str, str]:
    return {"x-lanjie-tmc-appkey": key, "x-lanjie-tmc-sign": relay_sign(body, secret)}


def adapter(account: ChannelAccount = ACCOUNT) -> Taobao:
    return Taobao(account, httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(500))))


def test_a_signed_delivery_yields_its_messages_and_the_ack() -> None:
    inbound = adapter().parse_push(BODY, JSON, headers())

    assert (inbound.ack_body, inbound.ack_media_type) == (b'{"result":"success"}', "application/json")
    assert inbound.ack_body == PUSH_ACK
    assert inbound.messages == (
        ChannelMessage(message_key="7241900000000000001", topic="taobao_refund_RefundCreated",
                       kind=MessageKind.created, ref="20240611001", order_id="3800012345678901",
                       version="1718083200000"),
        ChannelMessage(message_key="7241900000000000002", topic="taobao_refund_TaobaoInterApplied",
                       kind=MessageKind.arbitration, ref="20240611005", order_id="3800012345678911",
                       arbitration=ArbitrationStatus.requested),
        ChannelMessage(message_key="7241900000000000003", topic="taobao_refund_RefundCreateMessage",
                       kind=MessageKind.other, ref="20240611005", order_id="3800012345678911"),
    )
    created = inbound.messages[0].data
    assert (created["refund_fee"], created["refund_phase"], created["pub_time"], created["user_id"]) == (
        "129.90", "onsale", "2024-06-11 21:20:01", "2200000000001")


def test_header_names_are_matched_whatever_their_case() -> None:
    given = {name.upper(): value for name, value in headers().items()}

    assert len(adapter().parse_push(BODY, JSON, given).messages) == 3


def test_an_intervened_message_says_the_platform_is_reviewing() -> None:
    body = json.dumps([{"id": "9", "topic": "taobao_refund_TaobaoIntervened", "pub_time": "2024-06-12 10:00:00",
                        "user_id": 1, "content": json.dumps({"refund_id": 5, "tid": 6})}]).encode()

    [message] = adapter().parse_push(body, JSON, headers(body)).messages

    assert (message.kind, message.arbitration, message.ref, message.version) == (
        MessageKind.arbitration, ArbitrationStatus.in_review, "5", None)


def test_a_content_sent_as_an_object_is_read_too() -> None:
    body = json.dumps([{"id": "9", "topic": "taobao_refund_RefundClosed", "content": {"refund_id": 5}}]).encode()

    [message] = adapter().parse_push(body, JSON, headers(body)).messages

    assert (message.kind, message.ref, message.order_id) == (MessageKind.closed, "5", None)


def test_an_empty_delivery_is_acknowledged_with_no_messages() -> None:
    inbound = adapter().parse_push(b"[]", JSON, headers(b"[]"))

    assert (inbound.messages, inbound.ack_body) == ((), PUSH_ACK)


def flipped(body: bytes, at: int) -> bytes:
    return body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1:]


#: Deliveries that must not verify: (body, headers) built per case.
UNVERIFIED: dict[str, Callable[[], tuple[bytes, dict[str, str]]]] = {
    "flipped body byte": lambda: (flipped(BODY, 40), headers()),
    "flipped signature byte": lambda: (BODY, {**headers(), "x-lanjie-tmc-sign": flipped(
        relay_sign(BODY).encode(), 3).decode()}),
    "wrong app key": lambda: (BODY, headers(key="OTHERKEY")),
    "signed with another secret": lambda: (BODY, headers(secret="OTHERSECRET")),
    "missing signature": lambda: (BODY, {"x-lanjie-tmc-appkey": APP_KEY}),
    "empty signature": lambda: (BODY, {"x-lanjie-tmc-appkey": APP_KEY, "x-lanjie-tmc-sign": ""}),
    "missing app key": lambda: (BODY, {"x-lanjie-tmc-sign": relay_sign(BODY)}),
    "no headers": lambda: (BODY, {}),
}


@pytest.mark.parametrize("name", sorted(UNVERIFIED))
def test_a_delivery_that_does_not_verify_is_refused(name: str) -> None:
    body, sent = UNVERIFIED[name]()

    with pytest.raises(SignatureInvalid):
        adapter().parse_push(body, JSON, sent)


@pytest.mark.parametrize("missing", ["app_secret", "app_key"])
def test_without_a_secret_every_delivery_is_refused(missing: str) -> None:
    account = ChannelAccount("taobao", {**CREDENTIALS, missing: ""}, {})
    empty = headers(secret="") if missing == "app_secret" else headers(key="")

    with pytest.raises(SignatureInvalid, match="no app_key / app_secret"):
        adapter(account).parse_push(BODY, JSON, empty)


def test_the_refusal_answer_is_not_an_ack() -> None:
    assert Taobao.reject_ack() == (PUSH_REJECT, "application/json")
    assert json.loads(PUSH_REJECT)["result"] != "success"


@pytest.mark.parametrize(("body", "problem"), [
    (b"{\"id\":1}", "not a JSON array"),
    (b"\xff\xfe", "not UTF-8 JSON"),
    (b"[1]", "message 0 is not a JSON object"),
    (b'[{"topic":"taobao_refund_RefundClosed","content":"{}"}]', "has no id or no topic"),
    (b'[{"id":"1","topic":"taobao_refund_RefundClosed","content":"{bad"}]', "content is not JSON"),
    (b'[{"id":"1","topic":"taobao_refund_RefundClosed","content":"[1]"}]', "content is not a JSON object"),
])
def test_a_verified_but_malformed_delivery_is_malformed(body: bytes, problem: str) -> None:
    with pytest.raises(MalformedMessage, match=problem):
        adapter().parse_push(body, JSON, headers(body))
