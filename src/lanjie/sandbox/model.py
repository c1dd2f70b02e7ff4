"""The sandbox world's records: parcels, scans, intercept tasks and the logs tests read."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from lanjie.domain.states import InterceptType, TrackingStatus
from lanjie.sandbox.route import STATUS_OF, Node, Party, PlannedScan, Route, ScanCode


class Channel(StrEnum):
    """A kind of protocol traffic; faults can be set per channel."""

    intercept = "intercept"  # interception requests we receive
    subscribe = "subscribe"  # tracking subscriptions we receive
    query = "query"  # real-time tracking queries we receive
    push = "push"  # tracking pushes we send
    callback = "callback"  # intercept result callbacks we send


class TaskState(StrEnum):
    pending = "pending"  # accepted, outcome not known yet
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"  # withdrawn by the requester before it took effect


class TaskOutcome(StrEnum):
    succeeded = "succeeded"  # the parcel turned back (or was redirected)
    missed = "missed"  # delivered before the flag took effect
    failed = "failed"  # any other failure (forced, or the parcel met an exception)


class ForcedOutcome(StrEnum):
    """An outcome the control API imposes on a waybill's intercept."""

    succeed = "succeed"
    fail = "fail"
    missed = "missed"


class Refusal(StrEnum):
    """Why the world refuses an intercept request on the spot."""

    unknown_waybill = "unknown_waybill"
    not_supported = "not_supported"  # wrong carrier, or the parcel is lost or damaged
    not_picked_up = "not_picked_up"
    out_for_delivery = "out_for_delivery"
    already_delivered = "already_delivered"
    already_intercepted = "already_intercepted"  # only once per waybill


@dataclass(frozen=True)
class Scan:
    """A scan that happened."""

    at: datetime
    code: ScanCode
    node_index: int
    node: Node
    context: str

    @property
    def status(self) -> TrackingStatus:
        return STATUS_OF[self.code]

    @staticmethod
    def from_plan(planned: PlannedScan, at: datetime) -> Scan:
        return Scan(at, planned.code, planned.node_index, planned.node, planned.context)


@dataclass
class InterceptTask:
    """An accepted intercept: the flag that will stop the parcel at its next scan once effective."""

    task_id: str
    waybill_no: str
    carrier_code: str
    intercept_type: InterceptType
    accepted_at: datetime
    effective_at: datetime
    # What the protocol twin needs to report the outcome (callback URL, salt, the codes as sent).
    report_to: Mapping[str, str] = field(default_factory=dict)
    requested_by: str = ""
    reason: str = ""
    order_id: str = ""
    new_recipient: Party | None = None
    state: TaskState = TaskState.pending
    outcome: TaskOutcome | None = None
    message: str = ""
    resolved_at: datetime | None = None
    forced: ForcedOutcome | None = None
    fee_minor: int | None = None  # what the carrier charges if it completes (the twin decides)
    out_for_delivery_ok: bool = False  # the carrier still stops a parcel out for delivery (UPS)
    cause: Refusal | None = None  # why a failed task failed, when the carrier says (out for delivery)


@dataclass
class Parcel:
    """A parcel in the sandbox network and everything still planned for it."""

    carrier_code: str  # canonical, e.g. "zto"
    waybill_no: str
    sender: Party
    recipient: Party
    route: Route
    scans: list[Scan] = field(default_factory=list)  # oldest first
    plan: deque[PlannedScan] = field(default_factory=deque)
    version: int = 0  # bumped to cancel the scheduled next scan
    next_scan_at: datetime | None = None
    intercept: InterceptTask | None = None
    past_intercepts: list[InterceptTask] = field(default_factory=list)  # cancelled ones
    # Remembered for the next intercept when forced before one exists: (outcome, message).
    forced_outcome: tuple[ForcedOutcome, str] | None = None

    @property
    def last_scan(self) -> Scan:
        return self.scans[-1]

    @property
    def status(self) -> TrackingStatus:
        return self.last_scan.status

    @property
    def finished(self) -> bool:
        """True once signed for by the recipient or, after a return, by the sender."""
        return self.status in (TrackingStatus.delivered, TrackingStatus.returned)

    @property
    def halted(self) -> bool:
        """True once lost or damaged: no further scans come."""
        return self.status in (TrackingStatus.lost, TrackingStatus.damaged)


@dataclass(frozen=True)
class RequestLogEntry:
    """One protocol request the sandbox received, and what it answered."""

    seq: int
    at: datetime  # sim time received
    channel: Channel
    path: str
    method: str  # e.g. "interceptOrder", "poll", "query"
    waybill_no: str
    http_status: int
    code: str  # the protocol's own result code, or the HTTP status of an injected fault
    message: str
    account: str  # the key or customer that sent it
    task_id: str = ""  # the intercept task the answer named, if any
    held_seconds: float = 0.0  # real seconds the answer was held back (latency, timeout faults)


class PushResult(StrEnum):
    acked = "acked"
    failed = "failed"  # no valid acknowledgement: retried while retries remain
    superseded = "superseded"  # a retry skipped because a newer snapshot was acknowledged


@dataclass(frozen=True)
class PushAttempt:
    """One attempt to deliver a push or callback."""

    seq: int
    at: datetime  # sim time sent
    channel: Channel
    url: str
    attempt: int  # 0 for the first delivery, then 1…retries
    result: PushResult
    http_status: int | None
    detail: str  # the response body (cut short) or the error
    summary: str  # what was sent, e.g. "polling, 5 scans" or "SUCCESS 200"
    fault: str = ""  # "duplicate" or "out_of_order" for extra deliveries a fault added
