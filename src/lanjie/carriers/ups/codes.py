"""UPS codes and what each means to lanjie, one table per kind of answer.

Every table is the single place its codes are interpreted. Tables (or entries) marked *sandbox choice*
hold lanjie's assumptions, shared with the sandbox twin only through this documentation, so a real
value drops in here and nothing else changes; the others follow UPS's published OpenAPI files
(carrier-protocols.md §13, ``UPS-API/api-documentation`` ``DeliveryIntercept.yaml``).

An unknown code never crashes: it maps to a safe default and is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus

log = logging.getLogger(__name__)

#: ``requestType`` of each intercept lanjie sends, and the path it is sent to [official].
REQUEST_TYPES: Mapping[InterceptType, str] = {
    InterceptType.return_to_sender: "RS",  # RETURN_TO_SENDER, POST /return/{tn}
    InterceptType.redirect: "AA",  # ALTERNATE_ADDRESS, POST /redirect/address/{tn}
}
WILL_CALL = "WC"  # hold at a UPS facility for pickup, POST /willcall/{tn}; lanjie has no InterceptType for it
PATHS: Mapping[str, str] = {"RS": "return", "AA": "redirect/address", "WC": "willcall"}

#: ``commonEligibilityMap[].interceptFeature`` that answers for each intercept type, first present wins.
#: UPS lists SDWC, RTS, WC, FD and RD but no feature for an alternate address: a redirect is judged by
#: "AA" should UPS ever send it, else by RTS, whose window (before the first delivery attempt) is the
#: same [inferred].
ELIGIBILITY_FEATURES: Mapping[InterceptType, tuple[str, ...]] = {
    InterceptType.return_to_sender: ("RTS",),
    InterceptType.redirect: ("AA", "RTS"),
}

#: ``eligibilityValue`` values [official]; None means UPS does not know (the gates judge from tracking).
ELIGIBILITY_VALUES: Mapping[str, bool | None] = {"ELIGIBLE": True, "NOT_ELIGIBLE": False, "UNKNOWN": None}

#: ``reasonForReturn`` codes [official]. lanjie intercepts for refund-only cases (发货后仅退款): the buyer
#: cancelled the order, hence AM unless the request names one of these codes itself.
RETURN_REASONS: Mapping[str, str] = {
    "AM": "receiver refused, cancelled order",
    "AN": "receiver refused, duplicate order",
    "AQ": "receiver refused, no C.O.D.s accepted",
    "AR": "receiver refused, too expensive",
    "AS": "receiver refused, shipped too late",
    "FA": "unable to resolve incorrect address",
    "KR": "receiver did not want, refused delivery",
    "KS": "receiver did not order, refused",
    "KV": "other non-delivery",
}
DEFAULT_RETURN_REASON = "AM"


def eligibility_value(feature: str, value: str) -> bool | None:
    """True/False/None for an eligibility value; an unknown value is logged and read as UNKNOWN."""
    if value in ELIGIBILITY_VALUES:
        return ELIGIBILITY_VALUES[value]
    log.warning("ups eligibility of %s has an unknown value %r; treated as UNKNOWN", feature, value)
    return None


@dataclass(frozen=True)
class AnswerRule:
    """How one error code becomes an ``InterceptAck`` (or an exception).

    ``rejects``: the request itself was refused (validation, auth, rate limit), not the parcel: raised
    as CarrierRejected so the service can retry a rate limit. ``unavailable``: UPS failed; retry later.
    """

    accepted: bool
    reason: InterceptReason | None = None
    duplicate: bool = False
    rejects: bool = False
    unavailable: bool = False


_REJECT = AnswerRule(accepted=False, reason=InterceptReason.carrier_error, rejects=True)
_AUTH = AnswerRule(accepted=False, reason=InterceptReason.auth_failed, rejects=True)

#: ``errors[].code`` (or ``errorCode``) of an answer. 710 and 605 are official; the 72x codes are the
#: *sandbox choice* for the parcel refusals UPS does not publish; 250002 and 500 are *sandbox choices*
#: for an invalid OAuth token and "System Error" (the 500 is the spec's own error example).
ERROR_CODES: Mapping[str, AnswerRule] = {
    "710": _REJECT,  # input validation; bad_address when the message names the address (ADDRESS_HINTS)
    "605": _AUTH,  # address token does not match any token in the user's profile
    "250002": _AUTH,  # invalid authentication information (an OAuth token that still fails after a refresh)
    "500": AnswerRule(accepted=False, unavailable=True),  # System Error
    "720": AnswerRule(accepted=False, reason=InterceptReason.not_supported),  # tracking number not found
    "721": AnswerRule(accepted=False, reason=InterceptReason.not_picked_up),
    "722": AnswerRule(accepted=False, reason=InterceptReason.already_delivered),
    # An intercept request of ours is already pending for the package: our own earlier attempt whose
    # answer was lost looks exactly like this, so it counts as accepted; ``transactionId`` names it.
    "723": AnswerRule(accepted=True, reason=InterceptReason.already_intercepted, duplicate=True),
    "724": AnswerRule(accepted=False, reason=InterceptReason.already_intercepted),  # completed, or someone else's
    "725": AnswerRule(accepted=False, reason=InterceptReason.not_supported),  # service, region or state
}
UNKNOWN_ANSWER = AnswerRule(accepted=False, reason=InterceptReason.carrier_error)

#: HTTP statuses that decide by themselves, whatever the code says [official for 401/403/429 in UPS's
#: OAuth spec; the Delivery Intercept spec documents 400 and 401].
HTTP_RULES: Mapping[int, AnswerRule] = {
    401: _AUTH,
    403: _AUTH,  # blocked merchant
    429: AnswerRule(accepted=False, reason=InterceptReason.rate_limited, rejects=True),
}

#: A 710 whose message names one of these is about the redirect address (lower-cased match).
ADDRESS_HINTS = ("address", "addressinfo", "postalcode", "city", "state")

#: ``/cancel`` refusals (*sandbox choice*): the intercept cannot be withdrawn; answered CancelAck(False).
CANCEL_REFUSALS: Mapping[str, str] = {
    "726": "no intercept request is pending for this package",
    "727": "the intercept already completed or failed; it can no longer be cancelled",
}


def answer_rule(operation: str, http_status: int, code: str, message: str) -> AnswerRule:
    """The rule for an unsuccessful answer; unknown codes are logged and refused as carrier_error."""
    rule = HTTP_RULES.get(http_status)
    if rule is not None:
        return rule
    rule = ERROR_CODES.get(code)
    if rule is None:
        log.warning("ups %s answered HTTP %s with an unknown code %r: %s", operation, http_status, code, message)
        return UNKNOWN_ANSWER
    if code == "710" and any(hint in message.lower() for hint in ADDRESS_HINTS):
        return AnswerRule(accepted=False, reason=InterceptReason.bad_address, rejects=True)
    return rule


# -- Track API ---------------------------------------------------------------------------------------
# The Track API (GET /api/track/v1/details/{inquiryNumber}) is UPS's, but absent from the reference, and
# UPS publishes no activity codes for an intercept (§13.1, §24). Both tables are *sandbox choices*.

#: ``activity[].status.type`` onto lanjie's statuses.
TRACKING_TYPES: Mapping[str, TrackingStatus] = {
    "M": TrackingStatus.created,  # billing information received (manifest): label only
    "P": TrackingStatus.picked_up,
    "I": TrackingStatus.in_transit,
    "O": TrackingStatus.out_for_delivery,
    "D": TrackingStatus.delivered,
    "X": TrackingStatus.exception,
    "RS": TrackingStatus.returned,  # returned to shipper
}

#: ``activity[].status.code`` refines the type where it is more precise (the code wins).
TRACKING_CODES: Mapping[str, TrackingStatus] = {
    "MP": TrackingStatus.created,  # manifest pickup: label created, not yet handed over
    "PU": TrackingStatus.picked_up,
    "DP": TrackingStatus.in_transit,  # departed from facility
    "AR": TrackingStatus.in_transit,  # arrived at facility
    "AD": TrackingStatus.at_destination,  # arrived at the delivering facility
    "OT": TrackingStatus.out_for_delivery,
    "KB": TrackingStatus.delivered,
    "IR": TrackingStatus.returning,  # delivery intercept: turned back to the shipper (the catching scan)
    "RT": TrackingStatus.returning,  # on the way back to the shipper
    "RS": TrackingStatus.returned,  # returned to (signed for by) the shipper
    "RD": TrackingStatus.in_transit,  # delivery intercept: sent on to the new address
    "WC": TrackingStatus.at_destination,  # delivery intercept: held at a UPS facility (will call)
    "DM": TrackingStatus.damaged,
    "LO": TrackingStatus.lost,
}

#: Codes showing that an intercept took effect although the parcel keeps going forward (redirect, will
#: call): the trace cannot otherwise tell a redirected delivery from a missed intercept.
DIVERTED_CODES = frozenset({"RD", "WC"})

#: An unknown code is most likely a new transit scan; in_transit neither settles nor blocks anything.
UNKNOWN_TRACKING_STATUS = TrackingStatus.in_transit

_warned: set[tuple[str, str]] = set()


def tracking_status(type_: str, code: str) -> TrackingStatus:
    """The normalised status of an activity; a pair known by neither table warns once."""
    status = TRACKING_CODES.get(code) or TRACKING_TYPES.get(type_)
    if status is None:
        if (type_, code) not in _warned:
            _warned.add((type_, code))
            log.warning("ups tracking status type %r code %r is unknown; treated as %s",
                        type_, code, UNKNOWN_TRACKING_STATUS)
        return UNKNOWN_TRACKING_STATUS
    return status


#: Track API error codes meaning "nothing known about this number yet" (*sandbox choice*: 151044 is the
#: "no tracking information available" of UPS's older tracking interfaces).
NO_TRACE_CODES = frozenset({"151044"})
