"""The UPS Delivery Intercept adapter: the HTTP calls, the token, the exchange log and the capability surface."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, NoReturn

import httpx

from lanjie.carriers.base import (
    CancelAck,
    Capability,
    CarrierAccount,
    ClaimAck,
    ClaimRequest,
    ClaimState,
    Exchange,
    InterceptAck,
    InterceptRequest,
    InterceptState,
    Payer,
    Precheck,
    Push,
    Subscription,
    TrackingSnapshot,
)
from lanjie.carriers.errors import CarrierRejected, CarrierUnavailable, NotSupported
from lanjie.carriers.http import CarrierHttp
from lanjie.domain.states import InterceptReason, InterceptType

from . import claims, codes, track, wire
from .auth import TOKENS, TokenCache

#: UPS production; the CIE test server is https://wwwcie.ups.com. Both serve every path below.
DEFAULT_ENDPOINTS: Mapping[str, str] = {"api": "https://onlinetools.ups.com"}
CREDENTIAL_NAMES = ("client_id", "client_secret", "account_number")
TOKEN_PATH = "/security/v1/oauth/token"
INTERCEPT_PATH = "/api/deliveryintercept/v2"
TRACK_PATH = "/api/track/v1/details"
CURRENCY = "USD"
FEE_WHEN = "only if the intercept completes"
#: ``requesterContactInfo`` when the account names none (``requester_name`` / ``requester_phone``
#: settings next to the credentials). UPS requires a name and a phone; the phone is a placeholder a real
#: account must replace (*sandbox choice*).
DEFAULT_REQUESTER = wire.Contact("lanjie", "+10000000000")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _trans_id() -> str:
    """``transId``: unique per request, 3–14 of ``[A-Za-z0-9.-]`` (the v2 spec's limit)."""
    return secrets.token_hex(7)


class UPS:
    """UPS Delivery Intercept v2 (shipper-initiated): precheck, intercept, cancel, tracking by polling, claims.

    Capabilities: precheck (eligibility + charges), intercept (return to sender, redirect to a US
    address), query_intercept (judged from eligibility and the Track API), cancel_intercept,
    query_tracking, file_claim and claim_status (an EasyPost-style claim model, see ``claims``). Also
    ``will_call()``: hold the parcel at a UPS facility, which lanjie's InterceptType cannot express. Not
    offered: return to the origin outlet (refused as not_supported), subscribe and parse_push (UPS has no
    tracking push in the reference: lanjie polls query_tracking and claim_status).
    """

    name: ClassVar[str] = "ups"
    title: ClassVar[str] = "UPS Delivery Intercept"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.precheck, Capability.intercept, Capability.query_intercept, Capability.cancel_intercept,
        Capability.query_tracking, Capability.file_claim, Capability.claim_status,
    })
    couriers: ClassVar[frozenset[str] | None] = frozenset({"ups"})
    intercept_types: ClassVar[frozenset[InterceptType]] = frozenset(codes.REQUEST_TYPES)
    intercept_via: ClassVar[str | None] = None
    credential_names: ClassVar[tuple[str, ...]] = CREDENTIAL_NAMES
    #: Taken when given, never required: who UPS should call about an intercept.
    optional_credential_names: ClassVar[tuple[str, ...]] = ("requester_name", "requester_phone")
    endpoint_names: ClassVar[tuple[str, ...]] = ("api",)
    rate_limit_per_second: ClassVar[float] = 5.0  # sandbox choice: UPS publishes no per-account limit

    def __init__(self, account: CarrierAccount, client: httpx.AsyncClient, *,
                 clock: Callable[[], datetime] = _utc_now, trans_id: Callable[[], str] = _trans_id,
                 token_cache: TokenCache = TOKENS) -> None:
        credentials = account.credentials
        self._client_id = credentials.get("client_id", "")
        self._client_secret = credentials.get("client_secret", "")
        self._account_number = credentials.get("account_number", "")  # optional: x-merchant-id of the token
        self._requester = wire.Contact(
            credentials.get("requester_name") or DEFAULT_REQUESTER.name,
            wire.phone(credentials.get("requester_phone", "")) or DEFAULT_REQUESTER.telephone)
        self._api = {**DEFAULT_ENDPOINTS, **account.endpoints}["api"].rstrip("/")
        self._clock, self._trans_id, self._tokens = clock, trans_id, token_cache
        self.exchanges: list[Exchange] = []
        secret_values = [credentials.get(name, "") for name in CREDENTIAL_NAMES]
        self._http = CarrierHttp(self.name, client, secret_values, self.exchanges, account.limiter)

    # -- operations ---------------------------------------------------------------------------------

    async def precheck(self, request: InterceptRequest) -> Precheck:
        """Can UPS intercept this parcel now, and what would it cost (``/eligibility`` then ``/charges``)?

        The fee is shipper-paid and charged only if the intercept completes. Return to the origin outlet
        is not a UPS option: answered not eligible (not_supported) after the eligibility call; so is a
        redirect to an address UPS could not take (bad_address).
        """
        tracking_no = wire.tracking_number(request.waybill_no)
        features = await self._eligibility("precheck", tracking_no)
        types = wire.offered_types(features)
        if request.intercept_type not in codes.REQUEST_TYPES:
            return self._precheck(False, InterceptReason.not_supported, types,
                                  message=f"UPS offers no {request.intercept_type}")
        eligible, reason = wire.precheck_verdict(features, request.intercept_type)
        if eligible is not True:
            message = "UPS does not know this package's eligibility yet" if eligible is None else "NOT_ELIGIBLE"
            return self._precheck(eligible, reason, types, message=message)
        try:
            body = wire.charges_body(request.intercept_type, request.address)
        except CarrierRejected as exc:  # a redirect address UPS could not take
            return self._precheck(False, InterceptReason.bad_address, types, message=exc.message)
        reply = await self._call("precheck", "POST", f"{INTERCEPT_PATH}/charges/{tracking_no}", body)
        wire.raise_for("precheck", reply)
        try:
            fee_minor, currency = wire.charge(reply, tracking_no, codes.REQUEST_TYPES[request.intercept_type])
        except wire.PayloadError as exc:
            raise CarrierUnavailable(f"ups charges: malformed answer: {exc}") from exc
        return self._precheck(True, None, types, fee_minor=fee_minor, currency=currency)

    @staticmethod
    def _precheck(eligible: bool | None, reason: InterceptReason | None, types: frozenset[InterceptType], *,
                  fee_minor: int | None = None, currency: str = CURRENCY, message: str = "") -> Precheck:
        return Precheck(eligible=eligible, reason=reason, fee_minor=fee_minor, currency=currency, payer=Payer.sender,
                        fee_when=FEE_WHEN, message=message, types=types)

    async def intercept(self, request: InterceptRequest) -> InterceptAck:
        """Return to sender (``/return``, RS) or redirect (``/redirect/address``, AA); the ack only registers it.

        The task id is UPS's ``transactionId``. Return to the origin outlet is refused (not_supported)
        without a call. After a CarrierTimeout, resubmitting is safe: a repeat is answered as a pending
        duplicate, which counts as accepted.
        """
        tracking_no = wire.tracking_number(request.waybill_no)
        if request.intercept_type is InterceptType.return_to_sender:
            body = wire.return_body(self._requester, request.reason)
        elif request.intercept_type is InterceptType.redirect:
            body = wire.redirect_body(self._requester, request.address)
        else:
            return InterceptAck(accepted=False, reason=InterceptReason.not_supported,
                                message=f"UPS offers no {request.intercept_type}")
        return await self._submit("intercept", codes.REQUEST_TYPES[request.intercept_type], tracking_no, body)

    async def will_call(self, tracking_number: str, *, special_instructions: str | None = None) -> InterceptAck:
        """Hold the parcel at a UPS facility for the receiver to collect (``/willcall``, WC; no fee).

        lanjie's InterceptType has no "hold for pickup", so this is a method of this adapter only.
        """
        tracking_no = wire.tracking_number(tracking_number)
        body = wire.will_call_body(self._requester, special_instructions)
        return await self._submit("will_call", codes.WILL_CALL, tracking_no, body)

    async def query_intercept(self, carrier_code: str, waybill_no: str, task_id: str | None,
                              phone_tail: str = "") -> InterceptState:
        """Judge an intercept from ``/eligibility`` and the Track API: UPS has no intercept-status query."""
        tracking_no = wire.tracking_number(waybill_no)
        features = await self._eligibility("query_intercept", tracking_no)
        snapshot = None if wire.pending_intercept(features) else await self._track("query_intercept", tracking_no)
        return track.intercept_state(features, snapshot, task_id)

    async def cancel_intercept(self, carrier_code: str, waybill_no: str, task_id: str | None) -> CancelAck:
        """Withdraw the pending intercept of the parcel (``/cancel``); too late is CancelAck(accepted=False)."""
        tracking_no = wire.tracking_number(waybill_no)
        reply = await self._call("cancel_intercept", "POST", f"{INTERCEPT_PATH}/cancel/{tracking_no}",
                                 wire.cancel_body(self._requester))
        return wire.cancel_ack(reply)

    async def query_tracking(self, carrier_code: str, waybill_no: str, phone_tail: str = "") -> TrackingSnapshot:
        """The parcel's activities now (Track API), newest first; an unknown number is a trace without events."""
        return await self._track("query_tracking", wire.tracking_number(waybill_no))

    async def file_claim(self, request: ClaimRequest) -> ClaimAck:
        """File a claim (``POST /api/claims/v2/claims``); amounts are USD cents.

        After a CarrierTimeout, filing again is safe: the same ``reference`` (lanjie's claim id) answers the
        claim already filed.
        """
        body = claims.claim_body(request)
        return claims.claim_ack(await self._call("file_claim", "POST", claims.CLAIMS_PATH, body, claim=True))

    async def claim_status(self, carrier_code: str, waybill_no: str, claim_ref: str) -> ClaimState:
        """Where UPS's review of a claim stands (``GET /api/claims/v2/claims/{id}``)."""
        if not claim_ref or "/" in claim_ref:
            raise CarrierRejected("710", f"{claim_ref!r} is not a UPS claim id")
        path = f"{claims.CLAIMS_PATH}/{claim_ref}"
        return claims.status_answer(await self._call("claim_status", "GET", path, b"", claim=True))

    async def subscribe(self, subscription: Subscription) -> NoReturn:
        """UPS has no tracking push in the reference: lanjie polls ``query_tracking`` instead."""
        raise NotSupported("ups has no tracking subscription; poll query_tracking")

    def parse_push(self, body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> Push:
        """UPS sends lanjie no pushes (see subscribe)."""
        raise NotSupported("ups sends no pushes")

    @staticmethod
    def reject_ack() -> tuple[bytes, str]:
        """What to answer anything posted to the UPS callback URL: there is nothing UPS would send there."""
        return b'{"response":{"errors":[{"code":"400","message":"no pushes expected"}]}}', "application/json"

    # -- plumbing -----------------------------------------------------------------------------------

    async def _submit(self, operation: str, request_type: str, tracking_no: str, body: bytes) -> InterceptAck:
        path = f"{INTERCEPT_PATH}/{codes.PATHS[request_type]}/{tracking_no}"
        return wire.intercept_ack(operation, await self._call(operation, "POST", path, body))

    async def _eligibility(self, operation: str, tracking_no: str) -> dict[str, wire.Eligibility]:
        reply = await self._call(operation, "GET", f"{INTERCEPT_PATH}/eligibility/intercept/{tracking_no}", b"")
        wire.raise_for(operation, reply)
        try:
            return wire.eligibility(reply)
        except wire.PayloadError as exc:
            raise CarrierUnavailable(f"ups eligibility: malformed answer: {exc}") from exc

    async def _track(self, operation: str, tracking_no: str) -> TrackingSnapshot:
        reply = await self._call(operation, "GET", f"{TRACK_PATH}/{tracking_no}", b"", track=True)
        if reply.http_status == 200:
            try:
                return track.tracking_snapshot(reply.body, tracking_no)
            except wire.PayloadError as exc:
                raise CarrierUnavailable(f"ups track: malformed answer: {exc}") from exc
        if reply.code in codes.NO_TRACE_CODES:
            return track.no_trace(tracking_no)
        wire.raise_for(operation, reply)
        raise CarrierUnavailable(f"ups track: unexpected answer (HTTP {reply.http_status})")

    async def _call(self, operation: str, method: str, path: str, body: bytes, *, track: bool = False,
                    claim: bool = False) -> wire.Answer:
        """One API call with a bearer token; a token UPS refuses (401 other than 605) is fetched anew once."""
        reply = await self._send(operation, method, path, body, track, claim)
        if reply.http_status == 401 and reply.code != "605":
            self._tokens.discard(self._token_key, reply.token)
            reply = await self._send(operation, method, path, body, track, claim)
        return reply

    async def _send(self, operation: str, method: str, path: str, body: bytes, track: bool,
                    claim: bool = False) -> wire.Answer:
        token = await self._token()
        trans_id = self._trans_id()
        if claim:
            headers = claims.headers(token, trans_id, json_body=bool(body))
        else:
            headers = wire.track_headers(token, trans_id) if track else wire.api_headers(token, trans_id)
        response = await self._http.send(operation, method, f"{self._api}{path}", content=body, headers=headers)
        return wire.answer(response.status_code, self._json(operation, response), token=token)

    def _json(self, operation: str, response: httpx.Response) -> dict[str, Any]:
        """The answer's JSON object; a 4xx that is not JSON (a gateway page) is read as an empty one,
        so its HTTP status still decides."""
        if 400 <= response.status_code < 500:
            try:
                return self._http.json_object(operation, response)
            except CarrierUnavailable:
                return {}
        return self._http.json_object(operation, response)

    @property
    def _token_key(self) -> tuple[str, str]:
        return (self._api, self._client_id)

    async def _token(self) -> str:
        """A bearer token for this account: the cached one, else a new one (one fetch per burst)."""
        if not (self._client_id and self._client_secret):
            raise CarrierRejected("config", "ups needs credentials: client_id, client_secret",
                                  reason=InterceptReason.auth_failed)
        token = self._tokens.get(self._token_key, self._clock())
        if token is None:
            async with self._tokens.lock(self._token_key):
                token = self._tokens.get(self._token_key, self._clock()) or await self._fetch_token()
        self._http.add_secret(token)
        return token

    async def _fetch_token(self) -> str:
        response = await self._http.post_form(
            "token", f"{self._api}{TOKEN_PATH}", {"grant_type": "client_credentials"},
            headers=wire.token_headers(self._client_id, self._client_secret, self._account_number),
            media_type=wire.FORM_MEDIA_TYPE)
        body = self._json("token", response)
        if response.status_code != 200:
            wire.raise_for("token", wire.answer(response.status_code, body))
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise CarrierUnavailable("ups token: no access_token in the answer")
        self._http.add_secret(token)
        try:
            expires_in = timedelta(seconds=int(str(body.get("expires_in", "0"))))
        except ValueError:
            expires_in = timedelta(0)  # used for this call only
        self._tokens.put(self._token_key, token, self._clock(), expires_in)
        return token
