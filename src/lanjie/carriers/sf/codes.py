"""SF Express's codes and what each means to lanjie, one table per kind of answer.

Every table is the single place its codes are interpreted, so when SF's real (undocumented) values
become known they are dropped in here and nothing else changes. Entries marked *sandbox choice* are
lanjie's assumptions, shared with the sandbox twin; the others follow carrier-protocols.md §4.

An unknown code never crashes: it maps to a safe default and is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from lanjie.carriers.base import Payer
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus

log = logging.getLogger(__name__)

#: ``serviceCode`` of the form: the 丰桥 service each operation calls [§4.3].
SERVICE_INTERCEPT = "EXP_RECE_WANTED_INTERCEPT"
SERVICE_SEARCH_ROUTES = "EXP_RECE_SEARCH_ROUTES"
SERVICE_REGISTER_ROUTE = "EXP_RECE_REGISTER_ROUTE"

#: ``serviceCode`` inside the EXP_RECE_WANTED_INTERCEPT ``msgData`` [§4.4]. SF has no "back to the
#: origin outlet": its 退回 returns to the sender's address, which is what lanjie calls return_to_sender.
INTERCEPT_TYPES: Mapping[InterceptType, str] = {
    InterceptType.redirect: "1",  # 转寄
    InterceptType.return_to_sender: "2",  # 退回
}

#: ``payMode`` by who pays the intercept fee [§4.4].
PAY_MODES: Mapping[Payer, str] = {
    Payer.sender: "1",  # 寄付现结
    Payer.recipient: "2",  # 到付
    Payer.third_party: "3",  # 寄付转第三方月结
    Payer.monthly_account: "4",  # 寄付月结
}
#: ``role`` of whoever asks: the shop is always the sender of the parcels it intercepts [§4.4].
ROLE_SENDER = "1"


class Verdict(StrEnum):
    """What an answer code means for the caller."""

    ok = "ok"
    rejected = "rejected"  # raise CarrierRejected with the rule's reason
    unavailable = "unavailable"  # raise CarrierUnavailable: retry later


@dataclass(frozen=True)
class AnswerRule:
    verdict: Verdict
    reason: InterceptReason | None = None


_BAD = AnswerRule(Verdict.rejected, InterceptReason.carrier_error)
_AUTH = AnswerRule(Verdict.rejected, InterceptReason.auth_failed)

#: The envelope's ``apiResultCode``. ``A1000`` is documented [§4.2]; the rest is a *sandbox choice*.
API_RESULT_CODES: Mapping[str, AnswerRule] = {
    "A1000": AnswerRule(Verdict.ok),
    "A1001": _BAD,  # a form field is missing or malformed (必传参数不可为空)
    "A1004": _AUTH,  # unknown or expired partnerID, or a service the account may not call
    "A1005": AnswerRule(Verdict.rejected, InterceptReason.rate_limited),  # 流量受控
    "A1006": _AUTH,  # msgDigest does not verify (数字签名无效)
    "A1099": AnswerRule(Verdict.unavailable),  # system error
}

#: ``apiResultData.errorCode`` of a successful call [§4.2].
OK_CODE = "S0000"


def api_rule(code: str, message: str) -> AnswerRule:
    """The rule for an ``apiResultCode``; unknown codes are logged and rejected as carrier_error."""
    rule = API_RESULT_CODES.get(code)
    if rule is None:
        log.warning("sf answered an unknown apiResultCode %r: %s", code, message)
        return _BAD
    return rule


@dataclass(frozen=True)
class AckRule:
    """How one EXP_RECE_WANTED_INTERCEPT ``errorCode`` becomes an ``InterceptAck`` (or a CarrierRejected)."""

    accepted: bool
    reason: InterceptReason | None = None
    duplicate: bool = False
    # The request itself was refused (bad parameter), not the parcel: raised as CarrierRejected.
    rejects: bool = False


#: EXP_RECE_WANTED_INTERCEPT ``errorCode``. S0000 is documented, 8016 is documented as "duplicate"
#: for orders [§4.2]; using it for intercepts and every other code is a *sandbox choice* [§4.4: the
#: error codes are unknown].
INTERCEPT_CODES: Mapping[str, AckRule] = {
    OK_CODE: AckRule(accepted=True),
    # An intercept of this waybill is already under way (our own earlier attempt whose answer was
    # lost looks the same): accepted, with the first command's cusId.
    "8016": AckRule(accepted=True, reason=InterceptReason.already_intercepted, duplicate=True),
    "8001": AckRule(accepted=False, reason=InterceptReason.carrier_error, rejects=True),  # bad parameter
    "8002": AckRule(accepted=False, reason=InterceptReason.bad_address, rejects=True),  # newDestAddress
    "8101": AckRule(accepted=False, reason=InterceptReason.already_delivered),  # 已签收
    "8102": AckRule(accepted=False, reason=InterceptReason.out_for_delivery),  # 派送中
    "8103": AckRule(accepted=False, reason=InterceptReason.not_picked_up),  # 未揽收
    # SF intercepts a waybill at most once: after a successful one, a new request is refused [§4.4].
    "8104": AckRule(accepted=False, reason=InterceptReason.already_intercepted),
    "8105": AckRule(accepted=False, reason=InterceptReason.not_supported),  # unknown waybill, not eligible
}
UNKNOWN_ACK = AckRule(accepted=False, reason=InterceptReason.carrier_error)


def intercept_rule(code: str, message: str) -> AckRule:
    """The rule for an intercept ``errorCode``; unknown codes are logged and refused as carrier_error."""
    rule = INTERCEPT_CODES.get(code)
    if rule is None:
        log.warning("sf %s answered an unknown errorCode %r: %s", SERVICE_INTERCEPT, code, message)
        return UNKNOWN_ACK
    return rule


#: ``errorCode`` of a cancel (``cancel: true`` + ``cusId``), *sandbox choice* apart from S0000:
#: True when the intercept is withdrawn, False when SF says it cannot be (no such command, too late).
CANCEL_CODES: Mapping[str, bool] = {
    OK_CODE: True,
    "8106": False,  # no command with this cusId on this waybill
    "8107": False,  # the intercept already completed (succeeded or failed)
}

#: ``errorCode`` of the route services (search and register); S0000 documented, 8001 *sandbox choice*.
ROUTE_CODES: Mapping[str, AnswerRule] = {
    OK_CODE: AnswerRule(Verdict.ok),
    "8001": _BAD,  # bad parameter
}


def route_rule(service: str, code: str, message: str) -> AnswerRule:
    """The rule for a route service ``errorCode``; unknown codes are logged and rejected as carrier_error."""
    rule = ROUTE_CODES.get(code)
    if rule is None:
        log.warning("sf %s answered an unknown errorCode %r: %s", service, code, message)
        return _BAD
    return rule


# Route ``opCode`` [3rd-party, §4.5] onto lanjie's statuses (§19). Codes marked *sandbox choice*
# are not SF's: SF's own codes for these events are not public, so the twin and this table agree on
# stand-ins that a real value replaces.
TRACKING_CODES: Mapping[str, TrackingStatus] = {
    "50": TrackingStatus.picked_up,  # 顺丰速运 已收取快件
    "30": TrackingStatus.in_transit,  # left a transfer point
    "31": TrackingStatus.in_transit,  # arrived at a transfer point
    "130": TrackingStatus.at_destination,  # arrived at the destination outlet
    "44": TrackingStatus.out_for_delivery,  # 派送中
    "80": TrackingStatus.delivered,  # 已签收
    # Closed (结单), after the signature [inferred]: read as delivered so it never revives a parcel.
    "8000": TrackingStatus.delivered,
    "631": TrackingStatus.returning,  # 退回: where a successful intercept shows (§22.3)
    # Occur in SF traces, meaning unknown (§4.5): ordinary scans as far as lanjie can tell.
    "123": TrackingStatus.in_transit,
    "607": TrackingStatus.in_transit,
    "648": TrackingStatus.in_transit,
    "99": TrackingStatus.in_transit,
    # *Sandbox choices*:
    "9000": TrackingStatus.created,  # label printed, waiting for pickup (已下单)
    "9080": TrackingStatus.returned,  # the returned parcel signed for by the sender (退回签收)
    "9001": TrackingStatus.in_transit,  # caught by a redirect, sent on to the new address (转寄)
    "9002": TrackingStatus.damaged,  # 破损
    "9003": TrackingStatus.lost,  # 遗失
}

#: Codes showing that an intercept caught the parcel: it turned back (631, 9080) or was sent on to a
#: new address (9001).
TURNED_CODES = frozenset({"631", "9080", "9001"})

#: An unknown code is most likely a new transit scan; in_transit neither settles nor blocks anything.
UNKNOWN_TRACKING_STATUS = TrackingStatus.in_transit

_warned_codes: set[str] = set()


def tracking_status(code: str) -> TrackingStatus:
    """The normalised status of an SF ``opCode``; unknown codes warn once each."""
    status = TRACKING_CODES.get(code)
    if status is None:
        if code not in _warned_codes:
            _warned_codes.add(code)
            log.warning("sf route opCode %r is unknown; treated as %s", code, UNKNOWN_TRACKING_STATUS)
        return UNKNOWN_TRACKING_STATUS
    return status
