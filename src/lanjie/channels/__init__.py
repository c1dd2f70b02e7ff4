"""Sales-channel adapters: the plugin contract, its errors, and finding the installed plugins.

Adapters themselves (``lanjie.channels.douyin`` …) are reached through the registry, by name.
"""

from __future__ import annotations

from .base import (
    ApproveItem,
    Channel,
    ChannelAccount,
    ChannelCapability,
    ChannelCase,
    ChannelMessage,
    ChannelParcel,
    Inbound,
    MessageKind,
)
from .errors import ChannelError, ChannelRejected, MalformedMessage, NotSupported, RejectionKind, SignatureInvalid
from .registry import UnknownChannel, load_channels

__all__ = [
    "ApproveItem",
    "Channel",
    "ChannelAccount",
    "ChannelCapability",
    "ChannelCase",
    "ChannelError",
    "ChannelMessage",
    "ChannelParcel",
    "ChannelRejected",
    "Inbound",
    "MalformedMessage",
    "MessageKind",
    "NotSupported",
    "RejectionKind",
    "SignatureInvalid",
    "UnknownChannel",
    "load_channels",
]
