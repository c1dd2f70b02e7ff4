"""Kuaidi100's codes and what each means to lanjie, one table per kind of answer.

Every table is the single place its codes are interpreted, so when Kuaidi100's real (undocumented)
interception codes become known they are dropped in here and nothing else changes. Tables marked
*sandbox choice* hold lanjie's assumptions, shared with the sandbox twin; the others follow the
public documentation (carrier-protocols.md §2).

An unknown code never crashes: it maps to a safe default and is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from lanjie.carriers.base import InterceptOutcome
from lanjie.domain.states import InterceptReason, InterceptType, TrackingStatus

log = logging.getLogger(__name__)

#: lanjie courier code → Kuaidi100's company code, the ``kuaidicom`` / ``company`` / ``com`` of every
#: request [official codes]. Kuaidi100 speaks only its own codes: ``zto`` is not ZTO to it.
COMPANY_CODES: Mapping[str, str] = {
    "zto": "zhongtong",  # 中通
    "yto": "yuantong",  # 圆通
    "sto": "shentong",  # 申通
    "yunda": "yunda",  # 韵达
    "jtexpress": "jtexpress",  # 极兔
    "jt": "jtexpress",  # the J&T plugin's other spelling
    "sf": "shunfeng",  # 顺丰
    "shunfeng": "shunfeng",  # the SF plugin's other spelling
    "jd": "jd",  # 京东
    "ems": "ems",
    "debangwuliu": "debangwuliu",  # 德邦
    "youzhengguonei": "youzhengguonei",  # 邮政包裹
    "ups": "ups",
}
#: Kuaidi100 company code → lanjie courier code, for ``com`` / ``comOld`` / ``comNew`` in answers and pushes.
#: Where lanjie has two spellings, the one listed first wins (``shunfeng`` reads back as ``sf``).
COURIER_CODES: Mapping[str, str] = {
    company: courier for courier, company in reversed(COMPANY_CODES.items())
}


def company_code(courier: str) -> str:
    """Kuaidi100's code for a lanjie courier; a code the table lacks is sent as it is (a Kuaidi100 code
    lanjie has no short name for, taken from an ``autoCheck`` correction)."""
    return COMPANY_CODES.get(courier, courier)


def courier_code(company: str) -> str:
    """lanjie's courier code for a Kuaidi100 company code; one the table lacks is kept as it is."""
    return COURIER_CODES.get(company, company)


#: ``interceptType`` of ``interceptOrder`` [official].
INTERCEPT_TYPES: Mapping[InterceptType, str] = {
    InterceptType.return_to_sender: "RETURN_SEND_ADDR",  # 原址退回
    InterceptType.return_to_outlet: "RETURN_SEND_STATION",  # 退回寄件网点
    InterceptType.redirect: "MODIFY_ADDR",  # 改址
}


@dataclass(frozen=True)
class AckRule:
    """How one ``interceptOrder`` answer code becomes an ``InterceptAck`` (or a CarrierRejected)."""

    accepted: bool
    reason: InterceptReason | None = None
    duplicate: bool = False
    # The request itself was refused (bad request, auth, rate limit), not the parcel: raised as
    # CarrierRejected, so the service can retry a rate limit instead of refusing the intercept for good.
    rejects: bool = False


#: ``interceptOrder`` synchronous answer ``code``. 200 is official; the rest is a *sandbox choice*.
INTERCEPT_ACK_CODES: Mapping[int, AckRule] = {
    200: AckRule(accepted=True),
    # Already intercepted, still in progress, by this key. Our own earlier attempt whose answer was lost
    # looks exactly the same, so it counts as accepted (security-notes.md §4 rule 5); the task id is
    # that of the first attempt.
    30004: AckRule(accepted=True, reason=InterceptReason.already_intercepted, duplicate=True),
    # Intercepted before: the earlier intercept has its outcome (or was another account's). A retry
    # after a failed intercept lands here and is refused: there is no live task to wait for.
    30006: AckRule(accepted=False, reason=InterceptReason.already_intercepted),
    30001: AckRule(accepted=False, reason=InterceptReason.already_delivered),
    30002: AckRule(accepted=False, reason=InterceptReason.out_for_delivery),
    30003: AckRule(accepted=False, reason=InterceptReason.not_picked_up),
    30005: AckRule(accepted=False, reason=InterceptReason.not_supported),
    400: AckRule(accepted=False, reason=InterceptReason.carrier_error, rejects=True),  # see ADDRESS_HINTS
    403: AckRule(accepted=False, reason=InterceptReason.auth_failed, rejects=True),
    429: AckRule(accepted=False, reason=InterceptReason.rate_limited, rejects=True),
}
UNKNOWN_ACK = AckRule(accepted=False, reason=InterceptReason.carrier_error)

