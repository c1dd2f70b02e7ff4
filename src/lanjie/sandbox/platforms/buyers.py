"""Simulated buyers: the plan each after-sale's buyer follows, put on the world's scheduler.

A plan names what the buyer does and when (sim seconds after the request, or after a rejection).
The platform carries an action out only if it still applies when it comes due (a buyer cannot
cancel a refund already paid); one that no longer applies is recorded as ``too_late``.

The demo's population option draws a plan at random (seeded) for every after-sale created without
one, so a long demo run shows cancellations, changed requests and disputes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from lanjie.sandbox.config import PopulationRates
from lanjie.sandbox.platforms.model import AfterSaleKind, BuyerAction, BuyerPlan

if TYPE_CHECKING:
    from lanjie.sandbox.world import SandboxWorld


class BuyerSide(Protocol):
    """What a platform lets its buyers do."""

    def buyer_act(self, case_id: int, action: BuyerAction, *, forced: bool = False,
                  to: AfterSaleKind | None = None) -> bool:
        """Carry out ``action`` if it applies now; False (recorded unless forced) when it does not.

        ``to`` is the new kind of a ``change_type`` (default: the plan's ``change_type_to``).
        """
        ...

    def awaiting_merchant(self, case_id: int) -> bool:
        """True while the case waits for a first answer from the merchant."""
        ...


def _act(side: BuyerSide, case_id: int, action: BuyerAction) -> Callable[[datetime], None]:
    def act(_at: datetime) -> None:
        side.buyer_act(case_id, action)

    return act


def schedule_plan(world: SandboxWorld, side: BuyerSide, case_id: int, plan: BuyerPlan, now: datetime) -> None:
    """Put the plan's timed actions (all but the escalation after a rejection) on the scheduler."""
    if plan.cancel_after_seconds is not None:
        world.schedule(now + timedelta(seconds=plan.cancel_after_seconds),
                       _act(side, case_id, BuyerAction.cancel))
    if plan.change_type_after_seconds is not None:
        world.schedule(now + timedelta(seconds=plan.change_type_after_seconds),
                       _act(side, case_id, BuyerAction.change_type))
    if plan.escalate_if_unanswered_seconds is not None:

        def escalate_if_unanswered(_at: datetime) -> None:
            if side.awaiting_merchant(case_id):
                side.buyer_act(case_id, BuyerAction.escalate)

        world.schedule(now + timedelta(seconds=plan.escalate_if_unanswered_seconds), escalate_if_unanswered)


def after_rejection(world: SandboxWorld, side: BuyerSide, case_id: int, plan: BuyerPlan, now: datetime) -> None:
    """The merchant rejected the request: the buyer escalates later if the plan says so."""
    if plan.escalate_after_rejection_seconds is not None:
        world.schedule(now + timedelta(seconds=plan.escalate_after_rejection_seconds),
                       _act(side, case_id, BuyerAction.escalate))


def drawn_plan(rng: random.Random, rates: PopulationRates, kind: AfterSaleKind) -> BuyerPlan:
    """A random buyer of the demo population (one draw per behaviour, always in the same order)."""
    cancel, change, after_rejection_, unanswered = (rng.random() for _ in range(4))
    return BuyerPlan(
        cancel_after_seconds=rates.cancel_seconds if cancel < rates.cancel else None,
        change_type_after_seconds=(rates.change_type_seconds
                                   if change < rates.change_type and kind is not AfterSaleKind.return_refund
                                   else None),
        escalate_after_rejection_seconds=rates.escalate_seconds if after_rejection_ < rates.escalate_after_rejection
        else None,
        escalate_if_unanswered_seconds=rates.escalate_seconds if unanswered < rates.escalate_if_unanswered else None,
    )
