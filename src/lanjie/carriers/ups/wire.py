"""UPS on the wire: headers, request bodies and parsing of answers, all pure functions.

Each JSON body is serialised once (compact, UTF-8 kept as is, key order as written here) and those
bytes are what is sent. UPS signs nothing: the OAuth bearer token in ``Authorization`` is the
credential (§17), fetched with HTTP Basic ``base64(client_id:client_secret)`` of the raw UTF-8 bytes,
as UPS's samples do (no form-encoding of the two values first).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from lanjie.carriers.base import (
    Address,
    CancelAck,
    InterceptAck,
)
from lanjie.carriers.errors import CarrierRejected, CarrierUnavailable
from lanjie.domain.states import InterceptReason, InterceptType

from . import codes

JSON_MEDIA_TYPE = "application/json"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
TRANSACTION_SRC = "lanjie"  # transactionSrc: who is calling
INQUIRY_TYPE = "U"  # inquiryType: shipper-initiated intercept
SUCCESS_CODE = "000"
TRACKING_NUMBER = re.compile(r"1Z[A-Z0-9]{16}")
#: A redirect needs a US address UPS can read: "street, [line 2,] city, ST 12345[-6789][, US]".
_US_ADDRESS = re.compile(
    r"\s*(?P<line1>[^,]+?)\s*,\s*(?:(?P<line2>[^,]+?)\s*,\s*)?(?P<city>[^,]+?)\s*,\s*"
    r"(?P<state>[A-Z]{2})\s+(?P<postal>\d{5}(?:-\d{4})?)\s*(?:,\s*(?P<country>US|USA|PR)\s*)?")
_NICKNAME = "lanjie redirect"  # addressNickName, required for AA (2–20 characters)


class PayloadError(ValueError):
    """An answer is not shaped as documented (each caller maps it to its own error)."""


def dumps(value: object) -> str:
    """Serialise a body the one way lanjie sends it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def tracking_number(value: str) -> str:
    """A UPS tracking number (``1Z`` + 16 upper-case letters or digits), checked before any call.

    Refused as CarrierRejected("710", reason=not_supported): UPS answers such a number with its
    validation error, and to lanjie it is not a parcel UPS can intercept.
    """
    number = value.strip().upper()
    if not TRACKING_NUMBER.fullmatch(number):
        raise CarrierRejected("710", f"{value!r} is not a UPS tracking number (1Z + 16 letters or digits)",
                              reason=InterceptReason.not_supported)
    return number


def basic_auth(client_id: str, client_secret: str) -> str:
    """The ``Authorization`` value of the token request."""
    raw = f"{client_id}:{client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def token_headers(client_id: str, client_secret: str, account_number: str) -> dict[str, str]:
    """Headers of ``POST /security/v1/oauth/token``; ``x-merchant-id`` is the shipper number, when known."""
    headers = {"Authorization": basic_auth(client_id, client_secret)}
    if account_number:
        headers["x-merchant-id"] = account_number
    return headers


def api_headers(token: str, trans_id: str) -> dict[str, str]:
    """Headers of every Delivery Intercept call (GET included: the spec lists Content-Type for all)."""
    return {
        "Authorization": f"Bearer {token}",
        "transId": trans_id,
        "transactionSrc": TRANSACTION_SRC,
        "inquiryType": INQUIRY_TYPE,
        "Content-Type": JSON_MEDIA_TYPE,
        "Accept": JSON_MEDIA_TYPE,
    }


def track_headers(token: str, trans_id: str) -> dict[str, str]:
    """Headers of the Track API call."""
    return {"Authorization": f"Bearer {token}", "transId": trans_id, "transactionSrc": TRANSACTION_SRC,
            "Accept": JSON_MEDIA_TYPE}


# -- request bodies ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Contact:
    """``requesterContactInfo``: who at the shipper UPS may call about the request."""

    name: str
    telephone: str

    def body(self) -> dict[str, str]:
        return {"name": self.name, "telephone": self.telephone}


def phone(value: str) -> str:
    """A phone as UPS writes it (``+`` and 1–13 digits), or "" when it cannot be one."""
    digits = "".join(ch for ch in value if ch.isdigit())
    return f"+{digits}" if 1 <= len(digits) <= 13 else ""


def return_reason(reason: str) -> str:
    """``reasonForReturn``: the request's own code when it is one of UPS's, else AM (cancelled order)."""
    code = reason.strip().upper()
    return code if code in codes.RETURN_REASONS else codes.DEFAULT_RETURN_REASON


def return_body(contact: Contact, reason: str) -> bytes:
    body = {"requestType": "RS", "specialInstructions": None, "requesterContactInfo": contact.body(),
            "reasonForReturn": return_reason(reason)}
    return dumps(body).encode()


