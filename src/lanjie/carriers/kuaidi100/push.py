"""Inbound Kuaidi100 pushes: verify the signature over the raw field first, then parse.

Tracking pushes, intercept result callbacks and work-order result callbacks arrive at the same callback
URL, all as a form with
``param`` (JSON) and ``sign`` = MD5 hex of ``param + salt``. The signature covers the bytes of the
``param`` value exactly as received once form-decoded (which is how Kuaidi100 computes it): never a
re-serialised JSON, and not even a charset decoding. Nothing is parsed before the signature
verifies, and without a salt nothing verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from lanjie.carriers.base import InterceptResult, Push
from lanjie.carriers.errors import MalformedPush, SignatureInvalid

from . import codes, wire, workorder

ACK_MEDIA_TYPE = "application/json"
#: The acknowledgement Kuaidi100 documents for a push it may stop retrying (§2.3, §18).
PUSH_ACK = '{"result":true,"returnCode":"200","message":"成功"}'.encode()
#: What to answer, in Kuaidi100's own format, when a push fails verification or parsing.
PUSH_REJECT = b'{"result":false,"returnCode":"400","message":"sign error"}'

_MAX_FIELDS = 32  # a real push has two; more is not a push


def reject_ack() -> tuple[bytes, str]:
    """Body and media type to answer a push that failed verification (Kuaidi100 then retries)."""
    return PUSH_REJECT, ACK_MEDIA_TYPE


def _form_fields(body: bytes, content_type: str) -> dict[str, list[bytes]]:
    """The form's fields, each value as the exact bytes it percent-decodes to."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in ("", wire.FORM_MEDIA_TYPE):
        raise MalformedPush(f"expected a form, got {media_type!r}")
    try:
        # latin-1 maps bytes to characters one to one, so the values come back byte for byte and
        # the signature is checked before any charset decoding can change them. Strict parsing
        # refuses a field without "=".
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


def verify(param: str | bytes, sign: str | bytes, salt: str) -> None:
    """Raise SignatureInvalid unless ``sign`` is MD5(param + salt) in hex, either case, and salt is set."""
    if not salt:
        raise SignatureInvalid("no salt configured for Kuaidi100: pushes cannot be verified")
    raw_param = param.encode("utf-8") if isinstance(param, str) else param
    raw_sign = sign.encode("utf-8") if isinstance(sign, str) else sign
    expected = hashlib.md5(raw_param + salt.encode("utf-8")).hexdigest().encode("ascii")
    # The case of the hex is not documented (the Java demo sends upper case): compare lower-cased.
    if not hmac.compare_digest(expected, raw_sign.lower()):
        raise SignatureInvalid("Kuaidi100 push signature does not match")


def parse(body: bytes, content_type: str, salt: str) -> Push:
    """Verify and parse one push: a tracking push (``lastResult``), an intercept result callback (``taskId``)
    or a work-order result callback (``workorderId``)."""
    if not salt:  # fail closed before reading anything
        raise SignatureInvalid("no salt configured for Kuaidi100: pushes cannot be verified")
    fields = _form_fields(body, content_type)
    sign = _single(fields, "sign")
    if not sign:
        raise SignatureInvalid("Kuaidi100 push has no sign")
    param = _single(fields, "param")
    if param is None:
        raise MalformedPush("Kuaidi100 push has no param")
    verify(param, sign, salt)
    try:
        data = json.loads(param.decode("utf-8"))
    except ValueError as exc:  # includes UnicodeDecodeError
        raise MalformedPush(f"param is not UTF-8 JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedPush("param is not a JSON object")
    # A full-history push repeated byte for byte is the duplicate; one new scan changes the digest.
    message_key = hashlib.sha256(param).hexdigest()
    try:
        if "lastResult" in data:
            return _tracking_push(data, message_key)
        if "taskId" in data:
            return _intercept_push(data, message_key)
        if workorder.is_callback(data):
            return workorder.callback_push(data, message_key, PUSH_ACK, ACK_MEDIA_TYPE)
    except wire.PayloadError as exc:
        raise MalformedPush(str(exc)) from exc
    raise MalformedPush("param is neither a tracking push, an intercept result nor a work-order result")



def _tracking_push(data: Mapping[str, Any], message_key: str) -> Push:
    result = data["lastResult"]
    if not isinstance(result, Mapping):
        raise wire.PayloadError("lastResult is not an object")
    # Kuaidi100's codes read back as lanjie's: a correction to ``yuantong`` makes the parcel ``yto``.
    corrected = wire.text_field(data, "comNew") if wire.text_field(data, "autoCheck") == "1" else ""
    snapshot = wire.tracking_snapshot(
        result,
        carrier_code=codes.courier_code(wire.text_field(data, "comOld")),
        waybill_no="",
        subscription=wire.text_field(data, "status"),
        corrected_carrier_code=codes.courier_code(corrected) or None,
    )
    if not snapshot.waybill_no:
        raise wire.PayloadError("lastResult has no nu (waybill number)")
    return Push(message_key=message_key, tracking=snapshot, ack_body=PUSH_ACK, ack_media_type=ACK_MEDIA_TYPE)


def _intercept_push(data: Mapping[str, Any], message_key: str) -> Push:
    waybill_no = wire.text_field(data, "kuaidinum")
    if not waybill_no:
        raise wire.PayloadError("intercept result has no kuaidinum")
    message = wire.text_field(data, "message")
    rule = codes.callback_rule(wire.text_field(data, "status"), wire.text_field(data, "code"), message)
    result = InterceptResult(
        waybill_no=waybill_no,
        task_id=wire.text_field(data, "taskId") or None,
        outcome=rule.outcome,
        reason=rule.reason,
        message=message,
    )
    return Push(message_key=message_key, intercept=result, ack_body=PUSH_ACK, ack_media_type=ACK_MEDIA_TYPE)
