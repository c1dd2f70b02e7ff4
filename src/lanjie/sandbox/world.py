"""A simulated carrier world: parcels scanned along routes on a clock, intercepts racing deliveries.

The world is carrier-neutral physics; protocol twins (``kuaidi100_twin``) listen to it and turn its
changes into their own pushes and callbacks. Everything runs on one asyncio loop: the scheduler
runs due actions in sim-time order, and pushes go out as tracked background tasks.

Intercept rule: an accepted intercept's flag takes effect ``propagation_seconds`` later. The parcel's
first scan at or after that moment catches it (if it is not delivered yet) and the parcel turns back
(or, for an address change, heads to the new address). A delivery before that moment is a miss.
A parcel already out for delivery when the flag takes effect is not stopped by a carrier that refuses
out-for-delivery intercepts (Chinese carriers, reference §0.2, §22.3): the intercept fails then and
the delivery goes on. A forced outcome (control API) overrides the race.
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import httpx

from lanjie.domain.states import InterceptType, TrackingStatus
from lanjie.sandbox.claims import ClaimsAdjudicator
from lanjie.sandbox.clock import SimClock
from lanjie.sandbox.config import HopSeconds, SandboxConfig
from lanjie.sandbox.faults import Faults
from lanjie.sandbox.kuaidi100_twin import Kuaidi100Twin
from lanjie.sandbox.model import (
    Channel,
    ForcedOutcome,
    InterceptTask,
    Parcel,
    PushAttempt,
    PushResult,
    Refusal,
    RequestLogEntry,
    Scan,
    TaskOutcome,
    TaskState,
)
from lanjie.sandbox.push import Delivery, PushSender
from lanjie.sandbox.route import (
    CARRIER_NAMES,
    CITIES,
    City,
    Contact,
    Party,
    Route,
    ScanCode,
    canonical_carrier,
    exception_scan,
    forward_plan,
    redirect_plan,
    return_plan,
    stage_index,
)
from lanjie.sandbox.scheduler import Action, Scheduler
from lanjie.sandbox.twins import Twin, load_twins

__all__ = ["CancelResult", "HopSeconds", "SandboxConfig", "SandboxWorld", "WorldError"]

#: Stages a parcel can be created at through the control API.
CREATABLE_STAGES = (
    TrackingStatus.created, TrackingStatus.picked_up, TrackingStatus.in_transit,
    TrackingStatus.at_destination, TrackingStatus.out_for_delivery, TrackingStatus.delivered,
)
_ACCEPTING = (TrackingStatus.picked_up, TrackingStatus.in_transit, TrackingStatus.at_destination)


class CancelResult(StrEnum):
    cancelled = "cancelled"
    no_intercept = "no_intercept"
    already_resolved = "already_resolved"  # succeeded or failed: too late to cancel


class WorldError(Exception):
    """A control request the world cannot carry out; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class WorldListener(Protocol):
    """A protocol twin's hooks into the world."""

    def on_tracking(self, parcel: Parcel) -> None: ...

    def on_intercept_resolved(self, parcel: Parcel, task: InterceptTask) -> None: ...


@dataclass(frozen=True)
class InterceptDecision:
    """The world's answer to an intercept request: a new task, or a refusal (with the old task if any)."""

    task: InterceptTask | None
    refusal: Refusal | None = None


