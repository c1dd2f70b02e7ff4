"""TMC messages through lanjie's HTTP relay: verify the relay's signature over the raw body first, then parse.

Taobao delivers TMC messages over a long-lived connection that a relay holds; the relay forwards them to
the shop's push URL (a lanjie convention, wire.md): ``POST`` a JSON array of ``{"id", "topic",
"pub_time", "user_id", "content"}`` where ``content`` is a JSON-encoded string, with headers
``x-lanjie-tmc-appkey: <app_key>`` and ``x-lanjie-tmc-sign: <Base64 HMAC-SHA256(app_secret, raw body)>``.
The acknowledgement is ``{"result":"success"}``; anything else makes the relay deliver again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from lanjie.channels.base import ChannelMessage, Inbound
from lanjie.channels.errors import MalformedMessage, SignatureInvalid

from . import codes, wire

ACK_MEDIA_TYPE = "application/json"
PUSH_ACK = b'{"result":"success"}'
#: Answer to a delivery that failed verification (decision): not "success", so the relay keeps it.
PUSH_REJECT = b'{"result":"fail","message":"signature invalid"}'
APPKEY_HEADER = "x-lanjie-tmc-appkey"
SIGN_HEADER = "x-lanjie-tmc-sign"


def relay_sign(body: bytes, app_secret: str) -> str:
    """The relay's signature of a body: Base64 of the raw HMAC-SHA256 with the app secret."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def reject_ack() -> tuple[bytes, str]:
    """Body and media type to answer a delivery that failed verification."""
    return PUSH_REJECT, ACK_MEDIA_TYPE


def verify(body: bytes, headers: Mapping[str, str], *, app_key: str, app_secret: str) -> None:
    """SignatureInvalid unless the delivery names this app and carries its signature; fails closed."""
    if not app_secret or not app_key:
        raise SignatureInvalid("no app_key / app_secret configured for taobao: messages cannot be verified")
    given_key = headers.get(APPKEY_HEADER)
    if given_key is None or not hmac.compare_digest(given_key.encode("utf-8"), app_key.encode("utf-8")):
        raise SignatureInvalid(f"taobao relay delivery is not for this app ({APPKEY_HEADER})")
    given_sign = headers.get(SIGN_HEADER)
    if not given_sign:
        raise SignatureInvalid(f"taobao relay delivery has no {SIGN_HEADER}")
    expected = relay_sign(body, app_secret)
    if not hmac.compare_digest(given_sign.strip().encode("utf-8"), expected.encode("ascii")):
        raise SignatureInvalid(f"taobao relay delivery's {SIGN_HEADER} does not match its body")


def parse(body: bytes, headers: Mapping[str, str], *, app_key: str, app_secret: str) -> Inbound:
    """Verify a relay delivery and read its messages."""
    verify(body, headers, app_key=app_key, app_secret=app_secret)
    try:
        decoded = json.loads(body.decode("utf-8"))
    except ValueError as exc:  # includes UnicodeDecodeError
        raise MalformedMessage(f"taobao relay body is not UTF-8 JSON: {exc}") from exc
    if not isinstance(decoded, list):
        raise MalformedMessage("taobao relay body is not a JSON array of messages")
    messages = tuple(message(entry, index) for index, entry in enumerate(decoded))
    return Inbound(messages=messages, ack_body=PUSH_ACK, ack_media_type=ACK_MEDIA_TYPE)


def message(entry: Any, index: int) -> ChannelMessage:
    """One TMC message; its ``content`` may be the JSON string TMC sends or, leniently, an object."""
    if not isinstance(entry, dict):
        raise MalformedMessage(f"taobao message {index} is not a JSON object")
    message_id, topic = wire.text_of(entry, "id"), wire.text_of(entry, "topic")
    if not message_id or not topic:
        raise MalformedMessage(f"taobao message {index} has no id or no topic")
    content = entry.get("content")
    if isinstance(content, str):
        try:
            content = json.loads(content) if content.strip() else {}
        except ValueError as exc:
            raise MalformedMessage(f"taobao message {message_id} content is not JSON: {exc}") from exc
    if content is None:
        content = {}
    if not isinstance(content, dict):
        raise MalformedMessage(f"taobao message {message_id} content is not a JSON object")
    return ChannelMessage(
        message_key=message_id,
        topic=topic,
        kind=codes.topic_kind(topic),
        ref=wire.text_of(content, "refund_id") or None,
        order_id=wire.text_of(content, "tid") or None,
        version=wire.text_of(content, "refund_version") or None,
        arbitration=codes.TOPIC_ARBITRATION.get(topic),
        data={"pub_time": wire.text_of(entry, "pub_time"), "user_id": wire.text_of(entry, "user_id"), **content},
    )
