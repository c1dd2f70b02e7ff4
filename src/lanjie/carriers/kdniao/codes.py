"""Kdniao's codes and what each means to lanjie, one table per kind.

State and StateEx/Action codes are documented by third parties (carrier-protocols.md §3.4, mapped per
§19); the result codes 100–105 are listed there without detail and 401–405 without meaning, so what
each does is a *sandbox choice*, shared with the sandbox twin (``lanjie.sandbox.kdniao``).

An unknown code never crashes: it maps to a safe default and is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from lanjie.domain.states import InterceptReason, TrackingStatus

log = logging.getLogger(__name__)

#: lanjie courier code → Kdniao ``ShipperCode``. A courier not here is refused before any call.
SHIPPER_CODES: Mapping[str, str] = {
    "zto": "ZTO",
    "sto": "STO",
    "yto": "YTO",
    "yunda": "YD",
    "shunfeng": "SF",
    "sf": "SF",
    "jtexpress": "JTSD",
    "jd": "JD",
    "ems": "EMS",
    "debangwuliu": "DBL",
    "ups": "UPS",
}
#: ``ShipperCode`` → lanjie courier code, for pushes (SF reads back as "shunfeng").
COURIER_OF: Mapping[str, str] = {shipper: courier for courier, shipper in SHIPPER_CODES.items()
                                 if courier != "sf"}
#: Couriers for which Kdniao wants ``CustomerName`` = the last four digits of a phone (§3.1 sources).
PHONE_TAIL_SHIPPERS = frozenset({"SF"})


def courier_of(shipper_code: str) -> str:
    """The lanjie courier code of a ShipperCode; an unknown one is logged and kept lower-cased."""
    courier = COURIER_OF.get(shipper_code)
    if courier is None:
        log.warning("kdniao ShipperCode %r is unknown to lanjie; kept as %r", shipper_code, shipper_code.lower())
        return shipper_code.lower()
    return courier


#: ``State`` (0–6) and ``StateEx`` / trace ``Action`` codes [3rd-party, §3.4] onto lanjie's statuses (§19).
#: The one-digit codes appear both as State and as Action with the same meaning.
TRACKING_CODES: Mapping[str, TrackingStatus] = {
    "0": TrackingStatus.created,  # 无轨迹
    "10": TrackingStatus.created,  # 待揽收
    "1": TrackingStatus.picked_up,  # 已揽收
    "2": TrackingStatus.in_transit,  # 在途中
    "5": TrackingStatus.in_transit,  # 转寄 forwarded
    "6": TrackingStatus.in_transit,  # 清关 customs
    "601": TrackingStatus.in_transit,
    "602": TrackingStatus.in_transit,
    "603": TrackingStatus.in_transit,
    "604": TrackingStatus.in_transit,
    "201": TrackingStatus.at_destination,  # 到达派件城市
    "202": TrackingStatus.out_for_delivery,  # 派件中
    "211": TrackingStatus.out_for_delivery,  # 已放入快递柜或驿站: waiting, not yet signed
    "419": TrackingStatus.out_for_delivery,  # 重新派送
    "3": TrackingStatus.delivered,  # 签收
    "301": TrackingStatus.delivered,  # 正常签收
    "302": TrackingStatus.delivered,  # 派件异常后签收
    "304": TrackingStatus.delivered,  # 代签
    "311": TrackingStatus.delivered,  # 快递柜或驿站签收
    "404": TrackingStatus.delivery_failed,  # 拒收（退件）
    "405": TrackingStatus.delivery_failed,  # 派件异常
    "416": TrackingStatus.delivery_failed,  # 无法联系收件人
    "420": TrackingStatus.delivery_failed,  # 地址不详
    "421": TrackingStatus.delivery_failed,  # 电话错误
    "4": TrackingStatus.exception,  # 问题件
    "402": TrackingStatus.exception,  # 超时未签收
    "403": TrackingStatus.exception,  # 超时未更新
    "412": TrackingStatus.exception,  # 快递柜或驿站超时未取
    "415": TrackingStatus.exception,  # 已撤单
    "417": TrackingStatus.exception,  # 延迟
    "422": TrackingStatus.exception,  # 错分
    "423": TrackingStatus.exception,  # 超区
    "401": TrackingStatus.expired,  # 发货无信息: tracking ends without an end (§19 "expired / no info")
    "413": TrackingStatus.returning,  # 拦截: where a successful intercept shows
    "407": TrackingStatus.returning,  # 退件未签收: on the way back
    "406": TrackingStatus.returned,  # 退件签收
    "414": TrackingStatus.damaged,  # 破损
}

#: An unknown code is most likely a new transit scan; in_transit neither settles nor blocks anything.
UNKNOWN_TRACKING_STATUS = TrackingStatus.in_transit

_warned_codes: set[str] = set()


def tracking_status(code: str) -> TrackingStatus:
    """The normalised status of a State / StateEx / Action code; unknown codes warn once each.

    A trace without any code (the basic query gives older traces none) is in transit, silently.
    """
    if not code:
        return UNKNOWN_TRACKING_STATUS
    status = TRACKING_CODES.get(code)
    if status is None:
        if code not in _warned_codes:
            _warned_codes.add(code)
            log.warning("kdniao tracking code %r is unknown; treated as %s", code, UNKNOWN_TRACKING_STATUS)
        return UNKNOWN_TRACKING_STATUS
    return status


class Verdict(StrEnum):
    """What an answer of the query or subscribe API means for the caller."""

    ok = "ok"
    rejected = "rejected"  # CarrierRejected with the rule's reason
    unavailable = "unavailable"  # CarrierUnavailable: try again later
    no_result = "no_result"  # query only: Kdniao has no trace for the waybill


@dataclass(frozen=True)
class AnswerRule:
    verdict: Verdict
    reason: InterceptReason | None = None


_BAD = AnswerRule(Verdict.rejected, InterceptReason.carrier_error)
_AUTH = AnswerRule(Verdict.rejected, InterceptReason.auth_failed)

#: Answer ``ResultCode``. The codes are listed in §3.4 [3rd-party]; the field name and what each
#: means in detail are *sandbox choices*.
RESULT_CODES: Mapping[str, AnswerRule] = {
    "100": AnswerRule(Verdict.ok),  # 成功
    "101": _BAD,  # 缺少必要参数 missing parameter
    "102": _AUTH,  # 校验失败: DataSign does not match
    "103": _BAD,  # 格式错误: RequestData not JSON, wrong DataType or RequestType
    "104": _AUTH,  # 用户错误: unknown or expired EBusinessID
    "105": AnswerRule(Verdict.unavailable),  # 其他错误: system busy, retry later
    "401": AnswerRule(Verdict.rejected, InterceptReason.rate_limited),  # 请求过于频繁
    "402": AnswerRule(Verdict.rejected, InterceptReason.not_supported),  # ShipperCode not served
    "403": AnswerRule(Verdict.ok),  # 重复订阅: already subscribed, subscribing is idempotent
    "404": AnswerRule(Verdict.no_result),  # 暂无轨迹: nothing scanned yet, or a wrong number
    "405": _BAD,  # CustomerName (phone tail) required by this courier
}


def answer_rule(api: str, code: str, reason: str) -> AnswerRule:
    """The rule for a ResultCode; unknown codes are logged and rejected as carrier_error."""
    rule = RESULT_CODES.get(code)
    if rule is None:
        log.warning("kdniao %s answered an unknown ResultCode %r: %s", api, code, reason)
        return _BAD
    return rule
