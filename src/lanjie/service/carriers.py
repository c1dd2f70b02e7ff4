"""Builds carrier adapters for a shop's account, with the shared HTTP client and configured endpoints."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from lanjie.carriers.base import Capability, Carrier, CarrierAccount
from lanjie.domain.states import InterceptType
from lanjie.service.ratelimit import RateLimits
from lanjie.service.shops import AccountRecord
from lanjie.settings import Settings


class CarrierGateway:
    """The one place adapters are made; tests hand it a client whose transport they control."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient,
                 registry: Mapping[str, type[Carrier]]) -> None:
        self.settings, self.client, self.registry = settings, client, registry
        self.rate_limits = RateLimits()

    def endpoints(self, carrier: str) -> dict[str, str]:
        """Base URLs for a plugin: its sandbox twin when configured, then explicit settings."""
        endpoints: dict[str, str] = {}
        cls = self.registry.get(carrier)
        sandbox = self.settings.carrier_sandbox_url.rstrip("/")
        if sandbox and cls is not None:
            endpoints.update({name: f"{sandbox}/{carrier}" for name in getattr(cls, "endpoint_names", ("api",))})
        if carrier == "kuaidi100":
            # A URL set explicitly wins over the sandbox even when it equals the default (the real
            # Kuaidi100); the default itself applies only where nothing else named an endpoint.
            for name, field in (("api", "kuaidi100_api_url"), ("poll", "kuaidi100_poll_url")):
                if field in self.settings.model_fields_set or name not in endpoints:
                    endpoints[name] = getattr(self.settings, field)
        endpoints.update(self.settings.carrier_endpoints.get(carrier, {}))
        return endpoints

    def rate(self, carrier: str) -> float:
        """Requests per second per account: the setting, else the plugin's own default (0 = unlimited)."""
        configured = self.settings.carrier_rate_limit_per_second
        return configured or float(getattr(self.registry.get(carrier), "rate_limit_per_second", 0.0))

    def adapter(self, account: AccountRecord) -> Carrier:
        cls = self.registry[account.carrier]
        rate = self.rate(account.carrier)
        limiter = self.rate_limits.bucket(account.id, rate).acquire if rate > 0 else None
        return cls(CarrierAccount(carrier=account.carrier, credentials=account.credentials,
                                  endpoints=self.endpoints(account.carrier), limiter=limiter), self.client)

    def intercept_plugin(self, carrier: str) -> str:
        """The plugin that intercepts for ``carrier``: itself, or the aggregator it names (``intercept_via``)."""
        return getattr(self.registry.get(carrier), "intercept_via", None) or carrier

    def offered_types(self, carrier: str) -> frozenset[InterceptType]:
        """The intercept types lanjie can send for ``carrier``'s parcels (through its aggregator if need be)."""
        cls = self.registry.get(self.intercept_plugin(carrier))
        if cls is None or Capability.intercept not in cls.capabilities:
            return frozenset()
        return frozenset(getattr(cls, "intercept_types", frozenset(InterceptType)))

    def can_cancel(self, carrier: str) -> bool:
        cls = self.registry.get(self.intercept_plugin(carrier))
        return cls is not None and Capability.cancel_intercept in cls.capabilities

    def can_precheck(self, carrier: str) -> bool:
        cls = self.registry.get(self.intercept_plugin(carrier))
        return cls is not None and Capability.precheck in cls.capabilities

    def claim_plugin(self, carrier: str, courier: str) -> str | None:
        """The plugin that files claims online for ``carrier``'s parcels of ``courier``: the carrier itself, or the
        aggregator it names (``claims_via``: Kuaidi100's work orders), or None (a packet, sent by hand)."""
        for name in (carrier, getattr(self.registry.get(carrier), "claims_via", None)):
            cls = self.registry.get(name) if name else None
            couriers = getattr(cls, "claim_couriers", None)
            if cls is not None and Capability.file_claim in cls.capabilities and \
                    (couriers is None or courier in couriers):
                return name
        return None

    def callback_url(self, account: AccountRecord) -> str:
        base = self.settings.public_base_url.rstrip("/")
        return f"{base}/v1/carriers/{account.carrier}/callbacks/{account.callback_token}"
