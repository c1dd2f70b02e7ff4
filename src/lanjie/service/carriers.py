"""Builds carrier adapters for a shop's account, with the shared HTTP client and configured endpoints."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from lanjie.carriers.base import Carrier, CarrierAccount
from lanjie.service.shops import AccountRecord
from lanjie.settings import Settings


class CarrierGateway:
    """The one place adapters are made; tests hand it a client whose transport they control."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient,
                 registry: Mapping[str, type[Carrier]]) -> None:
        self.settings, self.client, self.registry = settings, client, registry

    def endpoints(self, carrier: str) -> dict[str, str]:
        if carrier == "kuaidi100":
            return {"api": self.settings.kuaidi100_api_url, "poll": self.settings.kuaidi100_poll_url}
        return {}

    def adapter(self, account: AccountRecord) -> Carrier:
        cls = self.registry[account.carrier]
        return cls(CarrierAccount(carrier=account.carrier, credentials=account.credentials,
                                  endpoints=self.endpoints(account.carrier)), self.client)

    def callback_url(self, account: AccountRecord) -> str:
        base = self.settings.public_base_url.rstrip("/")
        return f"{base}/v1/carriers/{account.carrier}/callbacks/{account.callback_token}"
