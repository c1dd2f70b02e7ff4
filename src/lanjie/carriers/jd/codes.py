"""JD Logistics' codes and what each means to lanjie, one table per kind of answer.

Only the intercept method and its two ``stateCode`` values 100 (取消成功, cancel success) and 108
(已取消, already cancelled) are in the reference (carrier-protocols.md §10); the trace method and its
fields come from public client code [3rd-party]. Everything marked *sandbox choice* is lanjie's
assumption, shared with the sandbox twin and kept here so the real values drop in without touching
anything else.

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

#: The intercept call (拦截; cancels an order not picked up yet) [3rd-party, §10].
INTERCEPT_METHOD = "jingdong.ldop.receive.order.intercept"
#: The trace query (物流跟踪) [3rd-party: public JD SDKs call it with customerCode + waybillCode].
TRACE_METHOD = "jingdong.ldop.receive.trace.get"
#: *Sandbox choice*: the intercept result is polled (§10) but the query's name is not public.
RESULT_QUERY_METHOD = "jingdong.ldop.receive.order.intercept.query"
#: *Sandbox choice*: ``cancelOperatorCodeType`` is a required field whose values are not public.
CANCEL_OPERATOR_CODE_TYPE = "1"
#: *Sandbox choice*: who ``cancelOperator`` names when the request does not say.
CANCEL_OPERATOR = "lanjie"

#: JD's intercept sends the parcel back to the sender; no other type is documented (no field names one).
INTERCEPT_TYPES: frozenset[InterceptType] = frozenset({InterceptType.return_to_sender})


class Verdict(StrEnum):
    """What a JOS gateway error (``error_response``) means for the caller."""

    rejected = "rejected"  # CarrierRejected with the rule's reason: the request itself was refused
    unavailable = "unavailable"  # CarrierUnavailable: nothing happened, retry later
    timeout = "timeout"  # CarrierTimeout: the gateway lost the backend's answer, the outcome is unknown


@dataclass(frozen=True)
class ErrorRule:
    verdict: Verdict
    reason: InterceptReason = InterceptReason.carrier_error


_BAD_REQUEST = ErrorRule(Verdict.rejected, InterceptReason.carrier_error)
_AUTH = ErrorRule(Verdict.rejected, InterceptReason.auth_failed)

#: ``error_response.code`` of the JOS router. *Sandbox choice*: JOS has a system error table, but it is
#: not in the reference, so these numbers are lanjie's (the sandbox twin answers with the same ones).
GATEWAY_ERRORS: Mapping[str, ErrorRule] = {
    "9": _BAD_REQUEST,  # 缺少必选参数: a system or business parameter is missing
    "10": _BAD_REQUEST,  # 参数值无效: v, format, timestamp or the business JSON is malformed
    "14": _AUTH,  # 签名无效: bad sign
    "15": _AUTH,  # app_key 无效
    "19": _AUTH,  # access_token 无效或已过期: the shop must authorise lanjie again
    "20": _AUTH,  # 无权访问该商家: vendorCode/customerCode is not the token's merchant
    "22": _BAD_REQUEST,  # 方法不存在: unknown method
    "61": ErrorRule(Verdict.rejected, InterceptReason.rate_limited),  # 调用频率超限
    "66": ErrorRule(Verdict.timeout),  # 平台连接后端服务超时: the backend may have acted
    "67": ErrorRule(Verdict.unavailable),  # 平台连接后端服务不可用
}
UNKNOWN_ERROR = _BAD_REQUEST


def error_rule(code: str, message: str) -> ErrorRule:
    """The rule for a gateway error code; unknown codes are logged and refused as carrier_error."""
    rule = GATEWAY_ERRORS.get(code)
    if rule is None:
        log.warning("jd JOS answered an unknown error code %r: %s", code, message)
        return UNKNOWN_ERROR
    return rule


@dataclass(frozen=True)
class AckRule:
    """How one ``stateCode`` of the intercept answer becomes an ``InterceptAck``."""

    accepted: bool
    reason: InterceptReason | None = None
    duplicate: bool = False
    note: str = ""  # put before JD's own message, where JD's word alone would mislead


#: ``resultInfo.stateCode`` of the intercept answer. 100 and 108 are documented (§10); the rest is a
#: *sandbox choice*.
#:
#: JD cancels an order that was not picked up instead of intercepting it. For lanjie that is a refusal
#: (``not_picked_up``), not an accepted intercept: nothing left the warehouse, so there is no turned-back
#: parcel to wait for, no return leg to watch and nothing the carrier's answer could settle; the case
#: goes to a person (refund without intercept), exactly as for every carrier that refuses an unshipped
#: parcel. The message says the order was cancelled, because that side effect did happen.
INTERCEPT_STATE_CODES: Mapping[int, AckRule] = {
    100: AckRule(accepted=False, reason=InterceptReason.not_picked_up,  # 取消成功
                 note="JD cancelled the shipping order instead: it was not picked up yet"),
    108: AckRule(accepted=False, reason=InterceptReason.not_picked_up,  # 已取消
                 note="JD had already cancelled this order: it was never picked up"),
    101: AckRule(accepted=True),  # 拦截中: registered, the outcome is polled
    102: AckRule(accepted=False, reason=InterceptReason.already_delivered),  # 已妥投
    103: AckRule(accepted=False, reason=InterceptReason.out_for_delivery),  # 配送中
    104: AckRule(accepted=False, reason=InterceptReason.not_supported),  # 运单不存在或不支持拦截
    # Already intercepted for this merchant: our own earlier attempt whose answer was lost looks the
    # same, so it counts as accepted (the result query then tells how it ended).
    107: AckRule(accepted=True, reason=InterceptReason.already_intercepted, duplicate=True),
    109: AckRule(accepted=False, reason=InterceptReason.already_intercepted),  # intercepted by someone else
}
UNKNOWN_ACK = AckRule(accepted=False, reason=InterceptReason.carrier_error)


def intercept_rule(code: int | None, message: str) -> AckRule:
    """The rule for an intercept answer's stateCode; unknown codes are logged and refused as carrier_error."""
    rule = INTERCEPT_STATE_CODES.get(code) if code is not None else None
    if rule is None:
        log.warning("jd %s answered an unknown stateCode %r: %s", INTERCEPT_METHOD, code, message)
        return UNKNOWN_ACK
    return rule


