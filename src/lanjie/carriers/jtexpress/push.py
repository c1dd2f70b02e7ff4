"""Inbound J&T trace pushes: verify the ``digest`` header over the raw ``bizContent`` field, then parse.

Documented (carrier-protocols.md §6, §18): a form with ``bizContent`` and the digest headers, digest =
Base64(raw MD5(bizContent + privateKey)), one event per push. *Sandbox choices*: ``bizContent`` is one
trace item (``billCode``, ``traceNode``, ``scanType``, ``scanTime``, ``desc``, ``scanNetworkName`` …),
and the acknowledgement is ``{"code":"1","msg":"success"}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from lanjie.carriers import md5b64
from lanjie.carriers.base import Push
from lanjie.carriers.errors import MalformedPush, SignatureInvalid

from . import wire

ACK_MEDIA_TYPE = "application/json"
#: Sandbox choice: the acknowledgement of a push.
PUSH_ACK = b'{"code":"1","msg":"success"}'
#: Answer to a push that failed verification, in J&T's answer shape, so J&T would retry it.
PUSH_REJECT = b'{"code":"145003030","msg":"headers signature verification failed"}'


def reject_ack() -> tuple[bytes, str]:
    """Body and media type to answer a push that failed verification."""
    return PUSH_REJECT, ACK_MEDIA_TYPE


def parse(body: bytes, content_type: str, headers: Mapping[str, str] | None, private_key: str, *,
          carrier_code: str = "jtexpress") -> Push:
    """Verify and parse one trace push into an incremental snapshot of its one event."""
    if not private_key:  # fail closed before reading anything
        raise SignatureInvalid("no private_key configured for jtexpress: pushes cannot be verified")
    digest = {name.lower(): value for name, value in (headers or {}).items()}.get("digest")
    if not digest:
        raise SignatureInvalid("jtexpress push has no digest header")
    biz_content = md5b64.single(md5b64.form_fields(body, content_type), "bizContent")
    if biz_content is None:
        raise MalformedPush("jtexpress push has no bizContent")
    md5b64.verify(biz_content, digest, private_key, carrier="jtexpress")
    try:
        item = json.loads(biz_content.decode("utf-8"))
    except ValueError as exc:  # includes UnicodeDecodeError
        raise MalformedPush(f"bizContent is not UTF-8 JSON: {exc}") from exc
    if not isinstance(item, dict):
        raise MalformedPush("bizContent is not a JSON object")
    try:
        waybill_no = wire.text_of(item, "billCode")
        if not waybill_no:
            raise wire.PayloadError("bizContent has no billCode")
        event = wire.trace_event(item)
        key = md5b64.message_key(waybill_no, event.code, wire.text_of(item, "scanTime"))
    except wire.PayloadError as exc:
        raise MalformedPush(str(exc)) from exc
    snapshot = wire.snapshot(carrier_code, waybill_no, [event], incremental=True)
    return Push(message_key=key, tracking=snapshot, ack_body=PUSH_ACK, ack_media_type=ACK_MEDIA_TYPE)
