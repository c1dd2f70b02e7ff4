"""Inbound Kdniao trace pushes (RequestType 101): verify DataSign over the raw field first, then parse.

A push is a form of ``RequestData`` (JSON ``{EBusinessID, PushTime, Count, Data: [TracingData]}``),
``DataSign`` and ``RequestType=101`` (carrier-protocols §3.3). Each TracingData carries the parcel's
**full** history. The signature covers the bytes of ``RequestData`` exactly as received once
form-decoded; nothing is parsed before it verifies, and without an AppKey nothing verifies.

A push may carry up to 10 parcels, but lanjie's ``Push`` holds one snapshot: the first parcel is
parsed and the others are logged and dropped. Nothing is lost for good: Kdniao pushes a parcel's
full history again with its next scan, and lanjie also queries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from lanjie.carriers.base import Push
from lanjie.carriers.errors import MalformedPush, SignatureInvalid

from . import codes, wire

log = logging.getLogger(__name__)

ACK_MEDIA_TYPE = "application/json"
#: What to answer, in Kdniao's format, when a push fails verification or parsing (Kdniao retries).
PUSH_REJECT = b'{"EBusinessID":"","UpdateTime":"","Success":false,"Reason":"DataSign error"}'

_MAX_FIELDS = 32  # a real push has three; more is not a push


def reject_ack() -> tuple[bytes, str]:
    """Body and media type to answer a push that failed verification."""
    return PUSH_REJECT, ACK_MEDIA_TYPE


def ack_body(ebusiness_id: str, at: datetime) -> bytes:
    """The acknowledgement Kdniao expects: ``{EBusinessID, UpdateTime, Success: true, Reason}``."""
    return wire.dumps({"EBusinessID": ebusiness_id, "UpdateTime": wire.wire_time(at), "Success": True,
                       "Reason": ""}).encode("utf-8")


def _form_fields(body: bytes, content_type: str) -> dict[str, list[bytes]]:
    """The form's fields, each value as the exact bytes it percent-decodes to."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in ("", "application/x-www-form-urlencoded"):
        raise MalformedPush(f"expected a form, got {media_type!r}")
    try:
        # latin-1 maps bytes to characters one to one, so values come back byte for byte and the
        # signature is checked before any charset decoding can change them.
        fields = parse_qs(body.decode("latin-1"), keep_blank_values=True, strict_parsing=True,
                          encoding="latin-1", errors="strict", max_num_fields=_MAX_FIELDS)
    except ValueError as exc:
        raise MalformedPush(f"not a form body: {exc}") from exc
    return {name: [value.encode("latin-1") for value in values] for name, values in fields.items()}


def _single(fields: Mapping[str, list[bytes]], name: str) -> bytes | None:
    values = fields.get(name)
    if values is None:
        return None
    if len(values) != 1:  # two values would let one be verified and the other parsed
        raise MalformedPush(f"field {name!r} appears {len(values)} times")
    return values[0]


def verify(request_data: bytes, data_sign: bytes, app_key: str) -> None:
    """Raise SignatureInvalid unless ``data_sign`` is Kdniao's DataSign of ``request_data``."""
    if not app_key:
        raise SignatureInvalid("no app_key configured for Kdniao: pushes cannot be verified")
    expected = wire.data_sign(request_data, app_key).encode("ascii")
    if not hmac.compare_digest(expected, data_sign):  # Base64 is case-sensitive: compare exactly
        raise SignatureInvalid("Kdniao push DataSign does not match")


def message_key(tracing: Mapping[str, Any]) -> str:
    """De-duplication identity: LogisticCode + the newest trace's AcceptTime + AcceptStation (§18), and
    the number of traces, so a new trace in the same second as the one before it still reads as new.
    """
    traces = wire.traces_of(tracing)
    newest = wire.newest_trace(traces) or {}
    parts = ["kdniao", wire.text(tracing, "LogisticCode"), str(len(traces)), wire.text(newest, "AcceptTime"),
             wire.text(newest, "AcceptStation")]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def parse(body: bytes, content_type: str, *, ebusiness_id: str, app_key: str, now: datetime) -> Push:
    """Verify and parse one trace push; ``now`` stamps the acknowledgement's UpdateTime."""
    if not app_key:  # fail closed before reading anything
        raise SignatureInvalid("no app_key configured for Kdniao: pushes cannot be verified")
    fields = _form_fields(body, content_type)
    data_sign = _single(fields, "DataSign")
    if not data_sign:
        raise SignatureInvalid("Kdniao push has no DataSign")
    request_data = _single(fields, "RequestData")
    if request_data is None:
        raise MalformedPush("Kdniao push has no RequestData")
    verify(request_data, data_sign, app_key)
    request_type = _single(fields, "RequestType")
    if request_type != wire.PUSH_TYPE.encode("ascii"):
        raise MalformedPush(f"RequestType {request_type!r} is not a trace push (101)")
    try:
        data = json.loads(request_data.decode("utf-8"))
    except ValueError as exc:  # includes UnicodeDecodeError
        raise MalformedPush(f"RequestData is not UTF-8 JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedPush("RequestData is not a JSON object")
    try:
        sender = wire.text(data, "EBusinessID")
        if ebusiness_id and sender != ebusiness_id:
            raise wire.PayloadError(f"push is for EBusinessID {sender!r}, not this account's")
        parcels = data.get("Data")
        if not isinstance(parcels, list) or not parcels or not all(isinstance(p, Mapping) for p in parcels):
            raise wire.PayloadError("Data is not a non-empty list of TracingData")
        snapshots = []
        for tracing in parcels:  # up to 10 parcels per push, each with its full history
            waybill_no = wire.text(tracing, "LogisticCode")
            if not waybill_no:
                raise wire.PayloadError("TracingData has no LogisticCode")
            snapshots.append(wire.tracking_snapshot(
                tracing, carrier_code=codes.courier_of(wire.text(tracing, "ShipperCode")), waybill_no=waybill_no))
        keys = [message_key(tracing) for tracing in parcels]
        key = keys[0] if len(keys) == 1 else hashlib.sha256("\n".join(keys).encode("ascii")).hexdigest()
    except wire.PayloadError as exc:
        raise MalformedPush(str(exc)) from exc
    return Push(message_key=key, tracking=snapshots[0], trackings=tuple(snapshots[1:]),
                ack_body=ack_body(ebusiness_id or sender, now), ack_media_type=ACK_MEDIA_TYPE)

