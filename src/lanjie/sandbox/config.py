"""Settings of one sandbox world (re-exported by ``lanjie.sandbox.world``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

HOUR = 3600.0
DAY = 24 * HOUR


def _default_accounts() -> dict[str, dict[str, str]]:
    return {"SANDBOXKEY": {"customer": "SANDBOXCUSTOMER", "secret": "SANDBOXSECRET"}}


@dataclass(frozen=True)
class HopSeconds:
    """Simulated seconds between consecutive scans of a parcel, per kind of hop."""

    pickup: float = 2 * HOUR  # label printed → courier collects (揽收)
    depart: float = 1 * HOUR  # arrival (or pickup) at a site → departure scan from it
    to_hub: float = 3 * HOUR  # outlet ↔ its city's transfer hub
    trunk: float = 10 * HOUR  # hub ↔ hub (干线)
    to_outlet: float = 4 * HOUR  # destination hub → destination outlet
    dispatch: float = 2 * HOUR  # arrival at the outlet → out for delivery (派件)
    deliver: float = 3 * HOUR  # out for delivery → signed for (签收)


@dataclass(frozen=True)
class PopulationRates:
    """The seeded random buyers of the demo: how likely each behaviour is for an after-sale without a plan."""

    cancel: float = 0.05  # withdraws the request after cancel_seconds
    change_type: float = 0.05  # turns a refund-only request into return-and-refund after change_type_seconds
    escalate_after_rejection: float = 0.6  # asks the platform to arbitrate once rejected
    escalate_if_unanswered: float = 0.1  # asks the platform to arbitrate when the merchant stays silent
    cancel_seconds: float = 6 * HOUR
    change_type_seconds: float = 3 * HOUR
    escalate_seconds: float = 12 * HOUR


@dataclass(frozen=True)
class PlatformSettings:
    """How the sales-platform simulator (Douyin, Taobao) behaves. Sim seconds unless marked real."""

    douyin_deadline_seconds: float = 48 * HOUR  # a new after-sale waits this long for the merchant
    taobao_deadline_seconds: float = 48 * HOUR
    receipt_deadline_seconds: float = 48 * HOUR  # a returned parcel waits this long for the merchant's receipt
    intercept_window_seconds: float = 5 * 24 * HOUR  # Taobao: the seller's commitment to intercept
    intervene_seconds: float = 24 * HOUR  # escalation → customer service intervenes
    verdict_seconds: float = 72 * HOUR  # intervention → verdict
    verdict: str = "evidence"  # "buyer", "merchant", or "evidence" (the merchant wins if it sent evidence)
    push_timeout_seconds: float = 5.0  # real: how long a message waits for its acknowledgement
    push_retry_seconds: float = 5 * 60.0  # a message not acknowledged is sent again after this
    push_retries: int = 5
    population: PopulationRates | None = None  # None: buyers do only what their plan says


def _default_filing_days() -> dict[str, float]:
    # UPS Capital: 90 days (§21.2); Chinese carriers publish none: lanjie's default of 30.
    return {"kuaidi100": 30.0, "ups": 90.0}


@dataclass(frozen=True)
class ClaimSettings:
    """How the claims adjudicator (``lanjie.sandbox.claims``) decides. Sim seconds; §22.6 for the defaults."""

    review_seconds: float = 5 * DAY  # filed → in_review: the acknowledgement (~5 business days)
    decision_seconds: float = 10 * DAY  # in_review (or documents supplied) → decided (5–15 business days)
    payout_seconds: float = 5 * DAY  # approved → paid
    documents_timeout_seconds: float = 14 * DAY  # waiting_on_documents with nothing supplied → rejected
    approve_rate: float = 0.6  # of claims that pass validation; the rest are partial, then rejected
    partial_rate: float = 0.25
    documents_rate: float = 0.1  # chance the reviewer asks for more even when the evidence is complete
    partial_share: tuple[float, float] = (0.3, 0.9)  # share of the full amount a partial approval grants
    filing_days: Mapping[str, float] = field(default_factory=_default_filing_days)  # per protocol
    default_freight_minor: int = 1000  # a parcel's freight (fen or cents) unless set by the control API


@dataclass(frozen=True)
class SandboxConfig:
    """How a sandbox world behaves. Sim times are simulated seconds; real times are wall-clock."""

    time_factor: float = 60.0  # sim seconds per real second; 0 = only the control API moves the clock
    propagation_seconds: float = 600.0  # sim: accepted intercept → flag effective at the outlets
    ack_latency_ms: int = 200  # real: added before a synchronous intercept answer
    tick_seconds: float = 0.05  # real: between scheduler ticks
    kuaidi100_accounts: Mapping[str, Mapping[str, str]] = field(default_factory=_default_accounts)
    hop_seconds: HopSeconds = field(default_factory=HopSeconds)
    push_retry_seconds: float = 35 * 60  # sim: a failed tracking push is retried after this (§2.3)
    callback_retry_seconds: float = 30 * 60  # sim: a failed result callback (intercept, work order) (§2.5, §22.4)
    push_retries: int = 3  # retries of either, after the first attempt
    push_timeout_seconds: float = 20.0  # real: how long a push waits for its acknowledgement
    first_push_seconds: float = 0.0  # sim: subscription → first push of a parcel that already has scans
    abort_no_record_seconds: float = 3 * 24 * HOUR  # sim: subscription without any scan → "abort"
    abort_no_change_seconds: float = 60 * 24 * HOUR  # sim: no new scan for this long → "abort"
    seed: int = 0  # seeds every random choice (faults, task ids, routes)
    start_at: datetime | None = None  # sim time at start; None = the real time now
    platforms: PlatformSettings = field(default_factory=PlatformSettings)  # the sales-platform simulator
    claims: ClaimSettings = field(default_factory=ClaimSettings)  # the claims adjudicator