def address_info(address: Address | None) -> dict[str, Any]:
    """``newDeliveryAddress`` of a redirect; raises CarrierRejected(bad_address) before any call.

    UPS redirects only within the US and Puerto Rico, and lanjie holds an address as one line of text:
    it must read "street, [line 2,] city, ST 12345".
    """
    if address is None or not address.address.strip():
        raise CarrierRejected("710", "a UPS redirect needs newDeliveryAddress", reason=InterceptReason.bad_address)
    match = _US_ADDRESS.fullmatch(address.address)
    if match is None:
        raise CarrierRejected("710", "a UPS redirect needs a US address written 'street, city, ST 12345'",
                              reason=InterceptReason.bad_address)
    parts = match.groupdict()
    if len(parts["line1"]) > 50 or len(parts["line2"] or "") > 35 or len(parts["city"]) > 30:
        raise CarrierRejected("710", "address too long for UPS (street 50, line 2 35, city 30 characters)",
                              reason=InterceptReason.bad_address)
    info: dict[str, str] = {"addressLine1": parts["line1"]}
    if parts["line2"]:
        info["addressLine2"] = parts["line2"]
    country = "PR" if parts["state"] == "PR" or parts["country"] == "PR" else "US"
    info.update({"city": parts["city"], "state": parts["state"], "postalCode": parts["postal"],
                 "countryCode": country})
    entry: dict[str, Any] = {"addressNickName": _NICKNAME, "addressInfo": info,
                             "nameOrCompanyName": address.name, "contactName": address.name}
    number = phone(address.phone)
    if number:
        entry["phoneNumber"] = number
    return entry


def redirect_body(contact: Contact, address: Address | None) -> bytes:
    body = {"requestType": "AA", "specialInstructions": None, "requesterContactInfo": contact.body(),
            "newDeliveryAddress": address_info(address)}
    return dumps(body).encode()


def will_call_body(contact: Contact, special_instructions: str | None) -> bytes:
    body = {"requestType": codes.WILL_CALL, "specialInstructions": special_instructions or None,
            "requesterContactInfo": contact.body()}
    return dumps(body).encode()


def cancel_body(contact: Contact) -> bytes:
    """``/cancel`` body: ``requestType`` is optional and lanjie does not know it here, so it is left out."""
    return dumps({"specialInstructions": None, "requesterContactInfo": contact.body()}).encode()


def charges_body(intercept_type: InterceptType, address: Address | None) -> bytes:
    """``/charges`` body for the option lanjie would send.

    The spec requires ``fromAddress`` and ``toAddress`` too; lanjie does not hold the parcel's US
    addresses, and UPS knows them from the tracking number (*sandbox choice*: they are left out).
    """
    item: dict[str, Any] = {}
    if intercept_type is InterceptType.redirect and address is not None:
        item["redirectAddress"] = address_info(address)
    item["trackInfo"] = {"interceptOption": codes.REQUEST_TYPES[intercept_type]}
    return dumps({"ratingRequest": [item]}).encode()


# -- answers -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    """An answer reduced to what every operation needs; ``body`` is the inner object."""

    http_status: int
    ok: bool
    code: str  # the first error's code, else statusCode
    message: str
    transaction_id: str
    body: Mapping[str, Any]
    # The bearer token the call was made with, so a refused one can be dropped (never shown in a repr).
    token: str = field(default="", repr=False)


def text(value: object) -> str:
    """A scalar field as text ("" for null, objects and arrays)."""
    return "" if value is None or isinstance(value, dict | list) else str(value)


def answer(http_status: int, body: Mapping[str, Any], *, token: str = "") -> Answer:
    """Read an answer in either of UPS's shapes: flat, or wrapped in ``response`` (errors, charges)."""
    wrapped = body.get("response")
    inner: Mapping[str, Any] = wrapped if isinstance(wrapped, Mapping) else body
    status_code = text(inner.get("statusCode"))
    ok = http_status == 200 and inner.get("success") is True and status_code == SUCCESS_CODE
    code, message = status_code, text(inner.get("statusMsg"))
    errors = inner.get("errors")
    if not ok and isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        first = errors[0]
        code = text(first.get("code") if "code" in first else first.get("errorCode"))
        message = text(first.get("message") if "message" in first else first.get("errorMessage"))
    return Answer(http_status, ok, code, message, text(inner.get("transactionId")), inner, token)


def raise_for(operation: str, reply: Answer) -> None:
    """Raise the error an unsuccessful answer to a non-intercept operation means."""
    if reply.ok:
        return
    rule = codes.answer_rule(operation, reply.http_status, reply.code, reply.message)
    if rule.unavailable:
        raise CarrierUnavailable(f"ups {operation}: {reply.code} {reply.message}")
    raise CarrierRejected(reply.code or str(reply.http_status), reply.message,
                          reason=rule.reason or InterceptReason.carrier_error)


def intercept_ack(operation: str, reply: Answer) -> InterceptAck:
    """The ``InterceptAck`` of a ``/return``, ``/redirect/address`` or ``/willcall`` answer.

    Raises CarrierRejected when the request itself was refused (validation, auth, rate limit) and
    CarrierUnavailable when UPS reports a system error.
    """
    if reply.ok:
        return InterceptAck(accepted=True, task_id=reply.transaction_id or None, message=reply.message)
    rule = codes.answer_rule(operation, reply.http_status, reply.code, reply.message)
    if rule.unavailable:
        raise CarrierUnavailable(f"ups {operation}: {reply.code} {reply.message}")
    if rule.rejects:
        raise CarrierRejected(reply.code or str(reply.http_status), reply.message,
                              reason=rule.reason or InterceptReason.carrier_error)
    task_id = (reply.transaction_id or None) if rule.duplicate else None
    return InterceptAck(accepted=rule.accepted, task_id=task_id, reason=rule.reason, message=reply.message,
                        duplicate=rule.duplicate)


