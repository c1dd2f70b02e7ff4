"""Yunda's codes and what each means to lanjie, one table per kind.

The step actions are documented (carrier-protocols.md §8, mapped per §19); Yunda publishes no
result codes, so the answer-code table is a *sandbox choice*, shared with the sandbox twin
(``lanjie.sandbox.yunda``) and kept here so the real values drop in without touching anything else.

An unknown code never crashes: it maps to a safe default and is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from lanjie.domain.states import InterceptReason, TrackingStatus

log = logging.getLogger(__name__)

#: Step ``action`` of a trace [mirror, §8] onto lanjie's statuses (§19).
ACTION_STATUS: Mapping[str, TrackingStatus] = {
    "ACCEPT": TrackingStatus.created,  # 收件扫描: the order is known, §19 reads it as "info received"
    "GOT": TrackingStatus.picked_up,  # 揽件扫描
    "ARRIVAL": TrackingStatus.in_transit,  # 入中转; Yunda has no distinct "destination outlet" action
    "DEPARTURE": TrackingStatus.in_transit,  # 出中转
    "TRANSFER": TrackingStatus.in_transit,  # 转单: handed on under another number
    "OTHER": TrackingStatus.in_transit,  # 其他
    "SENT": TrackingStatus.out_for_delivery,  # 派件中
    # 第三方代收 (parcel station): in, and taken out by a courier; either way not yet signed for.
    "INBOUND": TrackingStatus.out_for_delivery,
    "OUTBOUND": TrackingStatus.out_for_delivery,
    "SIGNED": TrackingStatus.delivered,  # 已签收 (see RETURN_SIGNED below for a returned parcel)
    "SIGNFAIL": TrackingStatus.delivery_failed,  # 签收失败
    "REJECTION": TrackingStatus.delivery_failed,  # 拒收
    "ISSUE": TrackingStatus.exception,  # 问题件
    "RETURN": TrackingStatus.returning,  # 退回件: where an intercept shows
    # Overseas and customs steps: still on the way.
    "OVERSEA_IN": TrackingStatus.in_transit,
    "OVERSEA_OUT": TrackingStatus.in_transit,
    "OVERSEA_ARRIVAL": TrackingStatus.in_transit,
    "OVERSEA_DEPARTURE": TrackingStatus.in_transit,
    "CLEARANCE_START": TrackingStatus.in_transit,
    "CLEARANCE_FINISH": TrackingStatus.in_transit,
    "CLEARANCE_FAIL": TrackingStatus.exception,
}

#: *Sandbox choice*: Yunda has no documented "returned, signed for by the sender" action. A
#: ``SIGNED`` step that follows a ``RETURN`` step in the same history is that signature (退签).
RETURN_ACTION = "RETURN"
RETURN_SIGNED = frozenset({"SIGNED"})

#: An unknown action is most likely a new transit scan; in_transit neither settles nor blocks anything.
UNKNOWN_TRACKING_STATUS = TrackingStatus.in_transit

_warned_actions: set[str] = set()


def tracking_status(action: str, *, after_return: bool = False) -> TrackingStatus:
    """The normalised status of a step ``action``; ``after_return``: a RETURN step came before it."""
    if after_return and action in RETURN_SIGNED:
        return TrackingStatus.returned
    status = ACTION_STATUS.get(action)
    if status is None:
        if action not in _warned_actions:
            _warned_actions.add(action)
            log.warning("yunda step action %r is unknown; treated as %s", action, UNKNOWN_TRACKING_STATUS)
        return UNKNOWN_TRACKING_STATUS
    return status


class Verdict(StrEnum):
    """What an answer of the query or subscribe API means for the caller."""

    ok = "ok"
    rejected = "rejected"  # CarrierRejected with the rule's reason
    unavailable = "unavailable"  # CarrierUnavailable: try again later
    no_result = "no_result"  # query only: Yunda has no trace for the waybill


@dataclass(frozen=True)
class AnswerRule:
    verdict: Verdict
    reason: InterceptReason | None = None


_BAD = AnswerRule(Verdict.rejected, InterceptReason.carrier_error)
_AUTH = AnswerRule(Verdict.rejected, InterceptReason.auth_failed)

#: Answer ``code`` of every Yunda API (*sandbox choice*: Yunda publishes none). Answers are
#: ``{"result": bool, "code": str, "message": str, "data": …}``.
ANSWER_CODES: Mapping[str, AnswerRule] = {
    "0000": AnswerRule(Verdict.ok),
    "1001": _BAD,  # missing or empty field (the message names it)
    "1002": _AUTH,  # sign does not match
    "1003": _AUTH,  # unknown or expired app-key
    "1004": AnswerRule(Verdict.rejected, InterceptReason.rate_limited),  # too many requests
    "1005": _BAD,  # body is not a JSON object
    "2001": AnswerRule(Verdict.no_result),  # 暂无轨迹: nothing scanned yet, or not a Yunda waybill
    "2002": AnswerRule(Verdict.ok),  # already subscribed: subscribing is idempotent
    "9999": AnswerRule(Verdict.unavailable),  # system busy
}


def answer_rule(api: str, code: str, message: str) -> AnswerRule:
    """The rule for an answer code; unknown codes are logged and rejected as carrier_error."""
    rule = ANSWER_CODES.get(code)
    if rule is None:
        log.warning("yunda %s answered an unknown code %r: %s", api, code, message)
        return _BAD
    return rule
