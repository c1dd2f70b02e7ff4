"""The STO carrier adapter: trace subscription and query on the link gateway, trace pushes; intercepts via Kuaidi100."""

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

#: Sandbox choice: STO's production gateway host (the path is ``wire.GATEWAY_PATH``).
DEFAULT_ENDPOINTS: Mapping[str, str] = {"api": "https://cloudinter-linkgatewayonline.sto.cn"}
CREDENTIAL_NAMES = ("from_appkey", "from_code", "secret_key")


class STO(InterceptsElsewhere, NoClaims):
    """STO (申通) on its link gateway: tracking and pushes natively, intercepts through Kuaidi100."""

    name: ClassVar[str] = "sto"
    title: ClassVar[str] = "STO 申通"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.subscribe, Capability.query_tracking, Capability.parse_push,
    })
    couriers: ClassVar[frozenset[str] | None] = frozenset({"sto"})
    intercept_types: ClassVar[frozenset[InterceptType]] = frozenset()
    intercept_via: ClassVar[str | None] = "kuaidi100"
    claims_via: ClassVar[str | None] = "kuaidi100"  # Kuaidi100 work orders (工单) file its claims
    credential_names: ClassVar[tuple[str, ...]] = CREDENTIAL_NAMES
    endpoint_names: ClassVar[tuple[str, ...]] = ("api",)
    rate_limit_per_second: ClassVar[float] = 10.0  # sandbox choice: STO publishes no limit

    def __init__(self, account: CarrierAccount, client: httpx.AsyncClient) -> None:
        self._credentials = {name: account.credentials.get(name, "") for name in CREDENTIAL_NAMES}
        self._url = {**DEFAULT_ENDPOINTS, **account.endpoints}["api"].rstrip("/") + wire.GATEWAY_PATH
        self.exchanges: list[Exchange] = []
        secrets = [value for value in account.credentials.values() if value]
        self._http = CarrierHttp(self.name, client, secrets, self.exchanges, account.limiter)

    # -- operations ---------------------------------------------------------------------------------

    async def subscribe(self, subscription: Subscription) -> None:
        """Subscribe a waybill to trace pushes; subscribing twice is harmless."""
        answer = await self._call("subscribe", wire.SUBSCRIBE, wire.subscribe_content(subscription))
        if answer is None:  # "no such waybill" is not an answer a subscription can have
            raise CarrierRejected("B01", f"sto {wire.SUBSCRIBE.name}: waybill unknown",
                                  reason=InterceptReason.carrier_error)

    async def query_tracking(self, carrier_code: str, waybill_no: str,
                             phone_tail: str = "") -> TrackingSnapshot:
        """The parcel's trace now, newest event first; no trace yet ("no such waybill") is status ``created``."""
        answer = await self._call("query_tracking", wire.QUERY, wire.query_content(waybill_no))
        try:
            data = answer.get("data") if answer is not None else None
            return wire.query_snapshot(data, carrier_code=carrier_code, waybill_no=waybill_no)
        except wire.PayloadError as exc:
            raise CarrierUnavailable(f"sto {wire.QUERY.name}: malformed answer: {exc}") from exc

    def parse_push(self, body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> Push:
        """Verify (with the secret key, failing closed) and parse a trace push."""
        return push.parse(body, content_type, self._credentials["secret_key"])

    @staticmethod
    def reject_ack() -> tuple[bytes, str]:
        """Body and media type to answer a push that failed verification."""
        return push.reject_ack()

    # -- plumbing -----------------------------------------------------------------------------------

    async def _call(self, operation: str, api: wire.Api, content: str) -> dict[str, Any] | None:
        """POST a signed gateway form; the answer on success, None for "no such waybill", else raise."""
        require_credentials(self.name, operation, self._credentials, CREDENTIAL_NAMES)
        fields = wire.request_form(api, content, from_appkey=self._credentials["from_appkey"],
                                   from_code=self._credentials["from_code"],
                                   secret_key=self._credentials["secret_key"])
        response = await self._http.post_form(operation, self._url, fields)
        answer = self._http.json_object(operation, response)
        if answer.get("success") in (True, "true"):  # gateways of this kind also answer the string "true"
            return answer
        code, message = str(answer.get("errorCode") or ""), str(answer.get("errorMsg") or "")
        rule = codes.answer_rule(api.name, code, message)
        if rule.verdict is codes.Verdict.no_result:
            return None
        if rule.verdict is codes.Verdict.unavailable:
            raise CarrierUnavailable(f"sto {api.name}: {code} {message}")
        raise CarrierRejected(code, message, reason=rule.reason or InterceptReason.carrier_error)
