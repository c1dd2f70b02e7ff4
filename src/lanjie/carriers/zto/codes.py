"""ZTO's codes and what each means to lanjie, one table per kind.

The answer codes follow ZTO's published error tables (carrier-protocols.md §5; YangLiCon/docs
``document/tepbridge/logistics/zto.md``); the push actions are the documented ones plus the
*sandbox choices* ``RETURN``, ``RETURN_SIGNED`` and ``PROBLEM`` (ZTO's names for a return and a
problem parcel are not public), so a real value replaces them here and nowhere else.

An unknown code never crashes: it maps to a safe default and is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from lanjie.domain.states import InterceptReason, TrackingStatus

log = logging.getLogger(__name__)


class Verdict(StrEnum):
    """What an answer means for the caller."""

    ok = "ok"
    rejected = "rejected"  # raise CarrierRejected with the rule's reason
    unavailable = "unavailable"  # raise CarrierUnavailable: nothing happened, retry later


@dataclass(frozen=True)
class AnswerRule:
    verdict: Verdict
    reason: InterceptReason | None = None


_OK = AnswerRule(Verdict.ok)
_DOWN = AnswerRule(Verdict.unavailable)
_AUTH = AnswerRule(Verdict.rejected, InterceptReason.auth_failed)
_BAD = AnswerRule(Verdict.rejected, InterceptReason.carrier_error)
_SLOW_DOWN = AnswerRule(Verdict.rejected, InterceptReason.rate_limited)

#: ``statusCode`` of every japi answer [3rd-party copy of ZTO's tables].
ANSWER_CODES: Mapping[str, AnswerRule] = {
    "SYS000": _OK,
    "0000": _OK,
    "S200": _DOWN,  # 请求超时: the backend timed out
    "S202": _DOWN,  # 发生错误: the backend threw
    "S203": _DOWN,  # 服务暂不可用
    "S206": _SLOW_DOWN,  # api qos limit: calls per minute/hour
    "S221": _SLOW_DOWN,  # api qps flow limit
    "S207": _BAD,  # API不存在
    "S208": _BAD,  # XX不能为空: a required parameter is missing
    "S210": _AUTH,  # 无权限访问: no service binding for this appKey
    "S211": _AUTH,  # 签名错误
    "S212": _AUTH,  # IP黑白名单限制
    "S214": _BAD,  # 时间戳非法
    "E404": _AUTH,  # 鉴权失败,未绑定电子面单账号
    "E409": _AUTH,  # 鉴权失败,收寄人电话号码校验不一致: the phone tail matches neither party
    "E413": _AUTH,  # 鉴权失败,请输入收寄人任一方电话号码后4位: no phone tail sent
    # 不符合中通运单号规则校验: not a ZTO waybill number. Listed among the auth codes, but it says
    # nothing about the credentials, so it is not auth_failed.
    "E416": _BAD,
    "E418": _AUTH,  # 鉴权失败,不存在对应的网点授权
}


def answer_rule(api: str, code: str, message: str) -> AnswerRule:
    """The rule for an answer's ``statusCode``; unknown codes are logged and rejected as carrier_error."""
    rule = ANSWER_CODES.get(code)
    if rule is None:
        log.warning("zto %s answered an unknown statusCode %r: %s", api, code, message)
        return _BAD
    return rule


#: ``action`` of a trace (push ``data`` and query items) onto lanjie's statuses (§19).
TRACKING_ACTIONS: Mapping[str, TrackingStatus] = {
    "GOT": TrackingStatus.picked_up,  # 揽收
    "DEPARTURE": TrackingStatus.in_transit,  # 发件
    # 到件: at a hub or at the destination outlet alike, so it cannot say at_destination.
    "ARRIVAL": TrackingStatus.in_transit,
    "DISPATCH": TrackingStatus.out_for_delivery,  # 派件
    # Taken in by a parcel station or locker: waiting for the recipient, not yet signed for.
    "INBOUND": TrackingStatus.out_for_delivery,
    "HANDOVERSCAN_SIGNED": TrackingStatus.delivered,  # signed for by a station
    "DEPARTURE_SIGNED": TrackingStatus.delivered,  # picked up from a station with the pickup code
    "SIGNED": TrackingStatus.delivered,
    "RETURN": TrackingStatus.returning,  # sandbox choice: 退回, where a successful intercept shows
    "RETURN_SIGNED": TrackingStatus.returned,  # sandbox choice: 退回签收, signed for by the sender's side
    "PROBLEM": TrackingStatus.exception,  # sandbox choice: 问题件 (damaged, lost, held)
}

#: An unknown action is most likely a new transit scan; in_transit neither settles nor blocks anything.
UNKNOWN_TRACKING_STATUS = TrackingStatus.in_transit


def tracking_status(action: str) -> TrackingStatus:
    """The normalised status of a ZTO ``action``; an unknown one is logged and read as in_transit."""
    status = TRACKING_ACTIONS.get(action)
    if status is None:
        log.warning("zto tracking action %r is unknown; treated as %s", action, UNKNOWN_TRACKING_STATUS)
        return UNKNOWN_TRACKING_STATUS
    return status