#: A 400 whose message names one of these is about the redirect address (lower-cased match).
ADDRESS_HINTS = ("recmaninfo", "address", "addr", "地址", "收件人")


def intercept_rule(code: int | None, message: str) -> AckRule:
    """The rule for an ``interceptOrder`` answer; unknown codes are logged and refused as carrier_error."""
    rule = INTERCEPT_ACK_CODES.get(code) if code is not None else None
    if rule is None:
        log.warning("kuaidi100 interceptOrder answered an unknown code %r: %s", code, message)
        return UNKNOWN_ACK
    if code == 400 and any(hint in message.lower() for hint in ADDRESS_HINTS):
        return AckRule(accepted=False, reason=InterceptReason.bad_address, rejects=True)
    return rule


class Verdict(StrEnum):
    """What an answer of the subscribe or query API means for the caller."""

    ok = "ok"
    rejected = "rejected"  # raise CarrierRejected with the rule's reason
    unavailable = "unavailable"  # raise CarrierUnavailable: retry later
    no_result = "no_result"  # query only: Kuaidi100 has no trace yet


@dataclass(frozen=True)
class AnswerRule:
    verdict: Verdict
    reason: InterceptReason | None = None


_AUTH = AnswerRule(Verdict.rejected, InterceptReason.auth_failed)
_BAD = AnswerRule(Verdict.rejected, InterceptReason.carrier_error)

#: ``poll`` (subscribe) ``returnCode`` [official].
SUBSCRIBE_CODES: Mapping[str, AnswerRule] = {
    "200": AnswerRule(Verdict.ok),
    "501": AnswerRule(Verdict.ok),  # already polling this number: subscribing is idempotent
    "500": AnswerRule(Verdict.unavailable),
    "600": _AUTH,  # invalid key
    "601": _AUTH,  # key expired
    "700": _BAD,  # bad data
    "701": _BAD,  # the courier refuses subscriptions
    "702": _BAD,  # the courier cannot be identified
}

#: ``poll/query.do`` error ``returnCode`` [official + mirror].
QUERY_ERROR_CODES: Mapping[str, AnswerRule] = {
    "500": AnswerRule(Verdict.no_result),  # 查询无结果: nothing scanned yet, or a wrong number
    "400": _BAD,  # bad data
    "503": _AUTH,  # bad signature
    "601": _AUTH,  # key expired or out of credit
    "501": AnswerRule(Verdict.unavailable),
    "502": AnswerRule(Verdict.unavailable),
}


def answer_rule(table: Mapping[str, AnswerRule], api: str, code: str, message: str) -> AnswerRule:
    """The rule for a subscribe/query answer; unknown codes are logged and rejected as carrier_error."""
    rule = table.get(code)
    if rule is None:
        log.warning("kuaidi100 %s answered an unknown returnCode %r: %s", api, code, message)
        return _BAD
    return rule


