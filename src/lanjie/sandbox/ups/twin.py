"""UPS's side of the sandbox: OAuth clients and tokens, shipments, and the Delivery Intercept operations.

Each operation takes the request as received (``WireRequest``) and returns the answer to send; the
routes in ``routes`` wrap them with the world's faults. UPS pushes nothing in the reference, so the
twin ignores the world's tracking and intercept events: a client learns outcomes by asking (eligibility,
charges, the Track API). Wire details and sandbox choices are described in ``wire``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from fastapi import APIRouter

from lanjie.domain.states import InterceptType, TrackingStatus
from lanjie.sandbox.model import InterceptTask, Parcel, Refusal, TaskState
from lanjie.sandbox.route import Party, find_city
from lanjie.sandbox.serving import WireAnswer, WireRequest
from lanjie.sandbox.ups import wire
from lanjie.sandbox.ups.claims import UPSClaims
from lanjie.sandbox.ups.oauth import Account, OAuthServer
from lanjie.sandbox.ups.routes import ups_router
from lanjie.sandbox.ups.validate import Invalid, check_charges, check_request
from lanjie.sandbox.ups.wire import ErrorCode
from lanjie.sandbox.world import CancelResult

if TYPE_CHECKING:
    from lanjie.sandbox.world import SandboxWorld

PROTOCOL = "ups"
CARRIER = "ups"
_WINDOW = (TrackingStatus.picked_up, TrackingStatus.in_transit, TrackingStatus.at_destination,
           TrackingStatus.out_for_delivery)  # UPS intercepts until the first delivery attempt
_REFUSALS: dict[Refusal, tuple[ErrorCode, str]] = {
    Refusal.unknown_waybill: (ErrorCode.not_found, "Tracking number not found"),
    Refusal.not_supported: (ErrorCode.not_supported, "Delivery Intercept is not available for this package"),
    Refusal.not_picked_up: (ErrorCode.not_picked_up, "Package has not been picked up; void the shipment instead"),
    Refusal.out_for_delivery: (ErrorCode.not_supported, "Delivery Intercept is not available for this package"),
    Refusal.already_delivered: (ErrorCode.delivered, "Package has already been delivered"),
    Refusal.already_intercepted: (ErrorCode.already_intercepted, "Package has already been intercepted"),
}
#: CIE test stubs (§13.1): (operation, transId) → the only tracking number answered with canned success.
CIE_STUBS: Mapping[tuple[str, str], str] = {
    ("charges", "SIICharges"): "1Z4096YY0316914058", ("willcall", "SIIWillcall"): "1Z4096YY0316914058",
    ("return", "SIIReturn"): "1Z4096YY0316914058", ("redirect", "SIIRedirect"): "1Z4096YY0316914058",
    ("cancel", "SIICancel"): "1Z4096YY0316914058", ("eligibility", "SUPER14"): "1Z6568YY1200043419",
}


class Refused(Exception):
    """Stops an operation with the answer to send."""

    def __init__(self, answer: WireAnswer) -> None:
        super().__init__(answer.message)
        self.answer = answer


@dataclass(frozen=True)
class Call:
    """A checked Delivery Intercept call: who, which package, which transId."""

    account: Account
    tracking_no: str
    trans_id: str
    request: WireRequest


def _error(trans_id: str, status: int, code: ErrorCode, message: str, tracking_no: str = "") -> Refused:
    return Refused(WireAnswer(wire.error_body(trans_id, status, code, message), code.value, message,
                              status=status, waybill_no=tracking_no))


class UPSTwin:
    """UPS Delivery Intercept v2 (plus the token endpoint and the Track API) as the sandbox plays it."""

    name: ClassVar[str] = "ups"
    test_credentials: ClassVar[Mapping[str, str]] = {
        "client_id": "SANDBOXUPSCLIENT", "client_secret": "SANDBOXUPSSECRET", "account_number": "S4NDB0"}

    def __init__(self, world: SandboxWorld) -> None:
        self.world = world
        self.oauth = OAuthServer(world)
        self.shipments: dict[str, str] = {}  # tracking number → shipment id
        self._shipment_ids = itertools.count(1)
        self.claim_desk = UPSClaims(self)  # EasyPost-style claims, decided by the world's adjudicator
        self.register_account(self.test_credentials)

    # ---- control surface ------------------------------------------------------------------------

    def register_account(self, credentials: Mapping[str, str], expired: bool = False) -> dict[str, Any]:
        """Know another OAuth client (``client_id``, ``client_secret``, optional ``account_number``)."""
        return self.oauth.register(credentials, expired)

    def revoke_tokens(self, client_id: str | None = None) -> int:
        """Invalidate the tokens of one client (all when None), as UPS may at any time; returns how many."""
        return self.oauth.revoke(client_id)

    def register_shipment(self, tracking_numbers: list[str]) -> str:
        """Group packages into one shipment (a request may name up to 20 of them); returns its id."""
        shipment_id = f"S{next(self._shipment_ids):06d}"
        for number in tracking_numbers:
            self.shipments[number] = shipment_id
        return shipment_id

    def router(self) -> APIRouter:
        """The UPS paths, to be included under ``/ups``."""
        return ups_router(self)

    def on_tracking(self, parcel: Parcel) -> None:
        """UPS pushes no tracking in the reference: clients poll the Track API."""

    def on_intercept_resolved(self, parcel: Parcel, task: InterceptTask) -> None:
        """UPS reports no intercept outcome: eligibility, charges and tracking show it."""

    # ---- OAuth and the checks every call goes through ------------------------------------------

    def token(self, request: WireRequest) -> WireAnswer:
        """``POST /security/v1/oauth/token``."""
        return self.oauth.token(request)

    def account_of(self, request: WireRequest) -> str:
        """The client a request comes from, for the request log."""
        return self.oauth.client_of(request)

    def rate_limited(self, request: WireRequest) -> WireAnswer:
        trans_id = request.headers.get("transid", "")
        return _error(trans_id, 429, ErrorCode.rate_limited, "Too Many Requests").answer

    def serve_call(self, request: WireRequest, operation: Callable[[Call], WireAnswer], *, track: bool = False,
                   name: str = "") -> WireAnswer:
        """Authenticate, check headers and the tracking number, then run ``operation``."""
        trans_id = request.headers.get("transid", "")
        try:
            account = self._bearer_account(request, trans_id)
            if not (wire.TRACK_TRANS_ID if track else wire.TRANS_ID).fullmatch(trans_id):
                limit = "1-32 characters" if track else "3-14 of [A-Za-z0-9.-]"
                raise _error(trans_id, 400, ErrorCode.validation, f"transId: required, {limit}")
            if not wire.TRANSACTION_SRC.fullmatch(request.headers.get("transactionsrc", "")):
                raise _error(trans_id, 400, ErrorCode.validation, "transactionSrc: required")
            if not track and request.headers.get("inquirytype") != "U":
                raise _error(trans_id, 400, ErrorCode.validation, "inquiryType: must be U")
            tracking_no = request.path.get("tracking_number", "")
            if not wire.TRACKING_NUMBER.fullmatch(tracking_no):
                raise _error(trans_id, 400, ErrorCode.validation, "tracking_number: must match ^(1Z)[A-Z0-9]{16}$")
            call = Call(account, tracking_no, trans_id, request)
            stub = CIE_STUBS.get((name, trans_id))
            if stub is not None and stub == tracking_no:
                return self._cie_answer(name, call)
            return operation(call)
        except Refused as refused:
            return refused.answer

    def _bearer_account(self, request: WireRequest, trans_id: str) -> Account:
        account = self.oauth.bearer(request)
        if account is None:
            raise _error(trans_id, 401, ErrorCode.invalid_token, "Invalid Authentication Information.")
        return account

    def _json(self, call: Call) -> dict[str, Any]:
        if not call.request.headers.get("content-type", "").startswith("application/json"):
            raise _error(call.trans_id, 400, ErrorCode.validation, "Content-Type: must be application/json")
        try:
            body = call.request.json()
        except ValueError:
            raise _error(call.trans_id, 400, ErrorCode.validation, "body: not valid JSON") from None
        if not isinstance(body, dict):
            raise _error(call.trans_id, 400, ErrorCode.validation, "body: must be a JSON object")
        return body

    def _invalid(self, call: Call, exc: Invalid) -> Refused:
        return _error(call.trans_id, 400, ErrorCode.validation, str(exc), call.tracking_no)

    def _cie_answer(self, name: str, call: Call) -> WireAnswer:
        if name == "eligibility":
            entries = [self._feature(f, "ELIGIBLE", "NOT_ELIGIBLE") for f in wire.FEATURES]
            return WireAnswer(wire.wrapped_success(call.trans_id, commonEligibilityMap=entries), "000", "CIE stub")
        if name == "charges":
            info = self._charge_info(call.tracking_no, None, ["RS"], "CIE SHIPPER")
            return WireAnswer(wire.wrapped_success(call.trans_id, chargeInfo=[info]), "000", "CIE stub")
        return WireAnswer(wire.success_body(call.trans_id), "000", "CIE stub", waybill_no=call.tracking_no)

    # ---- eligibility and charges ---------------------------------------------------------------------

    def _parcel(self, tracking_no: str) -> Parcel | None:
        parcel = self.world.parcels.get(tracking_no)
        return parcel if parcel is not None and parcel.carrier_code == CARRIER else None

    @staticmethod
    def _feature(feature: str, create: str, change: str) -> dict[str, Any]:
        value: dict[str, Any] = {"createEligibility": create, "modifyEligibility": change, "cancelEligibility": change}
        if feature == "RTS" and create == "ELIGIBLE":
            value["reasonOptionsForRTS"] = [{"id": code, "value": text} for code, text in wire.REASON_TEXT.items()]
        return {"interceptFeature": feature, "eligibilityValue": value}

    def eligibility(self, call: Call) -> WireAnswer:
        """``GET /eligibility/intercept/{tn}``."""
        parcel = self._parcel(call.tracking_no)
        task = parcel.intercept if parcel is not None else None
        if parcel is None:
            create = change = "UNKNOWN"
        elif task is not None and task.state is TaskState.pending:
            create, change = "NOT_ELIGIBLE", "ELIGIBLE"
        elif task is None and parcel.status in _WINDOW:
            create, change = "ELIGIBLE", "NOT_ELIGIBLE"
        else:
            create = change = "NOT_ELIGIBLE"
        entries = [self._feature(feature, create, change) for feature in wire.FEATURES]
        return WireAnswer(wire.wrapped_success(call.trans_id, commonEligibilityMap=entries), "000",
                          f"create {create}", waybill_no=call.tracking_no)

    def charges(self, call: Call) -> WireAnswer:
        """``POST /charges/{tn}``: the fee of each option asked, and whether it was charged."""
        try:
            options = check_charges(self._json(call))
        except Invalid as exc:
            raise self._invalid(call, exc) from None
        parcel = self._parcel(call.tracking_no)
        if parcel is None:
            raise _error(call.trans_id, 400, ErrorCode.not_found, "Tracking number not found", call.tracking_no)
        infos = [self._charge_info(call.tracking_no, parcel, asked, parcel.sender.name) for asked in options]
        return WireAnswer(wire.wrapped_success(call.trans_id, chargeInfo=infos), "000", "Success",
                          waybill_no=call.tracking_no)

    def _charge_info(self, tracking_no: str, parcel: Parcel | None, options: list[str], shipper: str) -> dict[str, Any]:
        task = parcel.intercept if parcel is not None else None
        details = []
        for option in options:
            fee = wire.money(0 if option in wire.FREE_OPTIONS else wire.FEE_CENTS)
            charged = (task is not None and task.state is TaskState.succeeded
                       and task.report_to.get("request_type") == option)
            details.append({"accessorialCharge": fee, "interceptCharge": fee, "transportationCharge": "0.00",
                            "totalCharge": fee, "interceptOption": option, "displayShipperPaidInterceptCharges": False,
                            "shipperPaidInterceptCharges": True, "successful": charged,
                            "currencyCode": wire.CURRENCY})
        single = details[0]["totalCharge"] if len(details) == 1 else "0.00"  # an AL quote prices each option apart
        tomorrow = self.world.clock.now() + timedelta(days=1)
        return {
            "trackingNumber": tracking_no, "accessorialCharge": single, "interceptCharge": single,
            "transportationCharge": "0.00", "totalCharge": single, "chargeCurrency": wire.CURRENCY,
            "estDeliveryDate": wire.yyyymmdd(tomorrow), "residentialIndicator": False,
            "additionalHandlingIndicator": False, "serviceCode": "003", "serviceDesc": "UPS Ground",
            "packageWeight": "1.0", "packageWeightUOM": "LBS", "packagingType": "02", "shipperName": shipper,
            "preTaxTotalCharge": single, "taxDisclaimerIndicator": "NTA", "displayShipperPaidInterceptCharges": False,
            "shipperPaidInterceptCharges": True, "shipperPaidTransportationCharges": True,
            "displayShipperPaidTransportationCharges": False, "chargesPaidByThirdPartyShipper": False,
            "interceptChargeDetail": details,
        }

    # ---- intercepts -----------------------------------------------------------------------------------

    def intercept(self, call: Call, request_types: Collection[str]) -> WireAnswer:
        """``POST /return``, ``/redirect/address``, ``/willcall``: register an intercept on each package."""
        body = self._json(call)
        try:
            request_type = check_request(body, request_types)
            packages = self._packages(call.tracking_no, body)
        except Invalid as exc:
            raise self._invalid(call, exc) from None
        first = self._request_one(call, call.tracking_no, request_type, body)
        if isinstance(first, Refused):
            raise first
        warnings = {}
        for number in packages[1:]:
            outcome = self._request_one(call, number, request_type, body)
            if isinstance(outcome, Refused):
                warnings[number] = f"{outcome.answer.code} {outcome.answer.message}"
        answer = wire.success_body(first.task_id)
        if warnings:
            answer["warnings"] = warnings
        return WireAnswer(answer, "000", "Success", task_id=first.task_id, waybill_no=call.tracking_no)

    def _packages(self, tracking_no: str, body: Mapping[str, Any]) -> list[str]:
        listed = body.get("multiTrackingNumbers")
        if listed is None:
            return [tracking_no]
        if not isinstance(listed, list):
            raise Invalid("multiTrackingNumbers: must be an array")
        numbers = [tracking_no]
        for index, item in enumerate(listed):
            number = item.get("trackingNumber") if isinstance(item, dict) else None
            if not isinstance(number, str) or not wire.TRACKING_NUMBER.fullmatch(number):
                raise Invalid(f"multiTrackingNumbers[{index}].trackingNumber: must match ^(1Z)[A-Z0-9]{{16}}$")
            if number not in numbers:
                numbers.append(number)
        if len(numbers) > wire.MAX_PACKAGES:
            raise Invalid(f"multiTrackingNumbers: max {wire.MAX_PACKAGES} packages per request")
        shipment = self.shipments.get(tracking_no)
        for number in numbers[1:]:
            if shipment is None or self.shipments.get(number) != shipment:
                raise Invalid(f"multiTrackingNumbers: {number} is not in the shipment of {tracking_no} "
                              "(one request per shipment)")
        return numbers

    def _request_one(self, call: Call, tracking_no: str, request_type: str,
                     body: Mapping[str, Any]) -> InterceptTask | Refused:
        parcel = self._parcel(tracking_no)
        new_recipient = None
        if request_type == "AA":
            new_recipient = self._new_recipient(body["newDeliveryAddress"], parcel)
        elif request_type in wire.FREE_OPTIONS and parcel is not None:
            # The world knows no "hold": a will call is a redirect to the UPS facility of the destination.
            city = parcel.recipient.city
            new_recipient = Party(parcel.recipient.name, parcel.recipient.phone, f"UPS Customer Center {city.name}",
                                  city)
        decision = self.world.request_intercept(
            carrier_code=CARRIER, waybill_no=tracking_no,
            intercept_type=InterceptType.return_to_sender if request_type == "RS" else InterceptType.redirect,
            report_to={"protocol": PROTOCOL, "request_type": request_type, "client_id": call.account.client_id,
                       "lead": call.tracking_no},
            requested_by=call.account.client_id, reason=str(body.get("reasonForReturn") or ""),
            new_recipient=new_recipient, task_id_prefix="U", out_for_delivery_ok=True,
            fee_minor=0 if request_type in wire.FREE_OPTIONS else wire.FEE_CENTS,
        )
        if decision.refusal is None and decision.task is not None:
            return decision.task
        task = decision.task
        if (decision.refusal is Refusal.already_intercepted and task is not None and task.state is TaskState.pending
                and task.requested_by == call.account.client_id):
            return _error(task.task_id, 400, ErrorCode.pending_duplicate,
                          "An intercept request is already pending for this package", tracking_no)
        code, message = _REFUSALS[decision.refusal or Refusal.not_supported]
        return _error(call.trans_id, 400, code, message, tracking_no)

    def _new_recipient(self, entry: Mapping[str, Any], parcel: Parcel | None) -> Party | None:
        if parcel is None:
            return None  # refused by the world before the address matters
        info = entry["addressInfo"]
        lines = [info.get(name) for name in ("addressLine1", "addressLine2", "addressLine3", "city", "state",
                                             "postalCode", "countryCode")]
        text = ", ".join(line for line in lines if isinstance(line, str) and line)
        name = entry.get("nameOrCompanyName") or entry.get("contactName") or parcel.recipient.name
        city = find_city(text) or parcel.recipient.city  # the sandbox network is Chinese cities (see wire)
        return Party(str(name), str(entry.get("phoneNumber") or ""), text, city)

    def cancel(self, call: Call) -> WireAnswer:
        """``POST /cancel/{tn}``: withdraw the requester's pending intercept, only before it completes."""
        try:
            check_request(self._json(call), wire.REQUEST_TYPES, cancel=True)
        except Invalid as exc:
            raise self._invalid(call, exc) from None
        parcel = self._parcel(call.tracking_no)
        task = parcel.intercept if parcel is not None else None
        if task is None or task.requested_by != call.account.client_id:
            raise _error(call.trans_id, 400, ErrorCode.nothing_to_cancel,
                         "No intercept request to cancel for this package", call.tracking_no)
        result = self.world.cancel_intercept(call.tracking_no, task.task_id)
        if result is CancelResult.already_resolved:
            raise _error(call.trans_id, 400, ErrorCode.too_late,
                         "The intercept has already been completed and cannot be cancelled", call.tracking_no)
        if result is not CancelResult.cancelled:
            raise _error(call.trans_id, 400, ErrorCode.nothing_to_cancel,
                         "No intercept request to cancel for this package", call.tracking_no)
        return WireAnswer(wire.success_body(task.task_id), "000", "Success", task_id=task.task_id,
                          waybill_no=call.tracking_no)

    # ---- Track API ------------------------------------------------------------------------------------

    def track(self, call: Call) -> WireAnswer:
        """``GET /api/track/v1/details/{inquiryNumber}``: every scan, newest first."""
        parcel = self._parcel(call.tracking_no)
        if parcel is None or not parcel.scans:
            message = "No tracking information available"
            body = {"response": {"errors": [{"code": ErrorCode.no_tracking_information.value, "message": message}]}}
            return WireAnswer(body, ErrorCode.no_tracking_information.value, message, status=404,
                              waybill_no=call.tracking_no)
        will_call = parcel.intercept is not None and parcel.intercept.report_to.get("request_type") in wire.FREE_OPTIONS
        return WireAnswer(wire.track_body(call.tracking_no, parcel.scans, will_call), "200", str(parcel.status),
                          waybill_no=call.tracking_no)
