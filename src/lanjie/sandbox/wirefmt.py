"""Wire formats the Chinese carrier twins share: Beijing time, compact JSON, the MD5-Base64 digest, and
reading a push receiver's JSON acknowledgement.

Each twin signs the exact string it sends, so there is one serialisation (compact separators,
UTF-8 characters kept, never ``\\u`` escapes) and one clock format (``yyyy-MM-dd HH:mm:ss``, UTC+8,
China has had no daylight saving time since 1991).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
WIRE_TIME = "%Y-%m-%d %H:%M:%S"


def wire_time(at: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in Beijing time."""
    return at.astimezone(BEIJING).strftime(WIRE_TIME)


def dumps(value: Any) -> str:
    """The one JSON serialisation the sandbox signs and sends (compact, UTF-8 characters kept)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def md5_base64(text: bytes, secret: str) -> str:
    """Base64 of the raw MD5 of the bytes followed by the secret: ZTO's, STO's and J&T's digest (§17)."""
    return base64.b64encode(hashlib.md5(text + secret.encode("utf-8")).digest()).decode("ascii")


def json_answer(status_code: int, body: bytes) -> dict[str, Any] | None:
    """A push receiver's 2xx answer as a JSON object, or None (not 2xx, not JSON, not an object)."""
    if not 200 <= status_code < 300:
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None
