"""The Yunda carrier adapter: track query, subscription and pushes; intercepts go through Kuaidi100."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, NoReturn

import httpx

from lanjie.carriers.base import (
    Capability,
    CarrierAccount,
    Exchange,
    Push,
    Subscription,
    TrackingSnapshot,
)
from lanjie.carriers.errors import CarrierRejected, CarrierUnavailable, require_credentials
from lanjie.carriers.http import CarrierHttp
from lanjie.carriers.unsupported import InterceptsElsewhere, NoClaims
from lanjie.domain.states import InterceptReason, InterceptType

from . import codes, push, wire

#: Yunda's production endpoint, used when the account does not name another (e.g. the sandbox).
DEFAULT_ENDPOINTS: Mapping[str, str] = {"api": "https://openapi.yundaex.com/openapi-api"}
CREDENTIAL_NAMES = ("app_key", "app_secret")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Yunda(InterceptsElsewhere, NoClaims):
    """Yunda (韵达) on its own open platform: track query, subscription and pushes."""

    name: ClassVar[str] = "yunda"
    title: ClassVar[str] = "Yunda 韵达"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.subscribe, Capability.query_tracking, Capability.parse_push,
    })
    couriers: ClassVar[frozenset[str] | None] = frozenset({"yunda"})
    intercept_types: ClassVar[frozenset[InterceptType]] = frozenset()
    intercept_via: ClassVar[str | None] = "kuaidi100"
    claims_via: ClassVar[str | None] = "kuaidi100"  # Kuaidi100 work orders (工单) file its claims
    credential_names: ClassVar[tuple[str, ...]] = CREDENTIAL_NAMES
    endpoint_names: ClassVar[tuple[str, ...]] = ("api",)
    rate_limit_per_second: ClassVar[float] = 10.0  # sandbox choice: Yunda publishes no limit

    def __init__(self, account: CarrierAccount, client: httpx.AsyncClient, *,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        self._credentials = {name: account.credentials.get(name, "") for name in CREDENTIAL_NAMES}
        self._secrets = [value for value in account.credentials.values() if value]
        self._api = {**DEFAULT_ENDPOINTS, **account.endpoints}["api"].rstrip("/")
        self._clock = clock  # req-time comes from here, so tests can be byte-exact
        self.exchanges: list[Exchange] = []
        self._http = CarrierHttp(self.name, client, self._secrets, self.exchanges, account.limiter)

    # -- operations ---------------------------------------------------------------------------------

    async def subscribe(self, subscription: Subscription) -> None:
        """Subscribe a waybill to track pushes; subscribing twice is harmless (2002)."""
        self._courier(subscription.carrier_code)
        body = await self._post("subscribe", wire.SUBSCRIBE_PATH, wire.subscribe_body(subscription))
        rule = self._rule("subscribe", body)
        if rule.verdict is not codes.Verdict.ok:
            self._raise(rule, body)

    async def query_tracking(self, carrier_code: str, waybill_no: str,
                             phone_tail: str = "") -> TrackingSnapshot:
        """The parcel's trace now (``outer/logictis/query``), newest event first.

        "No trace" (2001) is a trace without events in status ``created``: nothing was scanned yet,
        which every gate already reads as "not picked up".
        """
        self._courier(carrier_code)
        body = await self._post("query_tracking", wire.QUERY_PATH, wire.query_body(waybill_no))
        rule = self._rule("query", body)
        if rule.verdict is codes.Verdict.no_result:
            return wire.no_trace(waybill_no)
        if rule.verdict is not codes.Verdict.ok:
            self._raise(rule, body)
        data = body.get("data")
        if not isinstance(data, Mapping):
            raise CarrierUnavailable("yunda query: answer has no data object")
        try:
            return wire.tracking_snapshot(data, waybill_no)
        except wire.PayloadError as exc:
            raise CarrierUnavailable(f"yunda query: malformed answer: {exc}") from exc

    def parse_push(self, body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> Push:
        """Verify (with the app secret, failing closed) and parse a track push."""
        return push.parse(body, content_type, headers, self._credentials["app_secret"])

    @staticmethod
    def reject_ack() -> tuple[bytes, str]:
        """Body and media type to answer a push that failed verification, in Yunda's format."""
        return push.reject_ack()

    # -- plumbing -----------------------------------------------------------------------------------

    @staticmethod
    def _courier(carrier_code: str) -> None:
        if carrier_code.strip().lower() != wire.COURIER:
            raise CarrierRejected("courier", f"yunda serves only yunda waybills, not {carrier_code!r}",
                                  reason=InterceptReason.not_supported)

    def _need(self, operation: str) -> tuple[str, str]:
        require_credentials(self.name, operation, self._credentials, CREDENTIAL_NAMES)
        return self._credentials["app_key"], self._credentials["app_secret"]

    @staticmethod
    def _rule(api: str, body: Mapping[str, Any]) -> codes.AnswerRule:
        return codes.answer_rule(api, str(body.get("code", "")), str(body.get("message") or ""))

    @staticmethod
    def _raise(rule: codes.AnswerRule, body: Mapping[str, Any]) -> NoReturn:
        code, message = str(body.get("code", "")), str(body.get("message") or "")
        if rule.verdict is codes.Verdict.unavailable:
            raise CarrierUnavailable(f"yunda: {code} {message}")
        raise CarrierRejected(code, message, reason=rule.reason or InterceptReason.carrier_error)

    async def _post(self, operation: str, path: str, body: str) -> dict[str, Any]:
        """POST a signed JSON body (the exact string signed) and return the JSON object answered."""
        app_key, app_secret = self._need(operation)
        headers = wire.headers(body, app_key=app_key, app_secret=app_secret, at=self._clock())
        response = await self._http.send(operation, "POST", f"{self._api}{path}", content=body.encode("utf-8"),
                                         headers=headers)
        return self._http.json_object(operation, response)
