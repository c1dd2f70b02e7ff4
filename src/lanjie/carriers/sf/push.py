"""Inbound SF route pushes: verify the msgDigest over the raw fields first, then parse.

*Sandbox choice* (§4.5 says only that "some integrations receive it form-encoded and verify
``msgDigest`` with the request recipe"): a route push is a form POST of ``msgData`` (the JSON
``{"Body": {"WaybillRoute": [...]}}``), ``timestamp`` and ``msgDigest`` = Base64(MD5(Java-URL-encode(
msgData + timestamp + checkWord))). The digest covers the bytes of ``msgData`` and ``timestamp``
exactly as received once form-decoded: never a re-serialised JSON, and not even a charset decoding.
Nothing is parsed before the digest verifies, and without a checkWord nothing verifies.

Route pushes are incremental (only new route nodes, §4.5, §18) and may hold several waybills.
lanjie's ``Push`` holds one tracking snapshot, so the routes of the first waybill are taken and any
other waybill's are dropped with a warning (query_tracking recovers them).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from lanjie.carriers.base import Push
from lanjie.carriers.errors import MalformedPush, SignatureInvalid

from . import wire

log = logging.getLogger(__name__)

ACK_MEDIA_TYPE = "application/json"
#: The acknowledgement SF expects for a route push (§4.5, §18).
PUSH_ACK = '{"return_code":"0000","return_msg":"成功"}'.encode()
#: What to answer, in SF's format, when a push fails verification or parsing (*sandbox choice*: any
#: return_code but 0000 makes SF push again).
PUSH_REJECT = '{"return_code":"1000","return_msg":"签名验证失败"}'.encode()
#: The courier code of snapshots made from pushes (SF's own platform serves only SF).
CARRIER_CODE = "sf"

_FORM = "application/x-www-form-urlencoded"
_MAX_FIELDS = 32  # a push has three; more is not a push


def reject_ack() -> tuple[bytes, str]:
    """Body and media type to answer a push that failed verification (SF then pushes again)."""
    return PUSH_REJECT, ACK_MEDIA_TYPE


def _form_fields(body: bytes, content_type: str) -> dict[str, list[bytes]]:
    """The form's fields, each value as the exact bytes it percent-decodes to."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in ("", _FORM):
        raise MalformedPush(f"expected a form, got {media_type!r}")
    try:
        # latin-1 maps bytes to characters one to one, so values come back byte for byte and the
        # digest is checked before any charset decoding could change them.
        fields = parse_qs(body.decode("latin-1"), keep_blank_values=True, strict_parsing=True,
                          encoding="latin-1", errors="strict", max_num_fields=_MAX_FIELDS)
    except ValueError as exc:
        raise MalformedPush(f"not a form body: {exc}") from exc
    return {name: [value.encode("latin-1") for value in values] for name, values in fields.items()}


def _single(fields: Mapping[str, list[bytes]], name: str) -> bytes | None:
    values = fields.get(name)
    if values is None:
        return None
    if len(values) != 1:
        # Two values would let one be verified and the other parsed.
        raise MalformedPush(f"field {name!r} appears {len(values)} times")
    return values[0]


def verify(msg_data: bytes, timestamp: bytes, digest: bytes, check_word: str) -> None:
    """Raise SignatureInvalid unless ``digest`` is the msgDigest of msgData + timestamp with ``check_word``."""
    if not check_word:
        raise SignatureInvalid("no check_word configured for SF: pushes cannot be verified")
    expected = wire.msg_digest(msg_data, timestamp, check_word).encode("ascii")
    if not hmac.compare_digest(expected, digest):
        raise SignatureInvalid("SF push msgDigest does not match")


def parse(body: bytes, content_type: str, check_word: str) -> Push:
    """Verify and parse one route push."""
    if not check_word:  # fail closed before reading anything
        raise SignatureInvalid("no check_word configured for SF: pushes cannot be verified")
    fields = _form_fields(body, content_type)
    digest = _single(fields, "msgDigest")
    if not digest:
        raise SignatureInvalid("SF push has no msgDigest")
    msg_data = _single(fields, "msgData")
    timestamp = _single(fields, "timestamp")
    if msg_data is None or timestamp is None:
        raise MalformedPush("SF push needs msgData and timestamp")
    verify(msg_data, timestamp, digest, check_word)
    try:
        data = json.loads(msg_data.decode("utf-8"))
    except ValueError as exc:  # includes UnicodeDecodeError
        raise MalformedPush(f"msgData is not UTF-8 JSON: {exc}") from exc
    try:
        return _route_push(data, msg_data)
    except wire.PayloadError as exc:
        raise MalformedPush(str(exc)) from exc


def _routes(data: Any) -> list[Mapping[str, Any]]:
    body = data.get("Body") if isinstance(data, Mapping) else None
    routes = body.get("WaybillRoute") if isinstance(body, Mapping) else None
    if not isinstance(routes, list) or not routes:
        raise wire.PayloadError("msgData has no Body.WaybillRoute list")
    if not all(isinstance(route, Mapping) for route in routes):
        raise wire.PayloadError("a WaybillRoute is not an object")
    return routes


def message_key(routes: list[Mapping[str, Any]], msg_data: bytes) -> str:
    """De-duplication identity: the route ``id``s (§18), or the raw msgData when a route has none."""
    ids = [str(route.get("id") or "") for route in routes]
    source = "\n".join(ids).encode("utf-8") if all(ids) else msg_data
    return hashlib.sha256(source).hexdigest()


def _route_push(data: Any, msg_data: bytes) -> Push:
    routes = _routes(data)
    waybills = list(dict.fromkeys(str(route.get("mailno") or "") for route in routes))
    if "" in waybills:
        raise wire.PayloadError("a WaybillRoute has no mailno")
    waybill_no = waybills[0]
    if len(waybills) > 1:
        log.warning("sf route push holds %d waybills; only %s is taken, dropped: %s",
                    len(waybills), waybill_no, ", ".join(waybills[1:]))
    events = [wire.route_event(route) for route in routes if str(route.get("mailno") or "") == waybill_no]
    snapshot = wire.snapshot(events, carrier_code=CARRIER_CODE, waybill_no=waybill_no, incremental=True)
    return Push(message_key=message_key(routes, msg_data), tracking=snapshot, ack_body=PUSH_ACK,
                ack_media_type=ACK_MEDIA_TYPE)
