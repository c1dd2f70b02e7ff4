"""The JD Logistics adapter: the JOS calls, the exchange log and the capability surface."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, NoReturn

import httpx

from lanjie.carriers.base import (
    Capability,
    CarrierAccount,
    Exchange,
    InterceptAck,
    InterceptRequest,
    InterceptState,
    Precheck,
    TrackingSnapshot,
)
from lanjie.carriers.errors import CarrierUnavailable, NotSupported, require_credentials
from lanjie.carriers.http import CarrierHttp
from lanjie.carriers.unsupported import NoClaims
from lanjie.domain.states import InterceptReason, InterceptType

from . import codes, wire

#: JD's production JOS router host; calls go to ``{api}/routerjson``.
DEFAULT_ENDPOINTS: Mapping[str, str] = {"api": "https://api.jd.com"}
ROUTER_PATH = "/routerjson"
CREDENTIAL_NAMES = ("app_key", "app_secret", "access_token", "vendor_code")
#: What to answer a push with: JD pushes nothing to lanjie, so nothing is ever accepted.
PUSH_REJECT = '{"error_response":{"code":"22","zh_desc":"不支持推送","en_desc":"jd pushes are not supported"}}'.encode()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def router_url(api: str) -> str:
    """The JOS router URL for an ``api`` endpoint (a host, or already the router itself)."""
    api = api.rstrip("/")
    return api if api.endswith(ROUTER_PATH) else api + ROUTER_PATH


class JD(NoClaims):
    """JD Logistics (京东物流) on JD's open platform (JOS ldop): intercept, poll its result, track."""

    name: ClassVar[str] = "jd"
    title: ClassVar[str] = "JD Logistics 京东物流 (JOS ldop)"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.precheck, Capability.intercept, Capability.query_intercept, Capability.query_tracking,
    })
    couriers: ClassVar[frozenset[str] | None] = frozenset({"jd"})
    intercept_types: ClassVar[frozenset[InterceptType]] = codes.INTERCEPT_TYPES
    intercept_via: ClassVar[str | None] = None
    credential_names: ClassVar[tuple[str, ...]] = CREDENTIAL_NAMES
    endpoint_names: ClassVar[tuple[str, ...]] = ("api",)
    rate_limit_per_second: ClassVar[float] = 10.0  # sandbox choice: JOS's per-app limit is not public

    def __init__(self, account: CarrierAccount, client: httpx.AsyncClient, *,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        self._credentials = {name: account.credentials.get(name, "") for name in CREDENTIAL_NAMES}
        secrets = [value for value in account.credentials.values() if value]
        self._url = router_url({**DEFAULT_ENDPOINTS, **account.endpoints}["api"])
        self._clock = clock  # the signed ``timestamp`` comes from here, so tests can be byte-exact
        self.exchanges: list[Exchange] = []
        self._http = CarrierHttp(self.name, client, secrets, self.exchanges, account.limiter)

    # -- operations ---------------------------------------------------------------------------------

    async def precheck(self, request: InterceptRequest) -> Precheck:
        """Judge from JD's trace whether an intercept can still work: JD has no eligibility call."""
        snapshot = await self._trace("precheck", request.waybill_no)
        return wire.precheck(snapshot)

    async def intercept(self, request: InterceptRequest) -> InterceptAck:
        """Ask JD to stop a parcel (``jingdong.ldop.receive.order.intercept``); the outcome is polled.

        JD cancels an order not picked up yet instead: that is answered as a refusal (``not_picked_up``)
        whose message says the order was cancelled (see ``codes.INTERCEPT_STATE_CODES``). After a
        CarrierTimeout, query first: a repeat is answered "already intercepted", counted as accepted.
        """
        if request.intercept_type not in codes.INTERCEPT_TYPES:
            return InterceptAck(accepted=False, reason=InterceptReason.not_supported,
                                message=f"JD intercepts only by returning to the sender, not {request.intercept_type}")
        vendor_code = self._need("intercept")
        business = wire.intercept_json(request, vendor_code=vendor_code, cancel_time=wire.beijing(self._clock()))
        inner = await self._call("intercept", codes.INTERCEPT_METHOD, business)
        return wire.parse_intercept_answer(inner)

    async def query_intercept(self, carrier_code: str, waybill_no: str, task_id: str | None,
                              phone_tail: str = "") -> InterceptState:
        """Poll the intercept's result (the query's name is a sandbox choice, see ``codes``)."""
        vendor_code = self._need("query_intercept")
        business = wire.result_query_json(vendor_code=vendor_code, waybill_no=waybill_no)
        inner = await self._call("query_intercept", codes.RESULT_QUERY_METHOD, business)
        return wire.parse_result(inner, task_id)

    async def query_tracking(self, carrier_code: str, waybill_no: str,
                             phone_tail: str = "") -> TrackingSnapshot:
        """The parcel's trace now (``jingdong.ldop.receive.trace.get``), newest event first."""
        return await self._trace("query_tracking", waybill_no)

    async def subscribe(self, *args: object, **kwargs: object) -> NoReturn:
        """JD's tracking push is not in the reference: lanjie polls query_tracking instead."""
        raise NotSupported("jd has no tracking subscription lanjie knows of; poll query_tracking")

    def parse_push(self, body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> NoReturn:
        """JD pushes nothing to lanjie (see subscribe)."""
        raise NotSupported("jd sends no pushes to lanjie")

    @staticmethod
    def reject_ack() -> tuple[bytes, str]:
        """Body and media type to answer anything posted to JD's callback URL (it is not JD)."""
        return PUSH_REJECT, "application/json"

    async def cancel_intercept(self, *args: object, **kwargs: object) -> NoReturn:
        """JD documents no way to withdraw an intercept."""
        raise NotSupported("jd cannot cancel an intercept")

    # -- plumbing -----------------------------------------------------------------------------------

    def _need(self, operation: str) -> str:
        """Refuse up front when a credential is missing; answer the vendor code (商家编码)."""
        require_credentials(self.name, operation, self._credentials, CREDENTIAL_NAMES)
        return self._credentials["vendor_code"]

    async def _trace(self, operation: str, waybill_no: str) -> TrackingSnapshot:
        vendor_code = self._need(operation)
        business = wire.trace_json(vendor_code=vendor_code, waybill_no=waybill_no)
        inner = await self._call(operation, codes.TRACE_METHOD, business)
        try:
            return wire.tracking_snapshot(inner, waybill_no=waybill_no)
        except wire.PayloadError as exc:
            raise CarrierUnavailable(f"jd {codes.TRACE_METHOD}: malformed answer: {exc}") from exc

    async def _call(self, operation: str, method: str, business_json: str) -> Mapping[str, Any]:
        """One signed JOS call; the inside of its answer, or the error it means."""
        credentials = self._credentials
        fields = wire.router_form(method, business_json, app_key=credentials["app_key"],
                                  app_secret=credentials["app_secret"], access_token=credentials["access_token"],
                                  timestamp=wire.beijing(self._clock()))
        response = await self._http.post_form(operation, self._url, fields)
        return wire.unwrap(self._http.json_object(operation, response), method)
