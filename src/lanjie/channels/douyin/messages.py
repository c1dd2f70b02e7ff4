"""Inbound Douyin message pushes: verify the ``event-sign`` over the raw body first, then parse.

A push is a JSON array of ``{"tag", "msg_id", "data"}`` where ``data`` is a JSON-encoded string; the
headers are ``app-id`` (the app key) and ``event-sign`` = lower-case hex MD5(app_key + raw body +
app_secret) (sales-platforms.md §1.5; minibear2021/doudian ``core.py``; zsmhub/doudian-sdk
``message/``). Douyin expects ``{"code":0,"msg":"success"}`` and retries anything else.

Verification fails closed: no secret, no header, another app's id or a digest that differs is
SignatureInvalid, and nothing of the body is read before it passes.

Decision: a message of another Douyin shop (``data.shop_id`` ≠ the account's ``shop_id``, e.g. an app
pushing for several shops to one URL) is kept as kind ``other`` without ``ref`` or ``order_id``, so it
is acknowledged and de-duplicated but never acted on for this shop, and it is logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any

from lanjie.channels.base import ChannelMessage, Inbound, MessageKind
from lanjie.channels.errors import MalformedMessage, SignatureInvalid
from lanjie.domain.states import ArbitrationStatus

from . import codes
from .wire import PayloadError, id_of, int_of, object_of, text_of, unix_time

log = logging.getLogger(__name__)

ACK_MEDIA_TYPE = "application/json"


def reject_ack() -> tuple[bytes, str]:
    """Body and media type to answer a push that failed verification (Douyin retries it)."""
    return codes.PUSH_REJECT, ACK_MEDIA_TYPE


def event_sign(body: bytes, *, app_key: str, app_secret: str) -> str:
    """The push signature: lower-case hex MD5 of app_key + raw body + app_secret."""
    return hashlib.md5(app_key.encode("utf-8") + body + app_secret.encode("utf-8")).hexdigest()


def verify(body: bytes, headers: Mapping[str, str], *, app_key: str, app_secret: str) -> None:
    """SignatureInvalid unless the push carries this app's id and a matching ``event-sign``."""
    if not app_secret or not app_key:  # fail closed before reading anything
        raise SignatureInvalid("no app_key/app_secret configured for douyin: pushes cannot be verified")
    lowered = {name.lower(): value for name, value in headers.items()}
    signature, app_id = lowered.get("event-sign", ""), lowered.get("app-id", "")
    if not signature:
        raise SignatureInvalid("douyin push has no event-sign header")
    if not app_id:
        raise SignatureInvalid("douyin push has no app-id header")
    if not hmac.compare_digest(app_id.strip().encode("utf-8"), app_key.encode("utf-8")):
        raise SignatureInvalid("douyin push is for another app (app-id does not match app_key)")
    expected = event_sign(body, app_key=app_key, app_secret=app_secret)
    if not hmac.compare_digest(signature.strip().lower().encode("utf-8"), expected.encode("ascii")):
        raise SignatureInvalid("douyin push event-sign does not match")


def parse(body: bytes, headers: Mapping[str, str], *, app_key: str, app_secret: str, shop_id: str) -> Inbound:
    """Verify and parse one push into its messages, with the acknowledgement to send after commit."""
    verify(body, headers, app_key=app_key, app_secret=app_secret)
    try:
        items = json.loads(body.decode("utf-8"))
    except ValueError as exc:  # includes UnicodeDecodeError
        raise MalformedMessage(f"douyin push body is not UTF-8 JSON: {exc}") from exc
    if not isinstance(items, list):
        raise MalformedMessage("douyin push body is not a JSON array")
    messages: list[ChannelMessage] = []
    for index, item in enumerate(items):
        try:
            messages.append(message(item, shop_id=shop_id))
        except PayloadError as exc:
            raise MalformedMessage(f"douyin push item {index}: {exc}") from exc
    return Inbound(messages=tuple(messages), ack_body=codes.PUSH_ACK, ack_media_type=ACK_MEDIA_TYPE)


def _data_of(item: Mapping[str, Any]) -> dict[str, Any]:
    raw = item.get("data")
    if not isinstance(raw, str):
        raise PayloadError("data is missing" if raw is None else "data is not a JSON-encoded string")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise PayloadError(f"data is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PayloadError("data is not a JSON object")
    return data


def _tag_of(item: Mapping[str, Any]) -> str:
    tag = item.get("tag")
    if isinstance(tag, bool) or not isinstance(tag, str | int) or str(tag).strip() == "":
        raise PayloadError("tag is missing" if tag in (None, "") else "tag is not a tag")
    return str(tag).strip()


def _version(key: str, data: Mapping[str, Any]) -> str | None:
    """``update_time`` in Unix seconds. The SDK types it as a time in some messages: a version that is
    not Unix seconds is logged and left out (the case is read again before anything is done)."""
    try:
        update_time = int_of(data, "update_time")
    except PayloadError:
        log.warning("douyin message %s has an update_time that is not Unix seconds: %r", key, data.get("update_time"))
        return None
    return str(update_time) if update_time > 0 else None


def _arbitration(tag: str, data: Mapping[str, Any]) -> ArbitrationStatus:
    said = codes.ARBITRATION_TAGS[tag]
    if tag == "216" and data.get("arbitrate_status") is not None:  # the verdict: who won, when it says
        verdict = codes.arbitration_status(int_of(data, "arbitrate_status"))
        if verdict in (ArbitrationStatus.buyer_won, ArbitrationStatus.merchant_won):
            return verdict
    return said


def message(item: object, *, shop_id: str) -> ChannelMessage:
    """One verified item of a push; PayloadError names what is missing or wrong."""
    if not isinstance(item, Mapping):
        raise PayloadError("an item is not an object")
    tag = _tag_of(item)
    key = id_of(item, "msg_id")
    data = _data_of(item)
    their_shop = id_of(data, "shop_id", required=False)
    if shop_id and their_shop and their_shop != shop_id:
        log.warning("douyin message %s (tag %s) is for shop %s, not %s: kept as other, not acted on",
                    key, tag, their_shop, shop_id)
        return ChannelMessage(message_key=key, topic=tag, kind=MessageKind.other, data=data)
    kind = codes.message_kind(tag)
    ref: str | None = None
    if codes.is_after_sale_tag(tag):
        ref = id_of(data, "aftersale_id", required=kind is not MessageKind.other) or None
    order_id = id_of(data, "p_id", required=False) or None
    waybill_no = company_code = None
    if tag in codes.WAYBILL_TAGS:
        logistics = object_of(data, "logistics_msg", required=True)
        waybill_no = text_of(logistics, "logistics_code").strip() or None
        company_code = text_of(logistics, "express_company_id").strip() or None
        if waybill_no is None:
            raise PayloadError("logistics_msg.logistics_code is missing")
    return ChannelMessage(
        message_key=key,
        topic=tag,
        kind=kind,
        ref=ref,
        order_id=order_id,
        version=_version(key, data),
        arbitration=_arbitration(tag, data) if tag in codes.ARBITRATION_TAGS else None,
        deadline_at=unix_time(int_of(data, "status_deadline", default=None)) if tag == "209" else None,
        waybill_no=waybill_no,
        company_code=company_code,
        data=data,
    )
