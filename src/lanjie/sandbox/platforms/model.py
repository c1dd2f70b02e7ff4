"""What the sales-platform simulator records about its after-sales, whichever platform plays them.

Douyin and Taobao each keep their own after-sale class (their states and codes differ); what they
share is here: the kind of request the buyer made, the buyer's plan, the log of everything that
happened to a case (merchant operations, buyer actions, platform decisions) and the messages pushed
about it with every delivery attempt.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class AfterSaleKind(StrEnum):
    """What the buyer asked for (lanjie's words; each platform has its own codes)."""

    refund_only_shipped = "refund_only_shipped"  # 已发货仅退款: the interception case
    refund_only_unshipped = "refund_only_unshipped"  # 未发货仅退款
    return_refund = "return_refund"  # 退货退款


class Actor(StrEnum):
    merchant = "merchant"  # an API call from lanjie
    buyer = "buyer"  # the simulated buyer (scheduled, or forced through the control API)
    platform = "platform"  # the platform itself: deadlines, customer service, verdicts


class Resolution(StrEnum):
    """How a case ended."""

    merchant_refund = "merchant_refund"  # the merchant agreed (Douyin operate 201/111, Taobao rp.refunds.agree)
    timeout_refund = "timeout_refund"  # the deadline passed: the platform agreed and paid
    assistant_refund = "assistant_refund"  # Douyin's after-sales assistant refunded a return put into the warehouse
    verdict_refund = "verdict_refund"  # customer service sided with the buyer
    verdict_merchant = "verdict_merchant"  # customer service sided with the merchant: no refund
    buyer_cancelled = "buyer_cancelled"


class Verdict(StrEnum):
    """The configurable rule customer service decides arbitration by."""

    buyer = "buyer"
    merchant = "merchant"
    evidence = "evidence"  # the merchant wins if it submitted evidence, else the buyer


class BuyerAction(StrEnum):
    cancel = "cancel"
    change_type = "change_type"
    escalate = "escalate"
    ship_return = "ship_return"  # a return-and-refund buyer posts the goods back


@dataclass(frozen=True)
class BuyerPlan:
    """What a simulated buyer will do, in sim seconds (None: never)."""

    cancel_after_seconds: float | None = None
    change_type_after_seconds: float | None = None
    change_type_to: AfterSaleKind = AfterSaleKind.return_refund
    escalate_after_rejection_seconds: float | None = None
    escalate_if_unanswered_seconds: float | None = None

    def view(self) -> dict[str, Any]:
        return {
            "cancel_after_seconds": self.cancel_after_seconds,
            "change_type_after_seconds": self.change_type_after_seconds,
            "change_type_to": self.change_type_to,
            "escalate_after_rejection_seconds": self.escalate_after_rejection_seconds,
            "escalate_if_unanswered_seconds": self.escalate_if_unanswered_seconds,
        }


@dataclass(frozen=True)
class Happening:
    """One thing done to a case: a merchant operation (accepted or refused), a buyer action, a platform decision."""

    at: datetime
    actor: Actor
    action: str  # e.g. "operate 201", "rp.refunds.agree", "cancel", "timeout_auto_agree"
    outcome: str  # "ok", or the platform's error code, e.g. "isv.business-failed:20309541"
    detail: str = ""

    def view(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "actor": self.actor, "action": self.action, "outcome": self.outcome,
                "detail": self.detail}


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST of a message to the shop's push URL."""

    at: datetime  # sim time sent
    attempt: int  # 0 first, then 1…retries
    acked: bool
    http_status: int | None
    detail: str  # the answer (cut short) or the error

    def view(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "attempt": self.attempt, "acked": self.acked,
                "http_status": self.http_status, "detail": self.detail}


@dataclass
class PlatformMessage:
    """A message the platform pushed (or would have pushed) about a case."""

    msg_id: str
    topic: str  # a Douyin tag ("200") or a TMC topic ("taobao_refund_RefundCreated")
    data: dict[str, Any]  # the message's content before it is JSON-encoded into the push
    made_at: datetime
    url: str | None  # None: the shop had no push URL, so nothing was sent
    attempts: list[DeliveryAttempt] = field(default_factory=list)

    @property
    def acked(self) -> bool:
        return any(attempt.acked for attempt in self.attempts)

    def view(self) -> dict[str, Any]:
        return {"msg_id": self.msg_id, "topic": self.topic, "made_at": self.made_at.isoformat(), "url": self.url,
                "acked": self.acked, "data": self.data, "attempts": [a.view() for a in self.attempts]}


_last_run_ms = 0


def run_numbers(prefix: str, digits: int) -> itertools.count[int]:
    """Numbers of ``digits`` digits for one run of a simulator: ``prefix``, the run's start, then a serial.

    A restarted demo faces the same lanjie database as the run before; if its after-sale ids and msg_ids
    started from the same constant again, lanjie's inbox would take every new push for a duplicate and
    drop it, and a repeated after-sale id would land on an old case. So each run starts from its own
    start time in Unix milliseconds (13 digits until the year 2286), later than any earlier run in this
    process too; the serial has the remaining digits (``digits - len(prefix) - 13``) to count within it.
    """
    global _last_run_ms
    _last_run_ms = max(time.time_ns() // 1_000_000, _last_run_ms + 1)
    serial_digits = digits - len(prefix) - 13
    if serial_digits < 3:
        raise ValueError(f"{digits} digits leave no room for a serial after {prefix!r} and the start time")
    return itertools.count(int(f"{prefix}{_last_run_ms}") * 10**serial_digits + 1)


def unix_seconds(at: datetime) -> int:
    return int(at.timestamp())


def unix_millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def yuan(fen: int) -> str:
    """Fen as a yuan string with two decimals ("12.30"), as Taobao writes money."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


@dataclass(frozen=True)
class PlatformRequest:
    """One API call the platform received, and what it answered."""

    at: datetime  # sim time
    method: str  # e.g. "afterSale.operate", "taobao.rp.refunds.agree"
    account: str  # the app_key
    case_ids: tuple[int, ...]  # the after-sales it named, when it could be read
    code: str  # "10000" / "0" for success, else the error (sub-)code answered

    def view(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "method": self.method, "account": self.account,
                "case_ids": list(self.case_ids), "code": self.code}
