"""The Kdniao carrier adapter: real-time query, subscription and pushes; intercepts go through Kuaidi100."""

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

#: Kdniao's production endpoint, used when the account does not name another (e.g. the sandbox).
DEFAULT_ENDPOINTS: Mapping[str, str] = {"api": "https://api.kdniao.com"}
CREDENTIAL_NAMES = ("ebusiness_id", "app_key")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Kdniao(InterceptsElsewhere, NoClaims):
    """Kdniao (快递鸟), a tracking aggregator: real-time query, subscription and trace pushes."""

    name: ClassVar[str] = "kdniao"
    title: ClassVar[str] = "Kdniao 快递鸟 (tracking aggregator)"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.subscribe, Capability.query_tracking, Capability.parse_push,
    })
    couriers: ClassVar[frozenset[str] | None] = None  # any courier it has a ShipperCode for
    intercept_types: ClassVar[frozenset[InterceptType]] = frozenset()
    intercept_via: ClassVar[str | None] = "kuaidi100"
    credential_names: ClassVar[tuple[str, ...]] = CREDENTIAL_NAMES
    endpoint_names: ClassVar[tuple[str, ...]] = ("api",)
    rate_limit_per_second: ClassVar[float] = 10.0  # sandbox choice: Kdniao publishes no limit

    def __init__(self, account: CarrierAccount, client: httpx.AsyncClient, *,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        self._credentials = {name: account.credentials.get(name, "") for name in CREDENTIAL_NAMES}
        self._secrets = [value for value in account.credentials.values() if value]
        self._api = {**DEFAULT_ENDPOINTS, **account.endpoints}["api"].rstrip("/")
        self._clock = clock  # the push acknowledgement's UpdateTime comes from here
        self.exchanges: list[Exchange] = []
        self._http = CarrierHttp(self.name, client, self._secrets, self.exchanges, account.limiter)

    # -- operations ---------------------------------------------------------------------------------

    async def subscribe(self, subscription: Subscription) -> None:
        """Subscribe a waybill to trace pushes (1008); subscribing twice is harmless (403)."""
        request_data = wire.subscribe_request_data(subscription)  # an unmapped courier fails here
        body = await self._post("subscribe", wire.SUBSCRIBE_PATH, wire.SUBSCRIBE_TYPE, request_data)
        rule = self._rule("subscribe", body)
        if rule.verdict is not codes.Verdict.ok:
            self._raise(rule, body)

    async def query_tracking(self, carrier_code: str, waybill_no: str,
                             phone_tail: str = "") -> TrackingSnapshot:
        """The parcel's trace now (1002), newest event first.

        "No trace" (404) is a trace without events in status ``created``: nothing was scanned yet,
        which every gate already reads as "not picked up".
        """
        request_data = wire.query_request_data(carrier_code, waybill_no, phone_tail)
        body = await self._post("query_tracking", wire.QUERY_PATH, wire.QUERY_TYPE, request_data)
        rule = self._rule("query", body)
        if rule.verdict is codes.Verdict.no_result:
            return wire.no_trace(carrier_code, waybill_no)
        if rule.verdict is not codes.Verdict.ok:
            self._raise(rule, body)
        try:
            return wire.tracking_snapshot(body, carrier_code=carrier_code, waybill_no=waybill_no)
        except wire.PayloadError as exc:
            raise CarrierUnavailable(f"kdniao query: malformed answer: {exc}") from exc

    def parse_push(self, body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> Push:
        """Verify (with the AppKey, failing closed) and parse a trace push (101)."""
        return push.parse(body, content_type, ebusiness_id=self._credentials["ebusiness_id"],
                          app_key=self._credentials["app_key"], now=self._clock())

    @staticmethod
    def reject_ack() -> tuple[bytes, str]:
        """Body and media type to answer a push that failed verification, in Kdniao's format."""
        return push.reject_ack()

    # -- plumbing -----------------------------------------------------------------------------------

    def _need(self, operation: str) -> tuple[str, str]:
        require_credentials(self.name, operation, self._credentials, CREDENTIAL_NAMES)
        return self._credentials["ebusiness_id"], self._credentials["app_key"]

    @staticmethod
    def _rule(api: str, body: Mapping[str, Any]) -> codes.AnswerRule:
        return codes.answer_rule(api, wire.result_code(body), str(body.get("Reason") or ""))

    @staticmethod
    def _raise(rule: codes.AnswerRule, body: Mapping[str, Any]) -> NoReturn:
        code, reason = wire.result_code(body), str(body.get("Reason") or "")
        if rule.verdict is codes.Verdict.unavailable:
            raise CarrierUnavailable(f"kdniao: {code} {reason}")
        raise CarrierRejected(code, reason, reason=rule.reason or InterceptReason.carrier_error)

    async def _post(self, operation: str, path: str, request_type: str, request_data: str) -> dict[str, Any]:
        """POST a signed form (the RequestData string signed is the one sent) and return the JSON answered."""
        ebusiness_id, app_key = self._need(operation)
        fields = wire.form(request_type, request_data, ebusiness_id=ebusiness_id, app_key=app_key)
        response = await self._http.post_form(operation, f"{self._api}{path}", fields,
                                              media_type=wire.FORM_MEDIA_TYPE)
        return self._http.json_object(operation, response)
