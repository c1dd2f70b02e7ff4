"""Inbound STO trace pushes: verify ``data_digest`` over the raw ``content`` field first, then parse.

Everything about STO's push is a *sandbox choice* modelled on its request side (carrier-protocols.md
§7): a form of ``api_name=STO_TRACE_PUSH``, ``content`` (one trace event as JSON) and ``data_digest``
= Base64(raw MD5(content + secretKey)); one event per push (incremental); acknowledged with
``{"success":true}``.
"""

from __future__ import annotations

import json

from lanjie.carriers import md5b64
from lanjie.carriers.base import Push
from lanjie.carriers.errors import MalformedPush, SignatureInvalid

from . import wire

ACK_MEDIA_TYPE = "application/json"
#: Sandbox choice: the acknowledgement of a push.
PUSH_ACK = b'{"success":true}'
#: Answer to a push that failed verification, in the gateway's answer shape, so STO would retry it.
PUSH_REJECT = b'{"success":false,"errorCode":"S01","errorMsg":"data_digest error"}'


def reject_ack() -> tuple[bytes, str]:
    """Body and media type to answer a push that failed verification."""
    return PUSH_REJECT, ACK_MEDIA_TYPE


def parse(body: bytes, content_type: str, secret_key: str, *, carrier_code: str = "sto") -> Push:
    """Verify and parse one trace push into an incremental snapshot of its one event."""
    if not secret_key:  # fail closed before reading anything
        raise SignatureInvalid("no secret_key configured for sto: pushes cannot be verified")
    fields = md5b64.form_fields(body, content_type)
    digest = md5b64.single(fields, "data_digest")
    if not digest:
        raise SignatureInvalid("sto push has no data_digest")
    content = md5b64.single(fields, "content")
    if content is None:
        raise MalformedPush("sto push has no content")
    md5b64.verify(content, digest, secret_key, carrier="sto")
    api_name = md5b64.single(fields, "api_name")
    if api_name is not None and api_name != wire.PUSH_API_NAME.encode():
        raise MalformedPush(f"sto push api_name is {api_name.decode('latin-1')!r}, not {wire.PUSH_API_NAME}")
    try:
        item = json.loads(content.decode("utf-8"))
    except ValueError as exc:  # includes UnicodeDecodeError
        raise MalformedPush(f"content is not UTF-8 JSON: {exc}") from exc
    if not isinstance(item, dict):
        raise MalformedPush("content is not a JSON object")
    try:
        waybill_no = wire.text_of(item, "waybillNo")
        if not waybill_no:
            raise wire.PayloadError("content has no waybillNo")
        event = wire.trace_event(item)
        key = md5b64.message_key(waybill_no, event.code, wire.text_of(item, "opTime"))
    except wire.PayloadError as exc:
        raise MalformedPush(str(exc)) from exc
    snapshot = wire.snapshot(carrier_code, waybill_no, [event], incremental=True)
    return Push(message_key=key, tracking=snapshot, ack_body=PUSH_ACK, ack_media_type=ACK_MEDIA_TYPE)
