"""Inbound ZTO track pushes: verify the digest over the raw ``data`` field first, then parse.

A push is a form of ``data`` (one trace event as JSON), ``data_digest`` = Base64(raw MD5(data +
appSecret)), ``company_id`` (the appKey) and ``msg_type=Traces`` (carrier-protocols.md §5, §18).
Each push carries one event, so the snapshot is incremental. The acknowledgement ZTO expects is
not public: ``{"status":true,"message":"success"}`` is a *sandbox choice*.
"""

from __future__ import annotations

import json

from lanjie.carriers import md5b64
from lanjie.carriers.base import Push
from lanjie.carriers.errors import MalformedPush, SignatureInvalid

from . import wire

ACK_MEDIA_TYPE = "application/json"
#: Sandbox choice: the acknowledgement of a push (ZTO documents none).
PUSH_ACK = b'{"status":true,"message":"success"}'
#: Answer to a push that failed verification, in the same shape, so ZTO would retry it.
PUSH_REJECT = b'{"status":false,"message":"data_digest error"}'
MSG_TYPE = "Traces"


def reject_ack() -> tuple[bytes, str]:
    """Body and media type to answer a push that failed verification."""
    return PUSH_REJECT, ACK_MEDIA_TYPE


def parse(body: bytes, content_type: str, app_secret: str, *, carrier_code: str = "zto") -> Push:
    """Verify and parse one track push into an incremental snapshot of its one event."""
    if not app_secret:  # fail closed before reading anything
        raise SignatureInvalid("no app_secret configured for zto: pushes cannot be verified")
    fields = md5b64.form_fields(body, content_type)
    digest = md5b64.single(fields, "data_digest")
    if not digest:
        raise SignatureInvalid("zto push has no data_digest")
    data = md5b64.single(fields, "data")
    if data is None:
        raise MalformedPush("zto push has no data")
    md5b64.verify(data, digest, app_secret, carrier="zto")
    msg_type = md5b64.single(fields, "msg_type")
    if msg_type is not None and msg_type != MSG_TYPE.encode():
        raise MalformedPush(f"zto push msg_type is {msg_type.decode('latin-1')!r}, not {MSG_TYPE}")
    try:
        item = json.loads(data.decode("utf-8"))
    except ValueError as exc:  # includes UnicodeDecodeError
        raise MalformedPush(f"data is not UTF-8 JSON: {exc}") from exc
    if not isinstance(item, dict):
        raise MalformedPush("data is not a JSON object")
    try:
        waybill_no = wire.text_of(item, "billCode")
        if not waybill_no:
            raise wire.PayloadError("data has no billCode")
        event = wire.trace_event(item)
        key = md5b64.message_key(waybill_no, event.code, wire.text_of(item, "actionTime"))
    except wire.PayloadError as exc:
        raise MalformedPush(str(exc)) from exc
    snapshot = wire.snapshot(carrier_code, waybill_no, [event], incremental=True)
    return Push(message_key=key, tracking=snapshot, ack_body=PUSH_ACK, ack_media_type=ACK_MEDIA_TYPE)
