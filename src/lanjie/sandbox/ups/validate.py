"""Validation of UPS request bodies against the v2 schema; each failure names the field (answered 710).

``DeliveryInterceptRequestV2`` has ``additionalProperties: false`` and requires ``requesterContactInfo``
(``name`` 1–30, ``telephone`` ``+`` and 1–13 digits) and ``specialInstructions`` (a string of 1–254, or
null). ``multiTrackingNumbers`` is accepted besides (a sandbox choice, see ``wire``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from lanjie.sandbox.ups import wire


class Invalid(ValueError):
    """A body does not match the schema; the message names the field."""


def _string(value: object, label: str, low: int, high: int, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise Invalid(f"{label}: required, a string of {low}-{high} characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise Invalid(f"{label}: must match ^{pattern.pattern}$")
    return value


def _object(value: object, label: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{label}: required, an object")
    return value


def check_request(body: Mapping[str, Any], request_types: Collection[str], *, cancel: bool = False) -> str:
    """Check a ``/return``, ``/redirect/address``, ``/willcall`` or ``/cancel`` body; its ``requestType``.

    On ``/cancel`` the type is optional and names what is cancelled, so what it requires does not apply.
    """
    unknown = sorted(set(body) - wire.REQUEST_FIELDS)
    if unknown:
        raise Invalid(f"{unknown[0]}: not a field of this request")
    request_type = body.get("requestType")
    if (request_type is not None or not cancel) and request_type not in request_types:
        raise Invalid(f"requestType: must be one of {', '.join(sorted(request_types))}")
    contact = _object(body.get("requesterContactInfo"), "requesterContactInfo")
    _string(contact.get("name"), "requesterContactInfo.name", 1, 30)
    _string(contact.get("telephone"), "requesterContactInfo.telephone", 1, 14, wire.PHONE)
    if "specialInstructions" not in body:
        raise Invalid("specialInstructions: required (null allowed)")
    if body["specialInstructions"] is not None:
        _string(body["specialInstructions"], "specialInstructions", 1, 254)
    if cancel:
        return str(request_type or "")
    if request_type == "RS" and body.get("reasonForReturn") not in wire.RETURN_REASONS:
        raise Invalid(f"reasonForReturn: required for RS, one of {', '.join(sorted(wire.RETURN_REASONS))}")
    if request_type == "AA":
        if body.get("newDeliveryAddress") is None:
            raise Invalid("newDeliveryAddress: required for requestType AA")
        check_address_entry(body["newDeliveryAddress"], "newDeliveryAddress")
    return str(request_type or "")


def check_address_entry(value: object, label: str) -> None:
    """An address book entry (``newDeliveryAddress``, ``redirectAddress``): nickname and address info."""
    entry = _object(value, label)
    _string(entry.get("addressNickName"), f"{label}.addressNickName", 2, 20)
    info = _object(entry.get("addressInfo"), f"{label}.addressInfo")
    _string(info.get("addressLine1"), f"{label}.addressInfo.addressLine1", 1, 50)
    for name in ("addressLine2", "addressLine3"):
        if info.get(name) is not None:
            _string(info[name], f"{label}.addressInfo.{name}", 1, 35)
    _string(info.get("city"), f"{label}.addressInfo.city", 1, 30)
    _string(info.get("state"), f"{label}.addressInfo.state", 2, 2, wire.STATE)
    _string(info.get("postalCode"), f"{label}.addressInfo.postalCode", 5, 16, wire.POSTAL_CODE)
    _string(info.get("countryCode"), f"{label}.addressInfo.countryCode", 2, 2, wire.COUNTRY)
    if entry.get("phoneNumber") is not None:
        _string(entry["phoneNumber"], f"{label}.phoneNumber", 2, 14, wire.PHONE)


def check_charges(body: Mapping[str, Any]) -> list[list[str]]:
    """Check a ``/charges`` body; the options quoted for each ``ratingRequest`` item (AL = all)."""
    items = body.get("ratingRequest")
    if not isinstance(items, list) or not items:
        raise Invalid("ratingRequest: required, a non-empty array")
    quoted = []
    for index, item in enumerate(items):
        label = f"ratingRequest[{index}]"
        item = _object(item, label)
        unknown = sorted(set(item) - {"redirectAddress", "fromAddress", "toAddress", "trackInfo"})
        if unknown:
            raise Invalid(f"{label}.{unknown[0]}: not a field of a rating request")
        option = _object(item.get("trackInfo"), f"{label}.trackInfo").get("interceptOption")
        if option != "AL" and option not in wire.INTERCEPT_OPTIONS:
            raise Invalid(f"{label}.trackInfo.interceptOption: must be one of WC, SC, FD, AA, RS, AL")
        if item.get("redirectAddress") is not None:
            check_address_entry(item["redirectAddress"], f"{label}.redirectAddress")
        quoted.append(list(wire.INTERCEPT_OPTIONS) if option == "AL" else [str(option)])
    return quoted
