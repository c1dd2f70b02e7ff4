"""Redaction of what lanjie keeps of each carrier exchange (audit log, case timeline), for every adapter.

Credentials and signatures become ``***``; phone numbers keep their last four digits. Fields are
redacted by name, inside the JSON ``param`` too; then every configured secret value is scrubbed
wherever it still appears (a carrier echoing a key back, a non-JSON error page), and so is any
mainland mobile number in free text (a courier's number in a trace's ``context``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
MAX_BODY_CHARS = 64 * 1024  # an HTML error page need not fill the audit table

# Compared lower-cased. "code" is not here: it is an answer code in responses.
SECRET_FIELDS = frozenset({
    "key", "customer", "sign", "secret", "salt", "partnerkey", "partnersecret", "appkey", "appsecret",
    "password", "checkword", "msgdigest", "datasign", "data_digest", "digest", "privatekey", "secretkey",
    "access_token", "accesstoken", "client_secret", "authorization", "x-datadigest", "x-appkey", "app-key",
    "customerpsw", "refresh_token",
})
PHONE_FIELDS = frozenset({"mobile", "tel", "phone", "telephone"})
# A mainland mobile number standing alone (waybill numbers and timestamps are longer digit runs).
_MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{5}([0-9]{4})(?![0-9])")


def mask_phone(value: str) -> str:
    """``13800138000`` → ``***8000``; a value of four characters or fewer is only a tail already."""
    return value if len(value) <= 4 else MASK + value[-4:]


def redact_value(value: Any) -> Any:
    """A copy of a decoded JSON value with secret and phone fields masked, at any depth."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for name, item in value.items():
            lowered = str(name).lower()
            if lowered in SECRET_FIELDS and not isinstance(item, Mapping | list):
                out[name] = MASK
            elif lowered in PHONE_FIELDS and isinstance(item, str | int):
                out[name] = mask_phone(str(item))
            else:
                out[name] = redact_value(item)
        return out
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    return value


def _scrub(text: str, secrets: Iterable[str]) -> str:
    # Longest first, so a secret containing another is masked whole. Very short values would mask
    # ordinary text, and no real credential is that short.
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _MOBILE.sub(MASK + r"\1", text)


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


#: Form fields that carry a JSON document, shown decoded (Kuaidi100 ``param``, SF ``msgData``, …).
JSON_FIELDS = frozenset({"param", "msgData", "RequestData", "bizContent", "content", "data", "logistics_interface",
                         "360buy_param_json", "param_json"})


def redact_form(fields: Mapping[str, str], secrets: Iterable[str]) -> str:
    """A request form as readable JSON (JSON-valued fields decoded), redacted."""
    shown: dict[str, Any] = {}
    for name, value in fields.items():
        decoded = _maybe_json(value) if name in JSON_FIELDS else None
        shown[name] = value if decoded is None else decoded
    return _scrub(json.dumps(redact_value(shown), ensure_ascii=False), secrets)


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """A response body, redacted by field name when it is JSON, and cut to a bounded length."""
    decoded = _maybe_json(text)
    shown = text if decoded is None else json.dumps(redact_value(decoded), ensure_ascii=False)
    shown = _scrub(shown, secrets)
    if len(shown) > MAX_BODY_CHARS:
        shown = shown[:MAX_BODY_CHARS] + "…[truncated]"
    return shown


def redact_headers(headers: Mapping[str, str], secrets: Iterable[str]) -> dict[str, str]:
    """Request headers worth keeping (signature and credential headers masked)."""
    shown = {name: (MASK if name.lower() in SECRET_FIELDS else value) for name, value in headers.items()
             if name.lower() not in ("content-length", "host", "accept-encoding", "connection", "user-agent")}
    return {name: _scrub(value, secrets) for name, value in shown.items()}
