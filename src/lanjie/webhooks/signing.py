"""Standard Webhooks v1 signing: secrets, the three headers, and which secrets sign during a rotation."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook

__all__ = ["SECRET_PREFIX", "new_message_id", "new_secret", "sign_headers", "signing_secrets"]

SECRET_PREFIX = "whsec_"
#: The spec allows 24–64 bytes and recommends 32.
_SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh endpoint secret, ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def new_message_id() -> str:
    """A ``webhook-id``: unique per delivery, the same on every attempt (the receiver's dedupe key)."""
    return f"msg_{secrets.token_hex(12)}"


def signing_secrets(current: str, previous: str | None, previous_expires_at: datetime | None,
                    now: datetime) -> list[str]:
    """The secrets that sign a request sent at ``now``: the current one, and the replaced one until it expires."""
    if previous and previous_expires_at is not None and now < previous_expires_at:
        return [current, previous]
    return [current]


def sign_headers(*, message_id: str, at: datetime, body: bytes, secrets_: Sequence[str]) -> dict[str, str]:
    """The Standard Webhooks headers for one request: one ``v1,`` signature per secret, space-separated."""
    text = body.decode("utf-8")
    signatures = " ".join(Webhook(secret).sign(message_id, at, text) for secret in secrets_)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }
