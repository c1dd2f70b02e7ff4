"""J&T China's codes and what each means to lanjie, one table per kind.

The trace nodes 1–14 and their names are documented (carrier-protocols.md §6; maxbetas/jtexpress
``README.md``); which of nodes 2–9 read as at the destination or out for delivery is a *sandbox
choice*. The answer codes are *sandbox choices* too, modelled on codes seen in public third-party J&T
clients (``1`` success, ``145003030`` headers signature verification failed …); no J&T page lists them.
When the real values are known they are dropped in here and nothing else changes.

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


_AUTH = AnswerRule(Verdict.rejected, InterceptReason.auth_failed)
_BAD = AnswerRule(Verdict.rejected, InterceptReason.carrier_error)

#: ``code`` of an answer (sandbox choices, see the module docstring).
ANSWER_CODES: Mapping[str, AnswerRule] = {
    "1": AnswerRule(Verdict.ok),
    "0": _BAD,  # generic failure
    "145003010": _AUTH,  # API account does not exist
    "145003012": _AUTH,  # API account has no permission for this interface
    "145003030": _AUTH,  # headers signature verification failed
    "145003050": _BAD,  # illegal parameters
    "145003051": _BAD,  # apiAccount header is empty
    "145003052": _BAD,  # digest header is empty
    "145003053": _BAD,  # timestamp header is empty
    "145003060": AnswerRule(Verdict.rejected, InterceptReason.rate_limited),  # too many requests (no public code)
    "145005000": AnswerRule(Verdict.unavailable),  # system error
}


def answer_rule(api: str, code: str, message: str) -> AnswerRule:
    """The rule for an answer's ``code``; unknown codes are logged and rejected as carrier_error."""
    rule = ANSWER_CODES.get(code)
    if rule is None:
        log.warning("jtexpress %s answered an unknown code %r: %s", api, code, message)
        return _BAD
    return rule


#: ``traceNode`` onto lanjie's statuses (§19: 1 pickup, 2–9 on the way, 10 signed, 11 problem, 14 return).
TRACE_NODES: Mapping[str, TrackingStatus] = {
    "1": TrackingStatus.picked_up,  # 快件揽收
    "2": TrackingStatus.in_transit,  # 入仓扫描 (retired)
    "3": TrackingStatus.in_transit,  # 发件扫描
    "4": TrackingStatus.in_transit,  # 到件扫描: at a hub or the destination outlet alike
    "5": TrackingStatus.out_for_delivery,  # 出仓扫描: sandbox choice, the courier takes it out to deliver
    "6": TrackingStatus.at_destination,  # 入库扫描: sandbox choice, taken into the destination outlet's stock
    "7": TrackingStatus.out_for_delivery,  # 代理点收入扫描: at a parcel station, waiting for the recipient
    "8": TrackingStatus.out_for_delivery,  # 快件取出扫描: sandbox choice, taken out of a station or locker
    "9": TrackingStatus.out_for_delivery,  # 出库扫描: sandbox choice, out of the outlet's stock to deliver
    "10": TrackingStatus.delivered,  # 快件签收
    "11": TrackingStatus.exception,  # 问题件扫描 (damaged, lost, refused, held)
    "12": TrackingStatus.in_transit,  # 安检扫描
    "13": TrackingStatus.in_transit,  # 其他扫描
    "14": TrackingStatus.returning,  # 退件扫描: where a successful intercept shows
}

#: ``scanType`` names of the nodes, for trace items that carry only the name (the query's ``details``).
SCAN_TYPE_NODES: Mapping[str, str] = {
    "快件揽收": "1", "入仓扫描": "2", "发件扫描": "3", "到件扫描": "4", "出仓扫描": "5", "入库扫描": "6",
    "代理点收入扫描": "7", "快件取出扫描": "8", "出库扫描": "9", "快件签收": "10", "问题件扫描": "11",
    "安检扫描": "12", "其他扫描": "13", "退件扫描": "14",
}

#: An unknown node is most likely a new transit scan; in_transit neither settles nor blocks anything.
UNKNOWN_TRACKING_STATUS = TrackingStatus.in_transit


def tracking_status(node: str) -> TrackingStatus:
    """The normalised status of a ``traceNode``; an unknown one is logged and read as in_transit."""
    status = TRACE_NODES.get(node)
    if status is None:
        log.warning("jtexpress trace node %r is unknown; treated as %s", node, UNKNOWN_TRACKING_STATUS)
        return UNKNOWN_TRACKING_STATUS
    return status
