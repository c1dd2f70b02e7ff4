"""STO's codes and what each means to lanjie, one table per kind.

STO publishes neither its gateway's error codes nor its trace API names, so every answer code here
is a *sandbox choice* shared with the sandbox twin (carrier-protocols.md §7 says so); the scan types
are the Chinese names STO shows on its traces, with ``退回签收`` and ``转寄`` as sandbox choices. When
the real values are known they are dropped in here and nothing else changes.

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

    rejected = "rejected"  # raise CarrierRejected with the rule's reason
    unavailable = "unavailable"  # raise CarrierUnavailable: nothing happened, retry later
    no_result = "no_result"  # query only: STO has no trace for this waybill


@dataclass(frozen=True)
class AnswerRule:
    verdict: Verdict
    reason: InterceptReason | None = None


_AUTH = AnswerRule(Verdict.rejected, InterceptReason.auth_failed)
_BAD = AnswerRule(Verdict.rejected, InterceptReason.carrier_error)

#: ``errorCode`` of an answer with ``success: false`` (all sandbox choices).
ANSWER_CODES: Mapping[str, AnswerRule] = {
    "S01": _AUTH,  # data_digest 校验失败: bad signature
    "S02": _BAD,  # 参数缺失或不合法: a field is missing or malformed
    "S03": _AUTH,  # from_appkey / from_code 无效或无权限
    "S04": _BAD,  # api_name 不存在, or to_appkey / to_code do not belong to it
    "S05": AnswerRule(Verdict.rejected, InterceptReason.rate_limited),  # 调用过于频繁
    "S06": AnswerRule(Verdict.unavailable),  # 系统繁忙
    "B01": AnswerRule(Verdict.no_result),  # 运单号不存在: nothing scanned yet, or not an STO waybill
}


def answer_rule(api: str, code: str, message: str) -> AnswerRule:
    """The rule for an ``errorCode``; unknown codes are logged and rejected as carrier_error."""
    rule = ANSWER_CODES.get(code)
    if rule is None:
        log.warning("sto %s answered an unknown errorCode %r: %s", api, code, message)
        return _BAD
    return rule


#: ``scanType`` of a trace item onto lanjie's statuses (§19).
SCAN_TYPES: Mapping[str, TrackingStatus] = {
    "收件": TrackingStatus.picked_up,
    "发件": TrackingStatus.in_transit,
    "到件": TrackingStatus.in_transit,  # at a hub or at the destination outlet alike
    "派件": TrackingStatus.out_for_delivery,
    "签收": TrackingStatus.delivered,
    "退回": TrackingStatus.returning,  # where a successful intercept shows
    "退回签收": TrackingStatus.returned,  # sandbox choice: signed for by the sender's side
    "转寄": TrackingStatus.in_transit,  # sandbox choice: redirected to a new address
    "问题件": TrackingStatus.exception,  # damaged, lost, held
}

#: An unknown scan type is most likely a new transit scan; in_transit neither settles nor blocks anything.
UNKNOWN_TRACKING_STATUS = TrackingStatus.in_transit


def tracking_status(scan_type: str) -> TrackingStatus:
    """The normalised status of an STO ``scanType``; an unknown one is logged and read as in_transit."""
    status = SCAN_TYPES.get(scan_type)
    if status is None:
        log.warning("sto scan type %r is unknown; treated as %s", scan_type, UNKNOWN_TRACKING_STATUS)
        return UNKNOWN_TRACKING_STATUS
    return status