@dataclass(frozen=True)
class ResultRule:
    outcome: InterceptOutcome
    reason: InterceptReason | None = None


#: ``returnType.stateCode`` of the result query. 100 and 108 are documented (§10); the rest is a
#: *sandbox choice*. 108 here is an order JD cancelled because it was never picked up: for lanjie a
#: failed intercept (``not_picked_up``), never a parcel that turned back.
RESULT_STATE_CODES: Mapping[int, ResultRule] = {
    100: ResultRule(InterceptOutcome.succeeded),  # 拦截成功: the parcel turned back
    108: ResultRule(InterceptOutcome.failed, InterceptReason.not_picked_up),  # 已取消
    101: ResultRule(InterceptOutcome.pending),  # 拦截中
    104: ResultRule(InterceptOutcome.not_found),  # 无拦截记录
    105: ResultRule(InterceptOutcome.failed, InterceptReason.missed),  # delivered before the stop took effect
    106: ResultRule(InterceptOutcome.failed, InterceptReason.carrier_error),  # 拦截失败, any other cause
}
#: An unknown code says nothing about the outcome, nor that JD holds the intercept (only 101 says so).
UNKNOWN_RESULT = ResultRule(InterceptOutcome.indeterminate)


def result_rule(code: int | None, message: str) -> ResultRule:
    """The outcome for a result query's stateCode; unknown codes are logged and read ``indeterminate``."""
    rule = RESULT_STATE_CODES.get(code) if code is not None else None
    if rule is None:
        log.warning("jd %s answered an unknown stateCode %r: %s", RESULT_QUERY_METHOD, code, message)
        return UNKNOWN_RESULT
    return rule


#: ``querytrace_result.code`` of a trace that was found (*sandbox choice*; any other code is refused).
TRACE_OK = 100


def trace_found(code: int | None, message: str) -> bool:
    """True for the trace query's success code; any other code is logged (the caller refuses it)."""
    if code == TRACE_OK:
        return True
    log.warning("jd %s answered an unknown querytrace code %r: %s", TRACE_METHOD, code, message)
    return False

#: Trace ``opeTitle`` (JD has no numeric scan code) onto lanjie's statuses (§19). *Sandbox choice*: the
#: field names come from public SDKs [3rd-party], the title vocabulary is lanjie's.
TRACKING_TITLES: Mapping[str, TrackingStatus] = {
    "接单": TrackingStatus.created,  # order received, waiting for the courier
    "揽收完成": TrackingStatus.picked_up,
    "发货": TrackingStatus.in_transit,  # left a site
    "分拣中心验货": TrackingStatus.in_transit,  # arrived at a sorting centre
    "改址转寄": TrackingStatus.in_transit,
    "站点验货": TrackingStatus.at_destination,  # arrived at the delivery station
    "配送员收货": TrackingStatus.out_for_delivery,  # the courier took it out for delivery
    "妥投": TrackingStatus.delivered,
    "拒收": TrackingStatus.delivery_failed,
    "配送异常": TrackingStatus.exception,
    "拦截成功": TrackingStatus.returning,  # where a successful intercept shows
    "逆向发货": TrackingStatus.returning,
    "逆向验货": TrackingStatus.returning,
    "退货签收": TrackingStatus.returned,  # signed for by the sender's side
    "外包装破损": TrackingStatus.damaged,
    "丢失": TrackingStatus.lost,
}
#: An unknown title is most likely a new transit scan; in_transit neither settles nor blocks anything.
UNKNOWN_TRACKING_STATUS = TrackingStatus.in_transit

_warned_titles: set[str] = set()


def tracking_status(title: str) -> TrackingStatus:
    """The normalised status of a trace title; unknown titles warn once each."""
    status = TRACKING_TITLES.get(title)
    if status is None:
        if title not in _warned_titles:
            _warned_titles.add(title)
            log.warning("jd trace title %r is unknown; treated as %s", title, UNKNOWN_TRACKING_STATUS)
        return UNKNOWN_TRACKING_STATUS
    return status
