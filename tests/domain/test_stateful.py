"""Random command sequences over one case, its intercepts and its refunds keep the domain's invariants.

Every command goes through the case's public methods. A command the domain refuses (IllegalTransition,
RuleViolation) must leave everything exactly as it was: the domain never half-applies a change.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from lanjie.domain.errors import DomainError
from lanjie.domain.model import AfterSale, Shipment
from lanjie.domain.rules import interceptability
from lanjie.domain.states import (
    CASE_TRANSITIONS,
    INTERCEPT_TRANSITIONS,
    REFUND_TRANSITIONS,
    CaseStatus,
    InterceptReason,
    InterceptStatus,
    InterceptType,
    RefundStatus,
    Resolution,
    SettlementPolicy,
    TrackingStatus,
    is_terminal,
)

from .factories import NEW_ADDRESS, at, make_shipment, open_case

INTERCEPTABLE = [s for s in TrackingStatus if interceptability(s) is None]
MANUAL_RESOLUTIONS = [Resolution.intercepted_refund, Resolution.refund_on_refusal,
                      Resolution.refund_without_intercept, Resolution.timeout_refund]
#: Which intercept or refund a command is about: 0 names one the case does not have, 1 the newest.
picks = st.integers(min_value=0, max_value=4)
ACCEPTED = {InterceptStatus.submitted, InterceptStatus.cancel_requested, InterceptStatus.succeeded}
has_intercepts = precondition(lambda self: bool(self.case.intercepts))
has_refunds = precondition(lambda self: bool(self.case.refunds))


def sometimes(n: int) -> st.SearchStrategy[bool]:
    """True one draw in ``n``: closing and manual commands would otherwise end most runs early."""
    return st.integers(min_value=1, max_value=n).map(lambda k: k == 1)


class CaseMachine(RuleBasedStateMachine):
    """One case with 1–3 parcels driven by carrier answers, warehouse scans, refunds and people."""

    case: AfterSale
    parcels: list[Shipment]

    @initialize(statuses=st.lists(st.sampled_from(INTERCEPTABLE), min_size=1, max_size=3),
                policy=st.sampled_from(SettlementPolicy), intercept_at_once=st.booleans())
    def open_the_case(self, statuses: list[TrackingStatus], policy: SettlementPolicy,
                      intercept_at_once: bool) -> None:
        self.parcels = [make_shipment(n, status=s, tracking_at=at(-60)) for n, s in enumerate(statuses, start=1)]
        self.outsider = make_shipment(9)
        self.case = open_case(*self.parcels, policy=policy)
        self.minute = 0
        self.intercepts_made = 0
        self.seen_case = self.case.status
        self.seen_intercepts: dict[str, InterceptStatus] = {}
        self.seen_refunds: dict[str, RefundStatus] = {}
        self.events_checked = 0
        self.status_by_events = self.case.status
        if intercept_at_once:
            # Half the runs start where a merchant's click leaves them: every parcel asked to stop.
            for n, parcel in enumerate(self.parcels, start=1):
                self.case.request_intercept(intercept_id=f"icpt_0{n}", shipment=parcel,
                                            type=InterceptType.return_to_sender, now=at(0))

    # ----------------------------------------------------------------- helpers
    def _now(self) -> Any:
        self.minute += 1
        return at(self.minute)

    def _intercept_id(self, pick: int) -> str:
        # Active intercepts first, newest first: commands on finished ones are mostly refused.
        ordered = sorted(reversed(self.case.intercepts), key=lambda i: not i.active)
        if pick == 0 or not ordered:
            return "icpt_missing"
        return ordered[(pick - 1) % len(ordered)].id

    def _refund_id(self, pick: int) -> str:
        if pick == 0 or not self.case.refunds:
            return "refund_missing"
        return self.case.refunds[-1 - (pick - 1) % len(self.case.refunds)].id

    def _world(self) -> tuple[Any, ...]:
        return (self.case, list(self.case.events), self.parcels, [list(p.events) for p in self.parcels])

    def _attempt(self, command: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run a domain command; when it is refused, nothing may have changed."""
        before = copy.deepcopy(self._world())
        try:
            command(*args, **kwargs)
        except DomainError as err:
            assert self._world() == before, f"{command.__name__} raised {err!r} after changing state"
            event(f"refused: {command.__name__}: {getattr(err, 'rule', type(err).__name__)}")
        else:
            event(f"done: {command.__name__}")

    # ----------------------------------------------------------------- intercepts
    @rule(pick=st.integers(min_value=0, max_value=5), type_=st.sampled_from(InterceptType), address=st.booleans())
    def request_intercept(self, pick: int, type_: InterceptType, address: bool) -> None:
        # Parcels still without an active intercept first, so that every parcel gets one now and then.
        ordered = sorted(self.parcels, key=lambda p: self.case.active_intercept_for(p.id) is not None)
        shipment = self.outsider if pick == 5 else ordered[pick % len(ordered)]
        self.intercepts_made += 1
        self._attempt(self.case.request_intercept, intercept_id=f"icpt_{self.intercepts_made}", shipment=shipment,
                      type=type_, now=self._now(), address=NEW_ADDRESS if address else None)

    @rule(pick=picks)
    @has_intercepts
    def attempt_started(self, pick: int) -> None:
        self._attempt(self.case.intercept_attempt_started, self._intercept_id(pick), self._now())

    @rule(pick=picks)
    @has_intercepts
    def submit_not_sent(self, pick: int) -> None:
        self._attempt(self.case.intercept_submit_not_sent, self._intercept_id(pick))

    @rule(pick=picks, duplicate=st.booleans())
    @has_intercepts
    def acknowledged(self, pick: int, duplicate: bool) -> None:
        self._attempt(self.case.intercept_acknowledged, self._intercept_id(pick), task_id=f"T{pick}",
                      now=self._now(), duplicate=duplicate)

    @rule(pick=picks, reason=st.sampled_from(InterceptReason))
    @has_intercepts
    def refused(self, pick: int, reason: InterceptReason) -> None:
        self._attempt(self.case.intercept_refused, self._intercept_id(pick), reason=reason, message="no",
                      now=self._now())

    @rule(pick=picks)
    @has_intercepts
    def unknown(self, pick: int) -> None:
        self._attempt(self.case.intercept_unknown, self._intercept_id(pick), self._now(), "timed out")

    @rule(pick=picks)
    @has_intercepts
    def resubmittable(self, pick: int) -> None:
        self._attempt(self.case.intercept_resubmittable, self._intercept_id(pick), self._now())

    @rule(pick=picks, evidence=st.sampled_from([{}, {"scan": "turned back at hub"}]))
    @has_intercepts
    def succeeded(self, pick: int, evidence: dict[str, Any]) -> None:
        self._attempt(self.case.intercept_succeeded, self._intercept_id(pick), now=self._now(), evidence=evidence)

    @rule(pick=picks, reason=st.sampled_from([InterceptReason.already_delivered, InterceptReason.carrier_error,
                                              InterceptReason.out_for_delivery, InterceptReason.missed]))
    @has_intercepts
    def failed(self, pick: int, reason: InterceptReason) -> None:
        self._attempt(self.case.intercept_failed, self._intercept_id(pick), reason=reason, message="failed",
                      now=self._now())

    @rule(pick=picks)
    @has_intercepts
    def cancel_requested(self, pick: int) -> None:
        self._attempt(self.case.request_intercept_cancel, self._intercept_id(pick), self._now())

    @rule(pick=picks, accepted=st.booleans())
    @has_intercepts
    def cancel_answered(self, pick: int, accepted: bool) -> None:
        if accepted:
            self._attempt(self.case.intercept_cancelled, self._intercept_id(pick), message="withdrawn",
                          now=self._now())
        else:
            self._attempt(self.case.intercept_cancel_refused, self._intercept_id(pick), message="too late")

    # ----------------------------------------------------------------- parcels and warehouse
    @rule(pick=st.integers(min_value=0, max_value=2), status=st.sampled_from(TrackingStatus),
          minutes=st.integers(min_value=-90, max_value=30))
    def tracking_update(self, pick: int, status: TrackingStatus, minutes: int) -> None:
        parcel = self.parcels[pick % len(self.parcels)]
        held = (parcel.tracking_status, parcel.tracking_at, len(parcel.events))
        history = [{"status": str(status)}] * (1 + minutes % 3)  # sometimes longer at the same time
        longer = len(history) > len(parcel.tracking_events)
        taken = parcel.apply_tracking(status, at(self.minute + minutes), history)
        when = at(self.minute + minutes)
        assert taken is (held[1] is None or when > held[1] or (when == held[1] and longer))
        if not taken:
            assert (parcel.tracking_status, parcel.tracking_at, len(parcel.events)) == held

    @rule()
    def mark_received(self) -> None:
        self._attempt(self.case.mark_received, self._now())

    # ----------------------------------------------------------------- refunds and people
    @rule(resolution=st.sampled_from(MANUAL_RESOLUTIONS), act=sometimes(6))
    def approve_refund(self, resolution: Resolution, act: bool) -> None:
        if act:
            self._attempt(self.case.approve_refund, self._now(), resolution=resolution, evidence={"by": "ops"})

    @rule(pick=picks)
    @has_refunds
    def refund_approved(self, pick: int) -> None:
        self._attempt(self.case.refund_approved, self._refund_id(pick))

    @rule(pick=picks)
    @has_refunds
    def refund_succeeded(self, pick: int) -> None:
        self._attempt(self.case.refund_succeeded, self._refund_id(pick))

    @rule(pick=picks)
    @has_refunds
    def refund_failed(self, pick: int) -> None:
        self._attempt(self.case.refund_failed, self._refund_id(pick), "channel said no")

    @rule(act=sometimes(10))
    def cancel(self, act: bool) -> None:
        if act:
            self._attempt(self.case.cancel, self._now())

    @rule(act=sometimes(10))
    def reject(self, act: bool) -> None:
        if act:
            self._attempt(self.case.reject, self._now())

    # ----------------------------------------------------------------- invariants
    @invariant()
    def never_two_live_refunds(self) -> None:
        assert sum(r.live for r in self.case.refunds) <= 1

    @invariant()
    def case_moves_only_along_its_table_and_terminal_stays_terminal(self) -> None:
        previous, now = self.seen_case, self.case.status
        if is_terminal(CASE_TRANSITIONS, previous):
            assert now is previous
        assert now is previous or now in CASE_TRANSITIONS[previous], f"case {previous} -> {now}"
        self.seen_case = now

    @invariant()
    def recorded_case_status_changes_chain_along_the_table(self) -> None:
        for recorded in self.case.events[self.events_checked:]:
            if recorded.type == "aftersale.status_changed":
                source, target = recorded.payload["from"], recorded.payload["to"]
                assert source == self.status_by_events
                assert target in CASE_TRANSITIONS[source]
                self.status_by_events = target
        self.events_checked = len(self.case.events)
        assert self.status_by_events == self.case.status

    @staticmethod
    def _moved_along(table: Any, seen: dict[str, Any], items: list[Any], born: Any) -> None:
        """Each item's status since the last step is unchanged or one edge of ``table``; terminal stays."""
        assert set(seen) <= {item.id for item in items}
        for item in items:
            previous = seen.setdefault(item.id, born)
            if is_terminal(table, previous):
                assert item.status is previous
            assert item.status is previous or item.status in table[previous], \
                f"{item.id} {previous} -> {item.status}"
            seen[item.id] = item.status

    @invariant()
    def intercepts_move_only_along_their_table_and_terminal_stays_terminal(self) -> None:
        self._moved_along(INTERCEPT_TRANSITIONS, self.seen_intercepts, self.case.intercepts,
                          InterceptStatus.requested)  # born requested

    @invariant()
    def refunds_move_only_along_their_table_and_terminal_stays_terminal(self) -> None:
        self._moved_along(REFUND_TRANSITIONS, self.seen_refunds, self.case.refunds,
                          RefundStatus.pending)  # born pending

    @invariant()
    def refunds_are_numbered_in_order_for_the_full_amount(self) -> None:
        refunds = self.case.refunds
        assert [r.id for r in refunds] == [f"{self.case.id}-r{n}" for n in range(1, len(refunds) + 1)]
        assert len({r.refund_no for r in refunds}) == len(refunds)
        assert all(r.amount_fen == self.case.refund_fen for r in refunds)
        assert [e.subject_id for e in self.case.events if e.type == "refund.pending"] == [r.id for r in refunds]

    @invariant()
    def case_is_completed_exactly_when_a_refund_succeeded(self) -> None:
        has_succeeded = any(r.status is RefundStatus.succeeded for r in self.case.refunds)
        assert (self.case.status is CaseStatus.completed) is has_succeeded

    @invariant()
    def a_live_refund_means_the_case_is_refunding_or_completed(self) -> None:
        live = self.case.live_refund
        assert (live is not None) is (self.case.status in (CaseStatus.refunding, CaseStatus.completed))

    @invariant()
    def refunds_the_intercepts_decided_met_the_policy_for_every_parcel(self) -> None:
        for refund in self.case.refunds:
            if "trigger" not in refund.evidence:
                continue  # approved by a person
            seen = refund.evidence["intercepts"]
            by_parcel = {self.case.intercept(i).shipment_id for i in seen}
            assert by_parcel == set(self.case.shipment_ids), "settled before every parcel had an intercept"
            if self.case.settlement_policy is SettlementPolicy.on_accept:
                assert set(seen.values()) <= ACCEPTED
            else:
                assert set(seen.values()) == {InterceptStatus.succeeded}
            if self.case.settlement_policy is SettlementPolicy.on_received:
                assert self.case.received_at is not None and self.case.received_at <= refund.created_at

    @invariant()
    def intercepted_case_waits_only_for_the_warehouse(self) -> None:
        if self.case.status is CaseStatus.intercepted:
            assert (self.case.settlement_policy, self.case.received_at) == (SettlementPolicy.on_received, None)
            per_parcel = [self.case.active_intercept_for(sid) for sid in self.case.shipment_ids]
            assert all(i is not None and i.status is InterceptStatus.succeeded for i in per_parcel)

    @invariant()
    def each_parcel_has_at_most_one_active_intercept(self) -> None:
        for parcel in self.parcels:
            assert sum(i.active for i in self.case.intercepts if i.shipment_id == parcel.id) <= 1
        assert {i.shipment_id for i in self.case.intercepts} <= set(self.case.shipment_ids)

    def teardown(self) -> None:
        if hasattr(self, "case"):
            event(f"final case status: {self.case.status}")
            for refund in self.case.refunds:
                event(f"refund by {refund.evidence.get('trigger', 'a person')} ({self.case.settlement_policy})")


CaseMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
TestCaseMachine = CaseMachine.TestCase

