"""The ZTO carrier adapter: track subscription and query on japi, track pushes; intercepts go through Kuaidi100."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from lanjie.carriers.base import Capability, CarrierAccount, Exchange, Push, Subscription, TrackingSnapshot
from lanjie.carriers.errors import CarrierRejected, CarrierUnavailable, require_credentials
from lanjie.carriers.http import CarrierHttp
from lanjie.carriers.unsupported import InterceptsElsewhere, NoClaims
from lanjie.domain.states import InterceptReason, InterceptType

from . import codes, push, wire

#: ZTO's production gateway, used when the account names no other (e.g. the sandbox).
DEFAULT_ENDPOINTS: Mapping[str, str] = {"api": "https://japi.zto.com"}
CREDENTIAL_NAMES = ("app_key", "app_secret")


class ZTO(InterceptsElsewhere, NoClaims):
    """ZTO (中通) on its open platform: tracking and pushes natively, intercepts through Kuaidi100."""

    name: ClassVar[str] = "zto"
    title: ClassVar[str] = "ZTO 中通"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.subscribe, Capability.query_tracking, Capability.parse_push,
    })
    couriers: ClassVar[frozenset[str] | None] = frozenset({"zto"})
    intercept_types: ClassVar[frozenset[InterceptType]] = frozenset()
    intercept_via: ClassVar[str | None] = "kuaidi100"
    credential_names: ClassVar[tuple[str, ...]] = CREDENTIAL_NAMES
    endpoint_names: ClassVar[tuple[str, ...]] = ("api",)
    rate_limit_per_second: ClassVar[float] = 10.0  # sandbox choice: ZTO publishes per-minute quotas only

    def __init__(self, account: CarrierAccount, client: httpx.AsyncClient) -> None:
        self._credentials = {name: account.credentials.get(name, "") for name in CREDENTIAL_NAMES}
        self._api = {**DEFAULT_ENDPOINTS, **account.endpoints}["api"].rstrip("/")
        self.exchanges: list[Exchange] = []
        secrets = [value for value in account.credentials.values() if value]
        self._http = CarrierHttp(self.name, client, secrets, self.exchanges, account.limiter)

    # -- operations ---------------------------------------------------------------------------------

    async def subscribe(self, subscription: Subscription) -> None:
        """Subscribe a waybill to track pushes; subscribing twice is harmless."""
        await self._call("subscribe", wire.SUBSCRIBE_API, wire.subscribe_body(subscription))

    async def query_tracking(self, carrier_code: str, waybill_no: str,
                             phone_tail: str = "") -> TrackingSnapshot:
        """The parcel's trace now, newest event first; no trace yet is status ``created``."""
        body = await self._call("query_tracking", wire.QUERY_API, wire.query_body(waybill_no, phone_tail))
        try:
            return wire.query_snapshot(body.get("result"), carrier_code=carrier_code, waybill_no=waybill_no)
        except wire.PayloadError as exc:
            raise CarrierUnavailable(f"zto {wire.QUERY_API}: malformed answer: {exc}") from exc

    def parse_push(self, body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> Push:
        """Verify (with the app secret, failing closed) and parse a track push."""
        return push.parse(body, content_type, self._credentials["app_secret"])

    @staticmethod
    def reject_ack() -> tuple[bytes, str]:
        """Body and media type to answer a push that failed verification."""
        return push.reject_ack()

    # -- plumbing -----------------------------------------------------------------------------------

    async def _call(self, operation: str, api: str, body: str) -> dict[str, Any]:
        """POST a signed JSON body to ``{api}/{api name}``; the answer when it says success, else raise."""
        require_credentials(self.name, operation, self._credentials, CREDENTIAL_NAMES)
        headers = wire.signed_headers(body, app_key=self._credentials["app_key"],
                                      app_secret=self._credentials["app_secret"])
        response = await self._http.send(operation, "POST", f"{self._api}/{api}", content=body.encode("utf-8"),
                                         headers=headers)
        answer = self._http.json_object(operation, response)
        code, message = str(answer.get("statusCode") or ""), str(answer.get("message") or "")
        rule = codes.answer_rule(api, code, message)
        if rule.verdict is codes.Verdict.unavailable:
            raise CarrierUnavailable(f"zto {api}: {code} {message}")
        if rule.verdict is codes.Verdict.rejected:
            raise CarrierRejected(code, message, reason=rule.reason or InterceptReason.carrier_error)
        return answer
