"""The TOP gateway on the wire: the signed form, the answer envelope, money and time, all pure functions.

A call is ``POST {api}/router/rest`` with a UTF-8 form (wire.md): ``method``, ``app_key``,
``session``, ``timestamp`` (Beijing ``YYYY-MM-DD HH:MM:SS``), ``format=json``, ``v=2.0``,
``sign_method=md5``, the business parameters, then ``sign`` = upper-case hex
MD5(secret + k1 + v1 + k2 + v2 + … + secret) over every other non-empty field sorted by name.
The answer is ``{"<method without taobao., dots as _>_response": {...}}`` or ``{"error_response": {...}}``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from lanjie.channels.errors import ChannelRejected, RejectionKind

from . import codes

ROUTER_PATH = "/router/rest"
BEIJING = timezone(timedelta(hours=8), "CST")  # China has had no daylight saving time since 1991
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class PayloadError(ValueError):
    """A Taobao payload is not shaped as expected (each caller maps it to its own error)."""


def top_sign(fields: Mapping[str, str], secret: str) -> str:
    """TOP's md5 signature: every non-empty field but ``sign``, sorted by name, wrapped in the secret."""
    pieces = "".join(name + value for name, value in sorted(fields.items()) if name != "sign" and value != "")
    return hashlib.md5((secret + pieces + secret).encode("utf-8")).hexdigest().upper()


def beijing_time(at: datetime) -> str:
    """An aware instant as TOP writes it: Beijing wall-clock time."""
    return at.astimezone(BEIJING).strftime(TIME_FORMAT)


def signed_form(method: str, params: Mapping[str, str], *, app_key: str, session: str, secret: str,
                now: datetime) -> dict[str, str]:
    """The form of one call, in the order it is sent; empty business parameters are left out."""
    form = {"method": method, "app_key": app_key, "session": session, "timestamp": beijing_time(now),
            "format": "json", "v": "2.0", "sign_method": "md5"}
    form.update({name: value for name, value in params.items() if value != ""})
    form["sign"] = top_sign(form, secret)
    return form


def response_key(method: str) -> str:
    """The answer's wrapper: ``taobao.refund.get`` → ``refund_get_response``."""
    return method.removeprefix("taobao.").replace(".", "_") + "_response"


def rejection(error: Mapping[str, Any]) -> ChannelRejected:
    """The ChannelRejected an ``error_response`` stands for (the sub-code names it when there is one)."""
    code, sub_code = text_of(error, "code"), text_of(error, "sub_code")
    message = text_of(error, "sub_msg") or text_of(error, "msg")
    return ChannelRejected(sub_code or code, message, codes.rejection_kind(code, sub_code))


def unwrap(method: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The answer's content, ChannelRejected for an ``error_response``, PayloadError for anything else."""
    error = body.get("error_response")
    if isinstance(error, Mapping):
        raise rejection(error)
    content = body.get(response_key(method))
    if not isinstance(content, dict):
        raise PayloadError(f"the answer has no {response_key(method)}")
    return content


def text_of(data: Mapping[str, Any], name: str) -> str:
    """A field as text ("" when absent or null); numbers keep their digits (ids and versions are Numbers)."""
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def flag_of(data: Mapping[str, Any], name: str) -> bool:
    """A Boolean field that may come as JSON true/false or as the text "true"/"false"."""
    value = data.get(name)
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def yuan_to_fen(text: str, field: str) -> int:
    """A yuan amount as TOP writes it ("12.30") in fen, exactly (Decimal, never float)."""
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise PayloadError(f"{field} {text!r} is not an amount in yuan") from exc
    fen = amount * 100
    if not amount.is_finite() or fen != fen.to_integral_value() or amount < 0:
        raise PayloadError(f"{field} {text!r} is not a whole number of fen")
    return int(fen)


def fen_to_yuan(fen: int) -> str:
    """Fen as TOP's yuan text: 1230 → "12.30"."""
    return f"{fen // 100}.{fen % 100:02d}"


def beijing_to_utc(text: str, field: str) -> datetime:
    """A TOP time (Beijing ``YYYY-MM-DD HH:MM:SS``) as an aware UTC instant."""
    try:
        local = datetime.strptime(text, TIME_FORMAT)
    except ValueError as exc:
        raise PayloadError(f"{field} {text!r} is not a time as YYYY-MM-DD HH:MM:SS") from exc
    return local.replace(tzinfo=BEIJING).astimezone(UTC)


def digits(value: str, field: str) -> str:
    """A TOP Number parameter (refund id, version) checked before it is sent."""
    if not value.isascii() or not value.isdigit():
        raise ChannelRejected("invalid-parameter", f"{field} must be a number, not {value!r}",
                              RejectionKind.invalid)
    return value
