"""The Kuaidi100 carrier adapter: the HTTP calls, the exchange log and the capability surface."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, NoReturn

import httpx

from lanjie.carriers.base import (
    Capability,
    CarrierAccount,
    ClaimAck,
    ClaimRequest,
    ClaimState,
    Exchange,
    InterceptAck,
    InterceptRequest,
    InterceptState,
    Push,
    Subscription,
    TrackingSnapshot,
)
from lanjie.carriers.errors import (
    CarrierRejected,
    CarrierUnavailable,
    NotSupported,
    require_credentials,
)
from lanjie.carriers.http import CarrierHttp
from lanjie.carriers.redact import redact_form
from lanjie.domain.states import InterceptReason, InterceptType

from . import codes, push, wire, workorder

#: Kuaidi100's production endpoints, used when the account does not name others (e.g. the sandbox).
DEFAULT_ENDPOINTS: Mapping[str, str] = {"api": "https://api.kuaidi100.com", "poll": "https://poll.kuaidi100.com"}
CREDENTIAL_NAMES = ("key", "customer", "secret", "salt")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Kuaidi100:
    """Kuaidi100 (快递100), the aggregator lanjie uses by default: intercept, track, receive pushes, and file
    claims as work orders (工单) for the couriers those serve."""

    name: ClassVar[str] = "kuaidi100"
    title: ClassVar[str] = "Kuaidi100 快递100 (aggregator)"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.intercept, Capability.query_intercept, Capability.subscribe, Capability.parse_push,
        Capability.query_tracking, Capability.file_claim, Capability.claim_status,
    })
    #: The couriers lanjie knows Kuaidi100's code for; a shipment naming another is refused when registered.
    couriers: ClassVar[frozenset[str] | None] = frozenset(codes.COMPANY_CODES)
    #: Work orders serve YTO, Yunda, J&T, STO and Deppon only (§2.8).
    claim_couriers: ClassVar[frozenset[str] | None] = workorder.COURIERS
    intercept_types: ClassVar[frozenset[InterceptType]] = frozenset(codes.INTERCEPT_TYPES)
    intercept_via: ClassVar[str | None] = None
    credential_names: ClassVar[tuple[str, ...]] = CREDENTIAL_NAMES
    endpoint_names: ClassVar[tuple[str, ...]] = ("api", "poll")
    rate_limit_per_second: ClassVar[float] = 20.0

    def __init__(self, account: CarrierAccount, client: httpx.AsyncClient, *,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        self._credentials = {name: account.credentials.get(name, "") for name in CREDENTIAL_NAMES}
        self._secrets = [value for value in account.credentials.values() if value]
        endpoints = {**DEFAULT_ENDPOINTS, **account.endpoints}
        self._api = endpoints["api"].rstrip("/")
        self._poll = endpoints["poll"].rstrip("/")
        self._clock = clock  # the signed ``t`` comes from here, so tests can be byte-exact
        self.exchanges: list[Exchange] = []
        self._http = CarrierHttp(self.name, client, self._secrets, self.exchanges, account.limiter)

    @classmethod
    def check_credentials(cls, credentials: Mapping[str, str]) -> str | None:
        """Pushes are verified with the salt lanjie chose: a short one is guessable."""
        if len(credentials.get("salt", "")) < 32:
            return "credentials.salt must be at least 32 characters: pushes are verified with it"
        return None

    # -- operations ---------------------------------------------------------------------------------

    async def intercept(self, request: InterceptRequest) -> InterceptAck:
        """Ask Kuaidi100 to stop a parcel (``interceptOrder``); the ack only says it was registered.

        After a CarrierTimeout, resubmitting is safe: a repeat is answered "already intercepted",
        which counts as accepted.
        """
        key, secret, salt = self._need("intercept", "key", "secret", "salt")
        fields = wire.intercept_form(request, key=key, secret=secret, salt=salt, t=wire.millis(self._clock()))
        body = await self._post("intercept", f"{self._api}/label/order", fields)
        return wire.parse_intercept_answer(body)

    async def query_intercept(self, carrier_code: str, waybill_no: str, task_id: str | None,
                              phone_tail: str = "") -> InterceptState:
        """Judge an intercept from the real-time trace: Kuaidi100 documents no intercept-status query.

        So the answer is never ``pending``: a parcel still moving forward is ``indeterminate``.

        A redirect ends in a delivery to the new address, which the trace cannot tell from a missed
        intercept: for redirects, rely on the result callback and a person, not on this.
        """
        snapshot = await self._query("query_intercept", carrier_code, waybill_no, phone_tail)
        return wire.intercept_state(snapshot, task_id)

    async def subscribe(self, subscription: Subscription) -> None:
        """Subscribe a waybill to tracking pushes (``poll``); subscribing twice is harmless."""
        key, salt = self._need("subscribe", "key", "salt")
        fields = wire.subscribe_form(subscription, key=key, salt=salt)
        body = await self._post("subscribe", f"{self._poll}/poll", fields)
        code, message = str(body.get("returnCode", "")), str(body.get("message") or "")
        rule = codes.answer_rule(codes.SUBSCRIBE_CODES, "poll", code, message)
        if rule.verdict is codes.Verdict.unavailable:
            raise CarrierUnavailable(f"kuaidi100 poll: {code} {message}")
        if rule.verdict is not codes.Verdict.ok:
            raise CarrierRejected(code, message, reason=rule.reason or InterceptReason.carrier_error)

    async def query_tracking(self, carrier_code: str, waybill_no: str,
                             phone_tail: str = "") -> TrackingSnapshot:
        """The parcel's trace now (``poll/query.do``), newest event first.

        "No result" (500) is answered as a trace without events in status ``created``: Kuaidi100 says
        nothing was scanned yet, which every gate already reads as "not picked up".
        """
        return await self._query("query_tracking", carrier_code, waybill_no, phone_tail)

    async def file_claim(self, request: ClaimRequest) -> ClaimAck:
        """File a claim as a work order (``workorder/api/create``); its progress comes by callback.

        A courier the work orders do not serve is refused (NotSupported) before any call. After a
        CarrierTimeout, filing again is safe: an open work order of the same type for the waybill is
        answered with its id, which counts as accepted.
        """
        if codes.company_code(request.carrier_code) not in workorder.COMPANIES:
            raise NotSupported(f"kuaidi100 work orders serve {', '.join(sorted(workorder.COURIERS))}, "
                               f"not {request.carrier_code!r}")
        key, secret, salt = self._need("file_claim", "key", "secret", "salt")
        param = workorder.create_param(request, salt=salt)
        form = workorder.signed_form(param, key=key, secret=secret, t=wire.millis(self._clock()))
        shown = {**form, "param": workorder.shown_param(param)}  # photos are kept as files, not in the log
        body = await self._post("file_claim", f"{self._api}{workorder.CREATE_PATH}", form, shown=shown)
        return workorder.parse_create_answer(body)

    async def claim_status(self, carrier_code: str, waybill_no: str, claim_ref: str) -> ClaimState:
        """Where the work order stands (``workorder/api/detail``): a confirmation of what a callback said."""
        key, secret = self._need("claim_status", "key", "secret")
        form = workorder.signed_form(workorder.detail_param(claim_ref), key=key, secret=secret,
                                     t=wire.millis(self._clock()))
        body = await self._post("claim_status", f"{self._api}{workorder.DETAIL_PATH}", form)
        return workorder.parse_detail_answer(body)

    def parse_push(self, body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> Push:
        """Verify (with the salt, failing closed) and parse a tracking push, an intercept result callback or
        a work-order result callback."""
        return push.parse(body, content_type, self._credentials["salt"])

    @staticmethod
    def reject_ack() -> tuple[bytes, str]:
        """Body and media type to answer a push that failed verification, in Kuaidi100's format."""
        return push.reject_ack()

    async def cancel_intercept(self, *args: object, **kwargs: object) -> NoReturn:
        """Kuaidi100 documents no way to cancel an intercept."""
        raise NotSupported("kuaidi100 cannot cancel an intercept")

    async def precheck(self, *args: object, **kwargs: object) -> NoReturn:
        """Kuaidi100 has no eligibility check; gates use query_tracking instead."""
        raise NotSupported("kuaidi100 has no intercept precheck")

    # -- plumbing -----------------------------------------------------------------------------------

    def _need(self, operation: str, *names: str) -> list[str]:
        # A missing salt would make every push we then receive fail verification: refuse up front.
        return require_credentials(self.name, operation, self._credentials, names)

    async def _query(self, operation: str, carrier_code: str, waybill_no: str,
                     phone_tail: str) -> TrackingSnapshot:
        key, customer = self._need(operation, "key", "customer")
        fields = wire.query_form(carrier_code, waybill_no, phone_tail, key=key, customer=customer)
        body = await self._post(operation, f"{self._poll}/poll/query.do", fields)
        if body.get("result") is False or "returnCode" in body:
            code, message = str(body.get("returnCode", "")), str(body.get("message") or "")
            rule = codes.answer_rule(codes.QUERY_ERROR_CODES, "poll/query.do", code, message)
            if rule.verdict is codes.Verdict.no_result:
                return wire.no_trace(carrier_code, waybill_no)
            if rule.verdict is codes.Verdict.unavailable:
                raise CarrierUnavailable(f"kuaidi100 poll/query.do: {code} {message}")
            raise CarrierRejected(code, message, reason=rule.reason or InterceptReason.carrier_error)
        if str(body.get("status")) != "200":
            raise CarrierUnavailable(f"kuaidi100 poll/query.do: unexpected status {body.get('status')!r}")
        try:
            return wire.tracking_snapshot(body, carrier_code=carrier_code, waybill_no=waybill_no)
        except wire.PayloadError as exc:
            raise CarrierUnavailable(f"kuaidi100 poll/query.do: malformed answer: {exc}") from exc

    async def _post(self, operation: str, url: str, fields: Mapping[str, str],
                    shown: Mapping[str, str] | None = None) -> dict[str, Any]:
        """POST a form and record the exchange (``shown`` instead of the fields, when given); return the
        JSON object answered, or raise."""
        if shown is None:
            response = await self._http.post_form(operation, url, fields, media_type=wire.FORM_MEDIA_TYPE)
        else:
            response = await self._http.send(operation, "POST", url, content=wire.encode_form(fields),
                                             headers={"Content-Type": wire.FORM_MEDIA_TYPE},
                                             shown=redact_form(shown, self._secrets))
        return self._http.json_object(operation, response)
