"""The J&T China adapter: trace subscription and query on the open platform, trace pushes; intercepts via Kuaidi100."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from lanjie.carriers.base import Capability, CarrierAccount, Exchange, Push, Subscription, TrackingSnapshot
from lanjie.carriers.errors import CarrierRejected, CarrierUnavailable, require_credentials
from lanjie.carriers.http import CarrierHttp
from lanjie.carriers.unsupported import InterceptsElsewhere, NoClaims
from lanjie.domain.states import InterceptReason, InterceptType

from . import codes, push, wire

#: J&T China's production base, used when the account names no other (e.g. the sandbox).
DEFAULT_ENDPOINTS: Mapping[str, str] = {"api": "https://openapi.jtexpress.com.cn/webopenplatformapi"}
CREDENTIAL_NAMES = ("api_account", "private_key")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class JT(InterceptsElsewhere, NoClaims):
    """J&T Express China (极兔) on its open platform: tracking and pushes natively, intercepts through Kuaidi100."""

    name: ClassVar[str] = "jtexpress"
    title: ClassVar[str] = "J&T 极兔"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.subscribe, Capability.query_tracking, Capability.parse_push,
    })
    couriers: ClassVar[frozenset[str] | None] = frozenset({"jtexpress", "jt"})
    intercept_types: ClassVar[frozenset[InterceptType]] = frozenset()
    intercept_via: ClassVar[str | None] = "kuaidi100"
    claims_via: ClassVar[str | None] = "kuaidi100"  # Kuaidi100 work orders (工单) file its claims
    credential_names: ClassVar[tuple[str, ...]] = CREDENTIAL_NAMES
    endpoint_names: ClassVar[tuple[str, ...]] = ("api",)
    rate_limit_per_second: ClassVar[float] = 10.0  # sandbox choice: J&T publishes no limit

    def __init__(self, account: CarrierAccount, client: httpx.AsyncClient, *,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        self._credentials = {name: account.credentials.get(name, "") for name in CREDENTIAL_NAMES}
        self._api = {**DEFAULT_ENDPOINTS, **account.endpoints}["api"].rstrip("/")
        self._clock = clock  # the timestamp header comes from here, so tests can be byte-exact
        self.exchanges: list[Exchange] = []
        secrets = [value for value in account.credentials.values() if value]
        self._http = CarrierHttp(self.name, client, secrets, self.exchanges, account.limiter)

    # -- operations ---------------------------------------------------------------------------------

    async def subscribe(self, subscription: Subscription) -> None:
        """Subscribe a waybill's every trace node, pushed to the subscription's URL; twice is harmless."""
        biz = wire.subscribe_biz(subscription, api_account=self._credentials["api_account"])
        await self._call("subscribe", wire.SUBSCRIBE_PATH, biz)

    async def query_tracking(self, carrier_code: str, waybill_no: str,
                             phone_tail: str = "") -> TrackingSnapshot:
        """The parcel's trace now, newest event first; no trace yet is status ``created``."""
        answer = await self._call("query_tracking", wire.QUERY_PATH, wire.query_biz(waybill_no))
        try:
            return wire.query_snapshot(answer.get("data"), carrier_code=carrier_code, waybill_no=waybill_no)
        except wire.PayloadError as exc:
            raise CarrierUnavailable(f"jtexpress {wire.QUERY_PATH}: malformed answer: {exc}") from exc

    def parse_push(self, body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> Push:
        """Verify (with the private key, failing closed) and parse a trace push."""
        return push.parse(body, content_type, headers, self._credentials["private_key"])

    @staticmethod
    def reject_ack() -> tuple[bytes, str]:
        """Body and media type to answer a push that failed verification."""
        return push.reject_ack()

    # -- plumbing -----------------------------------------------------------------------------------

    async def _call(self, operation: str, path: str, biz_content: str) -> dict[str, Any]:
        """POST a signed ``bizContent`` form to ``{api}{path}``; the answer when it says success, else raise."""
        require_credentials(self.name, operation, self._credentials, CREDENTIAL_NAMES)
        headers = wire.signed_headers(biz_content, api_account=self._credentials["api_account"],
                                      private_key=self._credentials["private_key"],
                                      timestamp=wire.millis(self._clock()))
        response = await self._http.post_form(operation, f"{self._api}{path}", {"bizContent": biz_content},
                                              headers=headers)
        answer = self._http.json_object(operation, response)
        raw_code = answer.get("code")  # J&T clients see it as a string or a number
        code, message = ("" if raw_code is None else str(raw_code)), str(answer.get("msg") or "")
        rule = codes.answer_rule(path, code, message)
        if rule.verdict is codes.Verdict.unavailable:
            raise CarrierUnavailable(f"jtexpress {path}: {code} {message}")
        if rule.verdict is codes.Verdict.rejected:
            raise CarrierRejected(code, message, reason=rule.reason or InterceptReason.carrier_error)
        return answer