class SandboxWorld:
    """Parcels, intercepts, the clock that moves them, and the pushes they cause."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        start_at = self.config.start_at or datetime.now(UTC).replace(microsecond=0)
        self.clock = SimClock(start_at, self.config.time_factor)
        self.rng = random.Random(self.config.seed)
        self.faults = Faults(self.rng)
        self.parcels: dict[str, Parcel] = {}
        self.request_log: list[RequestLogEntry] = []
        self.push_log: dict[str, list[PushAttempt]] = {}
        self.scheduler = Scheduler(self.clock, self.config.tick_seconds)
        self.pushes = PushSender(self)
        self._log_seq = itertools.count(1)
        self._task_ids: set[str] = set()
        self._http: httpx.AsyncClient | None = None
        self._listeners: list[WorldListener] = []
        self.claims = ClaimsAdjudicator(self)  # the carriers' claims department (Kuaidi100 work orders, UPS)
        self.kuaidi100 = Kuaidi100Twin(self)
        self._listeners.append(self.kuaidi100)
        # The native carrier twins (SF, UPS, ZTO, …), each serving its own protocol under /<name>.
        self.twins: dict[str, Twin] = {name: cls(self) for name, cls in load_twins().items()}
        self._listeners.extend(self.twins.values())
        # The sales-platform simulator (Douyin, Taobao); imported here because it imports this module.
        from lanjie.sandbox.platforms import Platforms

        self.platforms = Platforms(self)
        self._listeners.append(self.platforms)

    # ---- lifecycle and time -----------------------------------------------------------------

    async def start(self) -> None:
        """Start the ticker on the running loop."""
        self.scheduler.start()

    async def stop(self) -> None:
        """Stop the ticker, abandon pushes in flight, close the HTTP client."""
        await self.scheduler.stop()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The client pushes go out with (made on first use; the environment's proxies are ignored)."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.config.push_timeout_seconds, trust_env=False)
        return self._http

    def retry_delta(self, channel: Channel) -> timedelta:
        """How long a failed delivery waits: Kuaidi100's result callbacks 30 min, its tracking pushes 35 (§22.4)."""
        callback = channel is Channel.callback
        return timedelta(seconds=self.config.callback_retry_seconds if callback else self.config.push_retry_seconds)

    def schedule(self, at: datetime, action: Action) -> None:
        """Run ``action(at)`` once sim time reaches ``at``."""
        self.scheduler.schedule(at, action)

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a push in the background (``advance`` and ``settle`` wait for it)."""
        self.scheduler.spawn(coroutine)

    async def advance(self, seconds: float) -> int:
        """Move sim time forward, running everything due at its own time; returns how many actions ran."""
        if seconds < 0:
            raise WorldError(422, "seconds: the clock only moves forward")
        return await self.scheduler.advance(seconds)

    async def settle(self) -> int:
        """Run what is due now and wait until the pushes in flight were attempted."""
        return await self.scheduler.settle()

    # ---- parcels ---------------------------------------------------------------------------

    def parcel(self, waybill_no: str) -> Parcel:
        parcel = self.parcels.get(waybill_no)
        if parcel is None:
            raise WorldError(404, f"waybill_no: no parcel {waybill_no!r} in the sandbox")
        return parcel

    def create_parcel(self, *, carrier_code: str, waybill_no: str, stage: TrackingStatus,
                      origin: City | None = None, destination: City | None = None,
                      sender: Contact | None = None, recipient: Contact | None = None) -> Parcel:
        """A parcel whose history up to ``stage`` lies in the past and whose newest scan is now.

        Cities not given are chosen at random (seeded), different from each other.
        """
        if waybill_no in self.parcels:
            raise WorldError(409, f"waybill_no: parcel {waybill_no!r} already exists")
        carrier = canonical_carrier(carrier_code)
        if carrier is None:
            raise WorldError(422, f"carrier: {carrier_code!r} is not a carrier the sandbox simulates")
        if stage not in CREATABLE_STAGES:
            raise WorldError(422, f"stage: a parcel cannot be created at {stage!r}")
        others = [city for city in CITIES if city not in (origin, destination)]
        if origin is None:
            origin = self.rng.choice(others)
            others.remove(origin)
        if destination is None:
            destination = self.rng.choice(others)
        sender = sender or Contact("示例商家", "13800000000", f"{origin.name}{origin.districts[0]}区仓库")
        recipient = recipient or Contact("张三", "13700000000", f"{destination.name}{destination.districts[0]}区")
        route = Route.between(origin, destination)
        plan = forward_plan(route, self.config.hop_seconds)
        newest = stage_index(plan, stage)
        times = [self.clock.now()]
        for planned in reversed(plan[1:newest + 1]):
            times.insert(0, times[0] - timedelta(seconds=planned.delay_seconds))
        parcel = Parcel(carrier, waybill_no, Party(sender.name, sender.phone, sender.address, origin),
                        Party(recipient.name, recipient.phone, recipient.address, destination), route,
                        scans=[Scan.from_plan(p, at) for p, at in zip(plan, times, strict=False)],
                        plan=deque(plan[newest + 1:]))
        self.parcels[waybill_no] = parcel
        self._schedule_next_scan(parcel)
        self._notify_tracking(parcel)
        return parcel

    def _schedule_next_scan(self, parcel: Parcel) -> None:
        if not parcel.plan:
            parcel.next_scan_at = None
            return
        at = parcel.last_scan.at + timedelta(seconds=parcel.plan[0].delay_seconds)
        parcel.next_scan_at = at
        version = parcel.version
        self.schedule(at, lambda due: self._scan_due(parcel, version, due))

    def _scan_due(self, parcel: Parcel, version: int, at: datetime) -> None:
        if parcel.version != version or not parcel.plan:
            return  # the plan changed since this scan was scheduled
        task = parcel.intercept
        if (task is not None and task.state is TaskState.pending and task.forced is None
                and at >= task.effective_at and not self._fails_out_for_delivery(parcel, task, at)):
            self._turn_back(parcel, task, at, parcel.plan[0].node_index, "拦截成功")
            return
        planned = parcel.plan.popleft()
        self._record(parcel, Scan.from_plan(planned, at))
        if planned.code is ScanCode.delivered and task is not None and task.state is TaskState.pending:
            self._resolve(parcel, task, TaskOutcome.missed, "拦截失败：快件已签收，拦截未能及时生效", at)
        self._schedule_next_scan(parcel)

    def _flag_effective(self, parcel: Parcel, task: InterceptTask, at: datetime) -> None:
        """The flag reaches the outlets: a parcel out for delivery by then is past stopping."""
        if parcel.intercept is task and task.state is TaskState.pending and task.forced is None:
            self._fails_out_for_delivery(parcel, task, at)

    def _fails_out_for_delivery(self, parcel: Parcel, task: InterceptTask, at: datetime) -> bool:
        """Fail ``task`` if its parcel is out for delivery and the carrier does not stop such parcels."""
        if parcel.status is not TrackingStatus.out_for_delivery or task.out_for_delivery_ok:
            return False
        task.cause = Refusal.out_for_delivery
        self._resolve(parcel, task, TaskOutcome.failed, "拦截失败：快件派件中，拦截未能生效", at)
        return True

    def _record(self, parcel: Parcel, scan: Scan) -> None:
        parcel.scans.append(scan)
        self._notify_tracking(parcel)

    def _turn_back(self, parcel: Parcel, task: InterceptTask, at: datetime, at_index: int, message: str) -> None:
        parcel.version += 1
        hops = self.config.hop_seconds
        if task.intercept_type is InterceptType.redirect:
            plan = redirect_plan(parcel.route, hops, at_index, task.new_recipient or parcel.recipient)
        else:
            plan = return_plan(parcel.route, hops, at_index, task.intercept_type, parcel.sender)
        parcel.plan = deque(plan[1:])
        self._record(parcel, Scan.from_plan(plan[0], at))
        self._resolve(parcel, task, TaskOutcome.succeeded, message, at)
        self._schedule_next_scan(parcel)

    def _resolve(self, parcel: Parcel, task: InterceptTask, outcome: TaskOutcome, message: str,
                 at: datetime) -> None:
        task.state = TaskState.succeeded if outcome is TaskOutcome.succeeded else TaskState.failed
        task.outcome, task.message, task.resolved_at = outcome, message, at
        for listener in self._listeners:
            listener.on_intercept_resolved(parcel, task)

    def _notify_tracking(self, parcel: Parcel) -> None:
        for listener in self._listeners:
            listener.on_tracking(parcel)

    # ---- intercepts ------------------------------------------------------------------------

    def request_intercept(self, *, carrier_code: str, waybill_no: str, intercept_type: InterceptType,
                          report_to: dict[str, str], requested_by: str = "", reason: str = "",
                          order_id: str = "", new_recipient: Party | None = None,
                          task_id_prefix: str = "T", out_for_delivery_ok: bool = False,
                          fee_minor: int | None = None) -> InterceptDecision:
        """Accept an intercept (a new task whose flag takes effect later) or refuse it on the spot.

        ``out_for_delivery_ok``: the carrier still intercepts a parcel out for delivery, before the
        delivery attempt (UPS); Chinese carriers refuse it. ``fee_minor`` is recorded on the task.
        """
        parcel = self.parcels.get(waybill_no)
        if parcel is None:
            return InterceptDecision(None, Refusal.unknown_waybill)
        if canonical_carrier(carrier_code) != parcel.carrier_code:
            return InterceptDecision(None, Refusal.not_supported)
        if parcel.intercept is not None:
            return InterceptDecision(parcel.intercept, Refusal.already_intercepted)
        status = parcel.status
        if status not in _ACCEPTING and not (out_for_delivery_ok and status is TrackingStatus.out_for_delivery):
            refusal = {
                TrackingStatus.created: Refusal.not_picked_up,
                TrackingStatus.out_for_delivery: Refusal.out_for_delivery,
                TrackingStatus.delivered: Refusal.already_delivered,
            }.get(status, Refusal.not_supported)
            return InterceptDecision(None, refusal)
        now = self.clock.now()
        task = InterceptTask(
            task_id=self._new_task_id(task_id_prefix), waybill_no=waybill_no, carrier_code=parcel.carrier_code,
            intercept_type=intercept_type, accepted_at=now,
            effective_at=now + timedelta(seconds=self.config.propagation_seconds),
            report_to=report_to, requested_by=requested_by, reason=reason, order_id=order_id,
            new_recipient=new_recipient, fee_minor=fee_minor, out_for_delivery_ok=out_for_delivery_ok,
        )
        parcel.intercept = task
        self.schedule(task.effective_at, lambda at: self._flag_effective(parcel, task, at))
        if parcel.forced_outcome is not None:
            # Remembered from before the request: it decides as soon as the request has been answered.
            outcome, message = parcel.forced_outcome
            parcel.forced_outcome = None
            task.forced = outcome
            self.schedule(now, lambda at: self._apply_forced(parcel, task, outcome, message, at))
        return InterceptDecision(task)

    def cancel_intercept(self, waybill_no: str, task_id: str | None = None) -> CancelResult:
        """Withdraw a pending intercept (UPS ``/cancel``, SF ``cancel: true``); a new one may follow."""
        parcel = self.parcels.get(waybill_no)
        task = parcel.intercept if parcel is not None else None
        if parcel is None or task is None or (task_id and task.task_id != task_id):
            return CancelResult.no_intercept
        if task.state is not TaskState.pending:
            return CancelResult.already_resolved
        task.state, task.resolved_at = TaskState.cancelled, self.clock.now()
        parcel.past_intercepts.append(task)
        parcel.intercept = None
        return CancelResult.cancelled

    def _new_task_id(self, prefix: str) -> str:
        while True:
            task_id = f"{prefix}{self.rng.randrange(10**12):012d}"
            if task_id not in self._task_ids:
                self._task_ids.add(task_id)
                return task_id

    def force_outcome(self, waybill_no: str, outcome: ForcedOutcome, message: str = "") -> Parcel:
        """Impose an intercept outcome now, or remember it for the waybill's next intercept."""
        parcel = self.parcel(waybill_no)
        task = parcel.intercept
        if task is None:
            parcel.forced_outcome = (outcome, message)
        elif task.state is not TaskState.pending:
            raise WorldError(409, f"waybill_no: the intercept of {waybill_no!r} has already {task.state}")
        else:
            task.forced = outcome
            self._apply_forced(parcel, task, outcome, message, self.clock.now())
        return parcel

    def _apply_forced(self, parcel: Parcel, task: InterceptTask, outcome: ForcedOutcome, message: str,
                      at: datetime) -> None:
        if task.state is not TaskState.pending:
            return
        if outcome is ForcedOutcome.succeed:
            self._turn_back(parcel, task, at, parcel.last_scan.node_index, message or "拦截成功")
        elif outcome is ForcedOutcome.fail:
            self._resolve(parcel, task, TaskOutcome.failed, message or "拦截失败：网点未能拦截", at)
        else:
            # A miss means the parcel was delivered first: deliver it now.
            delivered = next((p for p in parcel.plan if p.code is ScanCode.delivered), None)
            parcel.version += 1
            parcel.plan.clear()
            parcel.next_scan_at = None
            if delivered is not None:
                self._record(parcel, Scan.from_plan(delivered, at))
            self._resolve(parcel, task, TaskOutcome.missed, message or "拦截失败：快件已签收，拦截未能及时生效", at)

    def inject(self, waybill_no: str, code: ScanCode) -> Parcel:
        """Damage or lose a parcel: an exception scan now, and no further scans."""
        parcel = self.parcel(waybill_no)
        if parcel.finished or parcel.halted:
            raise WorldError(409, f"waybill_no: parcel {waybill_no!r} is already {parcel.status}")
        now = self.clock.now()
        last = parcel.last_scan
        parcel.version += 1
        parcel.plan.clear()
        parcel.next_scan_at = None
        planned = exception_scan(code, last.node_index, last.node, CARRIER_NAMES[parcel.carrier_code])
        self._record(parcel, Scan.from_plan(planned, now))
        task = parcel.intercept
        if task is not None and task.state is TaskState.pending:
            self._resolve(parcel, task, TaskOutcome.failed, "拦截失败：快件异常", now)
        return parcel

    # ---- logs ------------------------------------------------------------------------------

    def log_request(self, *, channel: Channel, path: str, method: str, waybill_no: str, http_status: int,
                    code: str, message: str, account: str, at: datetime, task_id: str = "",
                    held_seconds: float = 0.0) -> RequestLogEntry:
        entry = RequestLogEntry(next(self._log_seq), at, channel, path, method, waybill_no, http_status, code,
                                message, account, task_id, held_seconds)
        self.request_log.append(entry)
        return entry

    def record_push(self, delivery: Delivery, attempt: int, result: PushResult, http_status: int | None,
                    detail: str, fault: str = "") -> None:
        log = self.push_log.setdefault(delivery.waybill_no, [])
        log.append(PushAttempt(next(self._log_seq), self.clock.now(), delivery.channel, delivery.url, attempt,
                               result, http_status, detail, delivery.summary, fault))
