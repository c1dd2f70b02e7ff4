"""UPS wire formats as the sandbox speaks them: patterns, bodies, codes, and scans as UPS activities.

Documented by UPS and followed (reference §13; UPS's ``DeliveryIntercept.yaml`` v2, ``OAuthClientCredentials
.yaml``): the paths, the header names, the ``transId`` pattern ``[A-Za-z0-9.-]{3,14}``, the tracking number
pattern, the request body fields and their limits (``additionalProperties: false``), the success body
``{transactionId, statusCode "000", statusMsg, success, errors, subStatusCode}``, the error body
``{"response": {transactionId, statusCode, errors: [{code, message}]}}`` with 710 (validation, 400) and
605 (401), ``commonEligibilityMap`` features SDWC/RTS/WC/FD/RD with ELIGIBLE/NOT_ELIGIBLE/UNKNOWN,
``chargeInfo`` and ``interceptChargeDetail``, the token answer fields.

**Sandbox choices** (UPS does not publish them; a real account may differ):

* Parcel refusals are HTTP 400 with codes 720 not found, 721 not picked up, 722 delivered, 723 an
  intercept of the same requester is pending (``response.transactionId`` names it), 724 already
  intercepted (completed, or pending for another requester), 725 not supported (lost, damaged, another
  carrier); on ``/cancel`` 726 nothing pending, 727 already completed or failed.
* A refused OAuth token (unknown, revoked, expired) is 401 with code 250002; the token endpoint answers
  401 with 10401 for bad client credentials and 400 with 10400 for a bad grant type; tokens live 14399 s.
* A rate limit is HTTP 429 with code 10429.
* The intercept answer's ``transactionId`` is the sandbox task id (``U`` + 12 digits); other answers
  echo the request's ``transId``.
* ``/charges`` accepts ``ratingRequest`` items without ``fromAddress``/``toAddress`` (UPS knows them from
  the tracking number); the fee is 21.00 USD for every option but will call (0.00); it is recorded on
  the task and shown charged (``interceptChargeDetail[].successful``: true) only once the intercept has
  completed. ``interceptChargeDetail`` is sent for every option quoted, not only for AL.
* ``multiTrackingNumbers`` (from UPS's v1 schema, absent from v2) lists further packages of the same
  shipment; a request covers at most 20 packages (§13.2).
* Eligibility: an unknown number is UNKNOWN for every feature; while an intercept is pending every
  feature is create NOT_ELIGIBLE, modify and cancel ELIGIBLE.
* UPS's US-only rule is not enforced: the sandbox network is Chinese cities, so any address of the
  documented shape is accepted and placed in the sandbox city its text names (else the recipient's).
* The Track API (``GET /api/track/v1/details/{inquiryNumber}``, absent from the reference): activity
  ``status.type`` / ``status.code`` per scan as in ``ACTIVITY``; times in Beijing time with
  ``gmtOffset +08:00`` and ``gmtDate``/``gmtTime`` in UTC; unknown numbers answer 404 with 151044.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from lanjie.sandbox.model import Scan
from lanjie.sandbox.route import ScanCode

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
TRACKING_NUMBER = re.compile(r"1Z[A-Z0-9]{16}")
TRANS_ID = re.compile(r"[A-Za-z0-9.-]{3,14}")  # Delivery Intercept v2
TRACK_TRANS_ID = re.compile(r"\S{1,32}")  # the Track API only says "required" (a sandbox limit)
TRANSACTION_SRC = re.compile(r"[A-Za-z0-9.-]{1,36}")
PHONE = re.compile(r"\+[0-9]{1,13}")
STATE = re.compile(r"[A-Z]{2}")
POSTAL_CODE = re.compile(r"\d{5}(?:[-\s]\d{4})?")
COUNTRY = re.compile(r"[A-Z]{2}")

REQUEST_TYPES = frozenset({"WC", "SC", "FD", "AA", "RS"})
INTERCEPT_OPTIONS = ("WC", "SC", "FD", "AA", "RS")  # quoted one by one, or all for "AL"
RETURN_REASONS = frozenset({"AM", "AN", "AQ", "AR", "AS", "FA", "KR", "KS", "KV"})
REASON_TEXT = {
    "AM": "Cancelled Order", "AN": "Duplicate Order", "AQ": "COD Will Not Be Accepted", "AR": "Too Expensive",
    "AS": "Shipped Too Late", "FA": "Incorrect Address", "KR": "Refused Delivery", "KS": "Did Not Order",
    "KV": "Other",
}
FEATURES = ("SDWC", "RTS", "WC", "FD", "RD")
REQUEST_FIELDS = frozenset({"requestType", "requesterContactInfo", "reasonForReturn", "deliveryDate",
                            "specialInstructions", "newDeliveryAddress", "multiTrackingNumbers"})
MAX_PACKAGES = 20
TOKEN_LIFETIME_SECONDS = 14399
FEE_CENTS = 2100
FREE_OPTIONS = frozenset({"WC", "SC"})  # will call is free (§13.2)
CURRENCY = "USD"


class ErrorCode(StrEnum):
    validation = "710"
    address_token = "605"
    not_found = "720"
    not_picked_up = "721"
    delivered = "722"
    pending_duplicate = "723"
    already_intercepted = "724"
    not_supported = "725"
    nothing_to_cancel = "726"
    too_late = "727"
    invalid_token = "250002"
    bad_client = "10401"
    bad_grant = "10400"
    rate_limited = "10429"
    no_tracking_information = "151044"


def money(cents: int) -> str:
    """2100 → ``"21.00"``."""
    return f"{cents // 100}.{cents % 100:02d}"


def error_body(transaction_id: str, status: int, code: ErrorCode, message: str) -> dict[str, Any]:
    return {"response": {"transactionId": transaction_id, "statusCode": str(status),
                         "errors": [{"code": code.value, "message": message}]}}


def success_body(transaction_id: str) -> dict[str, Any]:
    return {"transactionId": transaction_id, "statusCode": "000", "statusMsg": "Success", "success": True,
            "errors": None, "subStatusCode": ""}


def wrapped_success(transaction_id: str, **fields: Any) -> dict[str, Any]:
    return {"response": {"transactionId": transaction_id, "statusCode": "000", "statusMsg": "Success",
                         "success": True, "errors": None, "warnings": None, **fields}}


def yyyymmdd(at: datetime) -> str:
    return at.astimezone(BEIJING).strftime("%Y%m%d")


#: UPS activity (``status.type``, ``status.code``, ``status.statusCode``, description) for each scan.
ACTIVITY: dict[ScanCode, tuple[str, str, str, str]] = {
    ScanCode.ordered: ("M", "MP", "003", "Shipper created a label, UPS has not received the package yet."),
    ScanCode.picked_up: ("P", "PU", "038", "Pickup Scan"),
    ScanCode.departed: ("I", "DP", "005", "Departed from Facility"),
    ScanCode.arrived_hub: ("I", "AR", "005", "Arrived at Facility"),
    ScanCode.arrived_outlet: ("I", "AD", "005", "Arrived at Delivering Facility"),
    ScanCode.out_for_delivery: ("O", "OT", "072", "Out For Delivery Today"),
    ScanCode.delivered: ("D", "KB", "011", "Delivered"),
    ScanCode.intercepted: ("I", "IR", "021", "Delivery intercept: returning to the shipper at the shipper's request"),
    ScanCode.return_departed: ("I", "RT", "021", "Returning to shipper: departed from facility"),
    ScanCode.return_arrived: ("I", "RT", "021", "Returning to shipper: arrived at facility"),
    ScanCode.return_signed: ("RS", "RS", "012", "Returned to shipper"),
    ScanCode.redirected: ("I", "RD", "022", "Delivery intercept: on the way to the new delivery address"),
    ScanCode.damaged: ("X", "DM", "017", "Damage reported"),
    ScanCode.lost: ("X", "LO", "017", "No recent activity: the package may be lost"),
}
#: A will call's catching scan (the world records it as a redirect to a UPS facility).
WILL_CALL_ACTIVITY = ("I", "WC", "023", "Delivery intercept: held at a UPS facility for customer pickup")


def activity(scan: Scan, will_call: bool = False) -> dict[str, Any]:
    """One Track API activity for a scan; the catching scan of a will call reads as a hold."""
    type_, code, status_code, description = (
        WILL_CALL_ACTIVITY if will_call and scan.code is ScanCode.redirected else ACTIVITY[scan.code])
    local, utc = scan.at.astimezone(BEIJING), scan.at.astimezone(UTC)
    city = scan.node.city
    return {
        "date": local.strftime("%Y%m%d"),
        "time": local.strftime("%H%M%S"),
        "gmtDate": utc.strftime("%Y%m%d"),
        "gmtOffset": "+08:00",
        "gmtTime": utc.strftime("%H:%M:%S"),
        "location": {"address": {"city": city.name, "stateProvince": city.area_name.split(",")[0],
                                 "countryCode": "CN", "country": "CN"}, "slic": city.area_code[-4:]},
        "status": {"type": type_, "code": code, "statusCode": status_code, "description": description},
    }


def track_body(tracking_no: str, scans: Sequence[Scan], will_call: bool) -> dict[str, Any]:
    """``trackResponse`` for one package: activities newest first, ``currentStatus`` the newest."""
    activities = [activity(scan, will_call) for scan in reversed(scans)]
    package = {"trackingNumber": tracking_no, "packageCount": 1, "activity": activities,
               "currentStatus": activities[0]["status"] if activities else {}}
    return {"trackResponse": {"shipment": [{"inquiryNumber": tracking_no, "package": [package]}]}}
