"""Outgoing webhooks to the shop's own systems, signed the Standard Webhooks way."""

from __future__ import annotations

from lanjie.webhooks.service import Webhooks

__all__ = ["Webhooks"]