# Tracking states [mirror, §2.6] onto lanjie's statuses (§19). Sub-state codes (resultv2=4) are
# more precise than the top state, so an event's statusCode wins over the parcel's state.
TRACKING_CODES: Mapping[str, TrackingStatus] = {
    "101": TrackingStatus.created,  # 已下单
    "102": TrackingStatus.created,  # 待揽收
    "1": TrackingStatus.picked_up,
    "103": TrackingStatus.picked_up,
    "0": TrackingStatus.in_transit,
    "1002": TrackingStatus.in_transit,  # 干线
    "1003": TrackingStatus.in_transit,  # 转递
    "7": TrackingStatus.in_transit,  # 转投: handed to another courier
    "8": TrackingStatus.in_transit,  # 清关 customs, and its sub-states 10–13
    "10": TrackingStatus.in_transit,
    "11": TrackingStatus.in_transit,
    "12": TrackingStatus.in_transit,
    "13": TrackingStatus.in_transit,
    "1001": TrackingStatus.at_destination,  # 到达派件城市
    "5": TrackingStatus.out_for_delivery,
    "501": TrackingStatus.out_for_delivery,  # 投柜或驿站: waiting in a locker, not yet signed
    "3": TrackingStatus.delivered,
    "301": TrackingStatus.delivered,
    "302": TrackingStatus.delivered,
    "303": TrackingStatus.delivered,
    "304": TrackingStatus.delivered,
    "203": TrackingStatus.delivery_failed,  # 拒收
    "204": TrackingStatus.delivery_failed,  # 派件异常
    "206": TrackingStatus.delivery_failed,  # 无法联系
    "14": TrackingStatus.delivery_failed,  # 拒签
    "209": TrackingStatus.damaged,  # 破损
    "2": TrackingStatus.exception,  # 疑难
    "201": TrackingStatus.exception,
    "202": TrackingStatus.exception,
    "205": TrackingStatus.exception,
    "207": TrackingStatus.exception,
    "208": TrackingStatus.exception,
    "210": TrackingStatus.exception,
    "6": TrackingStatus.returning,  # 退回: where a successful intercept shows
    "4": TrackingStatus.returned,  # 退签: signed for by the sender's side
    "401": TrackingStatus.returned,
}

#: An unknown code is most likely a new transit scan; in_transit neither settles nor blocks anything.
UNKNOWN_TRACKING_STATUS = TrackingStatus.in_transit

# Trace items carry a state name in ``status``; used only when an item has no ``statusCode``.
STATE_NAMES: Mapping[str, str] = {
    "在途": "0", "揽收": "1", "疑难": "2", "签收": "3", "退签": "4", "派件": "5", "退回": "6",
    "转投": "7", "清关": "8", "拒签": "14", "到达派件城市": "1001", "干线": "1002", "转递": "1003",
    "已下单": "101", "待揽收": "102", "已揽收": "103", "本人签收": "301", "派件异常后签收": "302",
    "代签": "303", "投柜或站签收": "304", "投柜或驿站": "501", "拒收": "203", "派件异常": "204",
    "无法联系": "206", "破损": "209", "已销单": "401",
}

_warned_codes: set[str] = set()


def tracking_status(code: str) -> TrackingStatus:
    """The normalised status of a Kuaidi100 state or sub-state code; unknown codes warn once each."""
    status = TRACKING_CODES.get(code)
    if status is None:
        if code not in _warned_codes:
            _warned_codes.add(code)
            log.warning("kuaidi100 tracking code %r is unknown; treated as %s", code, UNKNOWN_TRACKING_STATUS)
        return UNKNOWN_TRACKING_STATUS
    return status


@dataclass(frozen=True)
class CallbackRule:
    outcome: InterceptOutcome
    reason: InterceptReason | None = None


#: Intercept result callback ``status`` (*sandbox choice*: Kuaidi100 documents no payload).
CALLBACK_STATUSES: Mapping[str, CallbackRule] = {
    "SUCCESS": CallbackRule(InterceptOutcome.succeeded),
    "FAIL": CallbackRule(InterceptOutcome.failed, InterceptReason.carrier_error),
}
#: Reason of a ``FAIL`` callback by its ``code`` (*sandbox choice*); others stay carrier_error.
CALLBACK_FAIL_CODES: Mapping[str, InterceptReason] = {
    "31001": InterceptReason.missed,  # delivered before the stop took effect
    "31003": InterceptReason.out_for_delivery,  # 派件中 when the stop took effect: delivered anyway
}
#: An unknown status says nothing about the outcome, so the intercept stays pending.
UNKNOWN_CALLBACK = CallbackRule(InterceptOutcome.pending)


def callback_rule(status: str, code: str, message: str) -> CallbackRule:
    """The outcome of an intercept result callback; unknown statuses are logged and stay pending."""
    rule = CALLBACK_STATUSES.get(status)
    if rule is None:
        log.warning("kuaidi100 intercept callback has an unknown status %r (code %r): %s",
                    status, code, message)
        return UNKNOWN_CALLBACK
    if rule.outcome is InterceptOutcome.failed:
        reason = CALLBACK_FAIL_CODES.get(code, InterceptReason.carrier_error)
        return CallbackRule(InterceptOutcome.failed, reason)
    return rule
