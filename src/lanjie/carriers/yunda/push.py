"""Inbound Yunda track pushes: verify the signature over the raw body first, then parse.

*Sandbox choice* (Yunda documents a push API but not its wire format): a push is a JSON body
``{mailno, orderid, status, steps}`` carrying the parcel's **full** history (like Kdniao and
Kuaidi100, so lanjie replaces what it holds instead of merging), signed with the request recipe:
header ``sign`` = lower-case hex MD5 of the raw body + ``_`` + appSecret, with ``app-key`` and
``req-time``. The acknowledgement is ``{"result":true,"code":"0000","message":"成功"}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

from lanjie.carriers.base import Push
from lanjie.carriers.errors import MalformedPush, SignatureInvalid

from . import wire

ACK_MEDIA_TYPE = "application/json"
#: The acknowledgement after which the sandbox stops retrying (sandbox choice).
PUSH_ACK = '{"result":true,"code":"0000","message":"成功"}'.encode()
#: What to answer, in Yunda's format, when a push fails verification or parsing.
PUSH_REJECT = '{"result":false,"code":"1002","message":"签名错误"}'.encode()


def reject_ack() -> tuple[bytes, str]:
    """Body and media type to answer a push that failed verification (Yunda then retries)."""
    return PUSH_REJECT, ACK_MEDIA_TYPE


def verify(body: bytes, sign: str, app_secret: str) -> None:
    """Raise SignatureInvalid unless ``sign`` is the lower-case hex MD5 of body + ``_`` + secret."""
    if not app_secret:
        raise SignatureInvalid("no app_secret configured for Yunda: pushes cannot be verified")
    expected = wire.sign(body, app_secret).encode("ascii")
    # Documented as lower case; a sender writing upper case is tolerated.
    if not hmac.compare_digest(expected, sign.strip().lower().encode("utf-8", "replace")):
        raise SignatureInvalid("Yunda push signature does not match")


def message_key(waybill_no: str, data: Mapping[str, object], body: bytes) -> str:
    """De-duplication identity: the waybill, how many steps, and the newest step (time, action, text).

    A full-history push repeated is the duplicate; a push with a new scan has one more step, even
    when the new scan carries the same second as the one before it (an intercept caught at a scan).
    """
    steps = wire.steps_of(data)
    if not steps:
        return hashlib.sha256(body).hexdigest()
    # The later of two steps in the same second is the newer (the sandbox sends oldest first).
    _, _, newest = max((wire.beijing_time(wire.text(step, "time")), index, step) for index, step in enumerate(steps))
    parts = ["yunda", waybill_no, str(len(steps)), wire.text(newest, "time"), wire.text(newest, "action"),
             wire.text(newest, "description")]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def parse(body: bytes, content_type: str, headers: Mapping[str, str] | None, app_secret: str) -> Push:
    """Verify and parse one track push."""
    if not app_secret:  # fail closed before reading anything
        raise SignatureInvalid("no app_secret configured for Yunda: pushes cannot be verified")
    sign = {name.lower(): value for name, value in (headers or {}).items()}.get("sign", "")
    if not sign:
        raise SignatureInvalid("Yunda push has no sign header")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in ("", "application/json"):
        raise MalformedPush(f"expected JSON, got {media_type!r}")
    verify(body, sign, app_secret)
    try:
        data = json.loads(body.decode("utf-8"))
    except ValueError as exc:  # includes UnicodeDecodeError
        raise MalformedPush(f"body is not UTF-8 JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedPush("body is not a JSON object")
    try:
        waybill_no = wire.text(data, "mailno")
        if not waybill_no:
            raise wire.PayloadError("push has no mailno")
        snapshot = wire.tracking_snapshot(data, waybill_no)
        key = message_key(waybill_no, data, body)
    except wire.PayloadError as exc:
        raise MalformedPush(str(exc)) from exc
    return Push(message_key=key, tracking=snapshot, ack_body=PUSH_ACK, ack_media_type=ACK_MEDIA_TYPE)