def cancel_ack(reply: Answer) -> CancelAck:
    """The ``CancelAck`` of a ``/cancel`` answer; a request error raises as for any operation."""
    if reply.ok:
        return CancelAck(accepted=True, message=reply.message)
    if reply.code in codes.CANCEL_REFUSALS and reply.http_status not in codes.HTTP_RULES:
        return CancelAck(accepted=False, message=reply.message or codes.CANCEL_REFUSALS[reply.code])
    rule = codes.answer_rule("cancel_intercept", reply.http_status, reply.code, reply.message)
    if rule.unavailable:
        raise CarrierUnavailable(f"ups cancel_intercept: {reply.code} {reply.message}")
    if rule.rejects:
        raise CarrierRejected(reply.code or str(reply.http_status), reply.message,
                              reason=rule.reason or InterceptReason.carrier_error)
    return CancelAck(accepted=False, message=reply.message)


@dataclass(frozen=True)
class Eligibility:
    """One ``interceptFeature``'s ``eligibilityValue``: True, False, or None (UNKNOWN)."""

    create: bool | None
    modify: bool | None
    cancel: bool | None


def eligibility(reply: Answer) -> dict[str, Eligibility]:
    """``commonEligibilityMap`` by feature (a single object is read as a list of one, as the schema has it)."""
    entries = reply.body.get("commonEligibilityMap")
    if isinstance(entries, Mapping):
        entries = [entries]
    if not isinstance(entries, list):
        raise PayloadError("commonEligibilityMap is not a list")
    features: dict[str, Eligibility] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("eligibilityValue"), Mapping):
            raise PayloadError("a commonEligibilityMap entry has no eligibilityValue")
        feature, value = text(entry.get("interceptFeature")), entry["eligibilityValue"]
        features[feature] = Eligibility(*(codes.eligibility_value(feature, text(value.get(name)))
                                          for name in ("createEligibility", "modifyEligibility",
                                                       "cancelEligibility")))
    return features


def feature_for(features: Mapping[str, Eligibility], intercept_type: InterceptType) -> Eligibility | None:
    for name in codes.ELIGIBILITY_FEATURES.get(intercept_type, ()):
        if name in features:
            return features[name]
    return None


def offered_types(features: Mapping[str, Eligibility]) -> frozenset[InterceptType]:
    """The intercept types UPS would accept a new request of now."""
    offered = {kind for kind in codes.REQUEST_TYPES if (found := feature_for(features, kind)) and found.create}
    return frozenset(offered)


def pending_intercept(features: Mapping[str, Eligibility]) -> bool:
    """An intercept is pending when UPS would let it be cancelled or changed."""
    return any(value.cancel or value.modify for value in features.values())


def precheck_verdict(features: Mapping[str, Eligibility],
                     intercept_type: InterceptType) -> tuple[bool | None, InterceptReason | None]:
    """Eligible?, and why not. NOT_ELIGIBLE says no reason; a pending intercept of ours is the one we know."""
    found = feature_for(features, intercept_type)
    if found is None or found.create is None:
        return None, None
    if found.create:
        return True, None
    if pending_intercept(features):
        return False, InterceptReason.already_intercepted
    return False, InterceptReason.not_supported


def charge(reply: Answer, tracking_no: str, option: str) -> tuple[int, str]:
    """The quoted fee in minor units (cents) and its currency, from ``chargeInfo``."""
    infos = reply.body.get("chargeInfo")
    if not isinstance(infos, list) or not infos:
        raise PayloadError("chargeInfo is empty")
    info = next((i for i in infos if isinstance(i, Mapping) and i.get("trackingNumber") == tracking_no), infos[0])
    if not isinstance(info, Mapping):
        raise PayloadError("chargeInfo entry is not an object")
    details = info.get("interceptChargeDetail")
    detail = next((d for d in details if isinstance(d, Mapping) and d.get("interceptOption") == option), None) \
        if isinstance(details, list) else None
    if detail is not None and info.get("totalCharge") in (None, "", "0.00"):
        # An "AL" quote carries each option's price in the details only.
        return minor_units(text(detail.get("totalCharge"))), text(detail.get("currencyCode")) or "USD"
    return minor_units(text(info.get("totalCharge"))), text(info.get("chargeCurrency")) or "USD"


def minor_units(amount: str) -> int:
    """``"21.00"`` → 2100, exactly (Decimal, never float)."""
    try:
        value = Decimal(amount.strip())
    except InvalidOperation as exc:
        raise PayloadError(f"bad amount {amount!r}") from exc
    if not value.is_finite() or value < 0:
        raise PayloadError(f"bad amount {amount!r}")
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
