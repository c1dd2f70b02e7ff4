"""Identifiers and clocks used by the service layer."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_id(prefix: str) -> str:
    """A random, unguessable id with a readable prefix, e.g. ``as_3f9c…``."""
    return f"{prefix}_{secrets.token_hex(10)}"


def utcnow() -> datetime:
    return datetime.now(UTC)
