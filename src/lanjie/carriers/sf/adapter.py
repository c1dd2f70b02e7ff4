"""The SF Express (丰桥) carrier adapter: the HTTP calls, the exchange log and the capability surface."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import ClassVar

import httpx

from lanjie.carriers.base import (
    CancelAck,
    Capability,
    CarrierAccount,
    Exchange,
    InterceptAck,
    InterceptRequest,
    InterceptState,
    Precheck,
    Push,
    Subscription,
    TrackingSnapshot,
)
from lanjie.carriers.errors import CarrierUnavailable, require_credentials
from lanjie.carriers.http import CarrierHttp
from lanjie.carriers.unsupported import NoClaims
from lanjie.domain.states import InterceptReason, InterceptType

from . import codes, push, wire

#: SF's production gateway base, used when the account does not name another (e.g. the sandbox).
DEFAULT_ENDPOINTS: Mapping[str, str] = {"api": "https://bspgw.sf-express.com"}
CREDENTIAL_NAMES = ("partner_id", "check_word")  # 顾客编码 (partnerID) and 校验码 (checkWord)
#: Optional: the monthly card (月结卡号) sent as ``monthlyCardNo`` when a monthly account pays.
OPTIONAL_CREDENTIALS = ("monthly_card_no",)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _new_request_id() -> str:
    return str(uuid.uuid4())  # 36 characters; SF allows 40 and wants each one unique


class SF(NoClaims):
    """SF Express on its own open platform (丰桥): intercept (通缉拦截), cancel, track, receive route pushes."""

    name: ClassVar[str] = "sf"
    title: ClassVar[str] = "SF Express 顺丰 (丰桥)"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.precheck, Capability.intercept, Capability.query_intercept, Capability.cancel_intercept,
        Capability.subscribe, Capability.parse_push, Capability.query_tracking,
    })
    couriers: ClassVar[frozenset[str] | None] = frozenset({"sf", "shunfeng"})
    intercept_types: ClassVar[frozenset[InterceptType]] = frozenset(codes.INTERCEPT_TYPES)
    intercept_via: ClassVar[str | None] = None
    credential_names: ClassVar[tuple[str, ...]] = CREDENTIAL_NAMES
    optional_credential_names: ClassVar[tuple[str, ...]] = OPTIONAL_CREDENTIALS
    endpoint_names: ClassVar[tuple[str, ...]] = ("api",)
    rate_limit_per_second: ClassVar[float] = 10.0  # sandbox choice: SF publishes no limit

    def __init__(self, account: CarrierAccount, client: httpx.AsyncClient, *,
                 clock: Callable[[], datetime] = _utc_now,
                 request_ids: Callable[[], str] = _new_request_id) -> None:
        names = CREDENTIAL_NAMES + OPTIONAL_CREDENTIALS
        self._credentials = {name: account.credentials.get(name, "") for name in names}
        self._secrets = [value for value in account.credentials.values() if value]
        endpoints = {**DEFAULT_ENDPOINTS, **account.endpoints}
        self._url = endpoints["api"].rstrip("/") + "/std/service"
        # The signed timestamp and the requestID come from here, so tests can be byte-exact.
        self._clock, self._request_ids = clock, request_ids
        self.exchanges: list[Exchange] = []
        self._http = CarrierHttp(self.name, client, self._secrets, self.exchanges, account.limiter)

    # -- operations ---------------------------------------------------------------------------------

    async def precheck(self, request: InterceptRequest) -> Precheck:
        """Judge eligibility from the routes: SF has no eligibility call and quotes no fee in advance."""
        snapshot = await self._routes("precheck", request.carrier_code, request.waybill_no, request.phone_tail)
        return wire.precheck(snapshot, request)

    async def intercept(self, request: InterceptRequest) -> InterceptAck:
        """Ask SF to stop a parcel (EXP_RECE_WANTED_INTERCEPT: 2 退回 or 1 转寄); the task id is its cusId.

        SF has no return to the origin outlet: that type is refused as not_supported without a call.
        After a CarrierTimeout, resubmitting is safe: a repeat while the first is under way is
        answered 8016 (duplicate), which counts as accepted. ``request.callback_url`` is not sent: SF
        reports outcomes as routes, to the URL registered by ``subscribe``.
        """
        service_code = codes.INTERCEPT_TYPES.get(request.intercept_type)
        if service_code is None:
            return InterceptAck(accepted=False, reason=InterceptReason.not_supported,
                                message=f"SF offers no {request.intercept_type} intercept")
        self._need("intercept")
        msg_data = wire.intercept_msg_data(request, monthly_card_no=self._credentials["monthly_card_no"])
        answer = await self._call("intercept", codes.SERVICE_INTERCEPT, msg_data)
        return wire.parse_intercept(answer).ack

    async def query_intercept(self, carrier_code: str, waybill_no: str, task_id: str | None,
                              phone_tail: str = "") -> InterceptState:
        """Judge an intercept from the routes: SF documents no intercept-status query.

        SF reports a successful intercept as a return (631) or redirect route and a miss as the
        signature (80); an intercept that fails without moving the parcel leaves no route, so until
        the parcel is delivered the answer is ``indeterminate`` (never ``pending``: SF did not say it
        holds the intercept).
        """
        snapshot = await self._routes("query_intercept", carrier_code, waybill_no, phone_tail)
        return wire.intercept_state(snapshot, task_id)

    async def cancel_intercept(self, carrier_code: str, waybill_no: str, task_id: str | None) -> CancelAck:
        """Withdraw an intercept before it completed (``cancel: true`` + its ``cusId``)."""
        if not task_id:
            return CancelAck(accepted=False, message="SF cancels an intercept by its cusId, and none is known")
        self._need("cancel_intercept")
        answer = await self._call("cancel_intercept", codes.SERVICE_INTERCEPT,
                                  wire.cancel_msg_data(waybill_no, task_id))
        return wire.parse_cancel(answer)

    async def subscribe(self, subscription: Subscription) -> None:
        """Register a waybill for route pushes to the subscription's URL; registering twice is harmless."""
        self._need("subscribe")
        answer = await self._call("subscribe", codes.SERVICE_REGISTER_ROUTE,
                                  wire.register_route_msg_data(subscription))
        wire.check_route_result(answer, codes.SERVICE_REGISTER_ROUTE)

    async def query_tracking(self, carrier_code: str, waybill_no: str,
                             phone_tail: str = "") -> TrackingSnapshot:
        """The parcel's routes now (EXP_RECE_SEARCH_ROUTES), newest first; none yet is status ``created``."""
        return await self._routes("query_tracking", carrier_code, waybill_no, phone_tail)

    def parse_push(self, body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> Push:
        """Verify (with the checkWord, failing closed) and parse a route push."""
        return push.parse(body, content_type, self._credentials["check_word"])

    @staticmethod
    def reject_ack() -> tuple[bytes, str]:
        """Body and media type to answer a push that failed verification, in SF's format."""
        return push.reject_ack()

    # -- plumbing -----------------------------------------------------------------------------------

    def _need(self, operation: str) -> None:
        require_credentials(self.name, operation, self._credentials, CREDENTIAL_NAMES)

    async def _routes(self, operation: str, carrier_code: str, waybill_no: str, phone_tail: str) -> TrackingSnapshot:
        self._need(operation)
        answer = await self._call(operation, codes.SERVICE_SEARCH_ROUTES,
                                  wire.search_routes_msg_data(waybill_no, phone_tail))
        wire.check_route_result(answer, codes.SERVICE_SEARCH_ROUTES)
        try:
            return wire.routes_snapshot(answer.msg_data, carrier_code=carrier_code, waybill_no=waybill_no)
        except wire.PayloadError as exc:
            raise CarrierUnavailable(f"sf {operation}: malformed routes: {exc}") from exc

    async def _call(self, operation: str, service_code: str, msg_data: str) -> wire.Result:
        """POST one signed form to the gateway, record the exchange, and return the business result."""
        fields = wire.service_form(
            service_code, msg_data, partner_id=self._credentials["partner_id"],
            check_word=self._credentials["check_word"], request_id=self._request_ids(),
            timestamp=wire.millis(self._clock()),
        )
        response = await self._http.post_form(operation, self._url, fields, media_type=wire.FORM_MEDIA_TYPE)
        return wire.result(self._http.json_object(operation, response), operation)
