"""Carrier adapters: the plugin contract, its errors, and finding the installed plugins.

Adapters themselves (``lanjie.carriers.kuaidi100`` …) are reached through the registry, by name.
"""

from __future__ import annotations

from .base import (
    Address,
    Capability,
    Carrier,
    CarrierAccount,
    CarrierInfo,
    Exchange,
    InterceptAck,
    InterceptOutcome,
    InterceptRequest,
    InterceptResult,
    InterceptState,
    Push,
    Subscription,
    TrackingEvent,
    TrackingSnapshot,
)
from .errors import (
    CarrierError,
    CarrierRejected,
    CarrierTimeout,
    CarrierUnavailable,
    MalformedPush,
    NotSupported,
    SignatureInvalid,
)
from .registry import DEFAULT_PLUGIN, UnknownCarrier, build, capability_table, load_carriers, resolve

__all__ = [
    "DEFAULT_PLUGIN",
    "Address",
    "Capability",
    "Carrier",
    "CarrierAccount",
    "CarrierError",
    "CarrierInfo",
    "CarrierRejected",
    "CarrierTimeout",
    "CarrierUnavailable",
    "Exchange",
    "InterceptAck",
    "InterceptOutcome",
    "InterceptRequest",
    "InterceptResult",
    "InterceptState",
    "MalformedPush",
    "NotSupported",
    "Push",
    "SignatureInvalid",
    "Subscription",
    "TrackingEvent",
    "TrackingSnapshot",
    "UnknownCarrier",
    "build",
    "capability_table",
    "load_carriers",
    "resolve",
]
