"""The job handlers against a scripted carrier and a real database: every branch of the intercept job."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import sqlalchemy as sa

from lanjie.bootstrap import Container, bootstrap
from lanjie.carriers.base import (
    CancelAck,
    Capability,
    CarrierAccount,
    InterceptAck,
    InterceptOutcome,
    InterceptRequest,
    InterceptState,
    Subscription,
)
from lanjie.carriers.errors import CarrierRejected, CarrierTimeout, CarrierUnavailable
from lanjie.domain.model import Item, Party
from lanjie.domain.states import CaseType, InterceptReason, InterceptType
from lanjie.service import commands, shops
from lanjie.service.ids import utcnow
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.settings import Settings
from lanjie.store import tables as t
from lanjie.worker import Worker

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class ScriptedCarrier:
    """A carrier whose answers the test writes in advance; it records every call."""

    name: ClassVar[str] = "kuaidi100"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)
    intercepts: ClassVar[list[Any]] = []
    queries: ClassVar[list[Any]] = []
    cancels: ClassVar[list[Any]] = []
    calls: ClassVar[list[str]] = []

    def __init__(self, account: CarrierAccount, client: httpx.AsyncClient) -> None:
        self.exchanges: list[Any] = []

    @staticmethod
    def _next(script: list[Any]) -> Any:
        answer = script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def intercept(self, request: InterceptRequest) -> InterceptAck:
        self.calls.append("intercept")
        return self._next(self.intercepts)  # type: ignore[no-any-return]

    async def query_intercept(self, carrier_code: str, waybill_no: str, task_id: str | None,
                              phone_tail: str = "") -> InterceptState:
        self.calls.append("query")
        return self._next(self.queries)  # type: ignore[no-any-return]

    async def subscribe(self, subscription: Subscription) -> None:
        self.calls.append("subscribe")

    async def cancel_intercept(self, carrier_code: str, waybill_no: str, task_id: str | None) -> CancelAck:
        self.calls.append("cancel")
        return self._next(self.cancels)  # type: ignore[no-any-return]


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[tuple[Container, str, str]]:
    ScriptedCarrier.intercepts, ScriptedCarrier.queries, ScriptedCarrier.calls = [], [], []
    ScriptedCarrier.cancels = []
    container = bootstrap(Settings(data_dir=tmp_path, database_url=database_url), carriers={
        "kuaidi100": ScriptedCarrier}, run_migrations=False)  # type: ignore[dict-item]
    shop, _ = shops.create_shop(container.engine, "Shop")
    with container.engine.begin() as conn:
        shops.upsert_carrier_account(conn, shop.id, "kuaidi100", {"key": "k", "customer": "c", "secret": "s",
                                                                   "salt": "x" * 32})
    party = Party("A", "13800001234", "Somewhere")
    with UnitOfWork(container.engine, utcnow()) as uow:
        commands.register_shipment(uow, shop.id, commands.NewShipment(
            carrier="kuaidi100", carrier_code="zto", waybill_no="ZT1000", order_id="O1",
            items=[Item("S", "n", 1, 900)], value_fen=900, freight_fen=100, sender=party, recipient=party))
        case = commands.open_case(uow, shop.id, commands.NewCase("O1", CaseType.refund_only_shipped, 900, ["ZT1000"]))
        commands.request_intercepts(uow, shop.id, case.id, type=InterceptType.return_to_sender)
        uow.commit()
    yield container, shop.id, case.id
    container.engine.dispose()


async def _run(container: Container) -> None:
    """Run every due job once, then make the ones waiting on a backoff due for the next run.

    The worker's clock stands still a little ahead of real time: jobs enqueued during the run are
    due, a retry's backoff (at least half a second past that clock) is not, however slow the machine.
    """
    frozen = utcnow() + timedelta(seconds=5)
    await Worker(container.engine, container.workflows.handlers(), poll_seconds=0.01,
                 clock=lambda: frozen).run_until_idle()
    with container.engine.begin() as conn:
        conn.execute(t.jobs.update().where(t.jobs.c.status == "queued").values(run_at=utcnow()))


def _calls() -> list[str]:
    """The intercept and query calls in order (the tracking subscription runs alongside, once)."""
    assert ScriptedCarrier.calls.count("subscribe") == 1
    return [c for c in ScriptedCarrier.calls if c != "subscribe"]


def _state(container: Container, shop_id: str, case_id: str) -> tuple[Any, ...]:
    with UnitOfWork(container.engine, utcnow(), read_only=True) as uow:
        case = commands.load_case(uow, shop_id, case_id)
    (icpt,) = case.intercepts
    return case.status, icpt.status, icpt.reason, icpt.task_id, icpt.attempts, [r.status for r in case.refunds]


def _events(container: Container) -> list[str]:
    with container.engine.connect() as conn:
        return list(conn.execute(sa.select(t.events.c.type).where(t.events.c.type.like("intercept.%"))
                                 .order_by(t.events.c.id)).scalars())


@pytest.mark.parametrize("outcome", [InterceptOutcome.not_found, InterceptOutcome.indeterminate])
async def test_a_lost_answer_is_unknown_and_the_carrier_is_asked_before_sending_again(
        world: Any, outcome: InterceptOutcome) -> None:
    container, shop_id, case_id = world
    ScriptedCarrier.intercepts += [CarrierTimeout("read timeout"), InterceptAck(True, "T1", duplicate=True)]
    ScriptedCarrier.queries += [InterceptState(outcome)]
    await _run(container)
    assert _state(container, shop_id, case_id) == ("intercepting", "unknown", None, None, 1, [])
    await _run(container)
    assert _calls() == ["intercept", "query", "intercept"]
    assert _state(container, shop_id, case_id) == ("intercepting", "submitted", None, "T1", 2, [])
    assert _events(container) == ["intercept.requested", "intercept.unknown", "intercept.resubmitted",
                                  "intercept.submitted"]


async def test_a_lost_answer_the_carrier_says_it_holds_is_recorded_submitted_without_sending_again(
        world: Any) -> None:
    container, shop_id, case_id = world
    ScriptedCarrier.intercepts += [CarrierTimeout("read timeout")]
    ScriptedCarrier.queries += [InterceptState(InterceptOutcome.pending, "T4", message="拦截中")]
    await _run(container)
    await _run(container)
    assert _calls() == ["intercept", "query"]
    assert _state(container, shop_id, case_id) == ("intercepting", "submitted", None, "T4", 1, [])
    assert _events(container) == ["intercept.requested", "intercept.unknown", "intercept.submitted"]
    with container.engine.connect() as conn:
        submitted = conn.execute(sa.select(t.events.c.payload).where(
            t.events.c.type == "intercept.submitted")).scalar_one()
        statuses = dict(conn.execute(sa.select(t.jobs.c.kind, t.jobs.c.status)).all())
    assert submitted["evidence"] == {"confirmed_by": "query", "outcome": "pending", "message": "拦截中"}
    assert (submitted["task_id"], submitted["duplicate"]) == ("T4", False)
    assert statuses == {"tracking.subscribe": "succeeded", "intercept.submit": "succeeded"}


async def test_a_lost_answer_for_a_parcel_already_turned_back_is_recorded_without_sending_again(world: Any) -> None:
    container, shop_id, case_id = world
    ScriptedCarrier.intercepts += [CarrierTimeout("read timeout")]
    ScriptedCarrier.queries += [InterceptState(InterceptOutcome.succeeded, "T9")]
    await _run(container)
    await _run(container)
    assert _calls() == ["intercept", "query"]
    assert _state(container, shop_id, case_id) == ("completed", "succeeded", None, None, 1, ["succeeded"])


async def test_a_5xx_registered_nothing_so_the_request_is_simply_sent_again(world: Any) -> None:
    container, shop_id, case_id = world
    ScriptedCarrier.intercepts += [CarrierUnavailable("HTTP 502"), InterceptAck(True, "T2")]
    await _run(container)
    assert _state(container, shop_id, case_id) == ("intercepting", "requested", None, None, 1, [])
    await _run(container)
    assert _calls() == ["intercept", "intercept"]
    assert _state(container, shop_id, case_id) == ("intercepting", "submitted", None, "T2", 2, [])


async def test_rate_limited_is_retried_not_refused(world: Any) -> None:
    container, shop_id, case_id = world
    ScriptedCarrier.intercepts += [CarrierRejected("429", "too fast", reason="rate_limited"), InterceptAck(True, "T3")]
    await _run(container)
    assert _state(container, shop_id, case_id) == ("intercepting", "requested", None, None, 1, [])
    await _run(container)
    assert _state(container, shop_id, case_id) == ("intercepting", "submitted", None, "T3", 2, [])


@pytest.mark.parametrize("answer, reason", [
    (CarrierRejected("403", "签名错误", reason="auth_failed"), InterceptReason.auth_failed),
    (InterceptAck(False, reason=InterceptReason.already_delivered, message="已签收"),
     InterceptReason.already_delivered),
])
async def test_a_refusal_is_final_and_sends_the_case_to_a_person(world: Any, answer: Any,
                                                                reason: InterceptReason) -> None:
    container, shop_id, case_id = world
    ScriptedCarrier.intercepts += [answer]
    await _run(container)
    await _run(container)
    assert _calls() == ["intercept"]
    assert _state(container, shop_id, case_id) == ("needs_attention", "refused", reason, None, 1, [])
    with container.engine.connect() as conn:
        statuses = dict(conn.execute(sa.select(t.jobs.c.kind, t.jobs.c.status)).all())
    assert statuses == {"tracking.subscribe": "succeeded", "intercept.submit": "succeeded"}


def _cancel(container: Container, shop_id: str, case_id: str) -> None:
    with UnitOfWork(container.engine, utcnow()) as uow:
        (icpt,) = commands.load_case(uow, shop_id, case_id).intercepts
        commands.cancel_intercept(uow, shop_id, case_id, icpt.id, can_cancel=lambda plugin: plugin == "kuaidi100")
        uow.commit()


@pytest.mark.parametrize("answer, expected, events", [
    (CancelAck(True, "已撤销"), ("needs_attention", "cancelled", None, "T5", 1, []), ["intercept.cancelled"]),
    (CancelAck(False, "已完成，无法撤销"), ("intercepting", "cancel_requested", None, "T5", 1, []),
     ["intercept.cancel_refused"]),
    (CarrierRejected("710", "not cancellable", reason="carrier_error"),
     ("intercepting", "cancel_requested", None, "T5", 1, []), ["intercept.cancel_refused"]),
])
async def test_a_cancel_is_sent_once_and_its_answer_recorded(world: Any, answer: Any, expected: tuple[Any, ...],
                                                            events: list[str]) -> None:
    container, shop_id, case_id = world
    ScriptedCarrier.intercepts += [InterceptAck(True, "T5")]
    ScriptedCarrier.cancels += [answer]
    await _run(container)
    _cancel(container, shop_id, case_id)
    await _run(container)
    await _run(container)
    assert _calls() == ["intercept", "cancel"]
    assert _state(container, shop_id, case_id) == expected
    assert _events(container) == ["intercept.requested", "intercept.submitted", "intercept.cancel_requested",
                                  *events]


async def test_a_lost_cancel_answer_is_settled_by_asking_the_carrier(world: Any) -> None:
    container, shop_id, case_id = world
    ScriptedCarrier.intercepts += [InterceptAck(True, "T6")]
    ScriptedCarrier.cancels += [CarrierTimeout("read timeout")]
    ScriptedCarrier.queries += [InterceptState(InterceptOutcome.not_found)]
    await _run(container)
    _cancel(container, shop_id, case_id)
    await _run(container)
    assert _state(container, shop_id, case_id) == ("intercepting", "cancel_requested", None, "T6", 1, [])
    await _run(container)
    assert _calls() == ["intercept", "cancel", "query"]  # no second cancel: the first one took
    assert _state(container, shop_id, case_id) == ("needs_attention", "cancelled", None, "T6", 1, [])


async def test_a_carrier_without_cancel_is_refused_before_anything_is_written(world: Any) -> None:
    from lanjie.domain.errors import RuleViolation

    container, shop_id, case_id = world
    ScriptedCarrier.intercepts += [InterceptAck(True, "T7")]
    await _run(container)
    with UnitOfWork(container.engine, utcnow()) as uow:
        (icpt,) = commands.load_case(uow, shop_id, case_id).intercepts
        with pytest.raises(RuleViolation) as refused:
            commands.cancel_intercept(uow, shop_id, case_id, icpt.id, can_cancel=lambda plugin: False)
    assert (refused.value.rule, refused.value.detail) == ("not_supported",
                                                          "kuaidi100 offers no way to cancel an intercept")
    assert _state(container, shop_id, case_id) == ("intercepting", "submitted", None, "T7", 1, [])


async def test_a_withdrawn_case_withdraws_its_accepted_intercept_where_the_carrier_can(world: Any) -> None:
    container, shop_id, case_id = world
    ScriptedCarrier.intercepts += [InterceptAck(True, "T8")]
    ScriptedCarrier.cancels += [CancelAck(True, "已撤销")]
    await _run(container)
    with UnitOfWork(container.engine, utcnow()) as uow:
        commands.cancel_case(uow, shop_id, case_id, can_cancel=lambda plugin: plugin == "kuaidi100")
        uow.commit()
    await _run(container)
    assert _calls() == ["intercept", "cancel"]
    assert _state(container, shop_id, case_id) == ("cancelled", "cancelled", None, "T8", 1, [])
    assert _events(container) == ["intercept.requested", "intercept.submitted", "intercept.cancel_requested",
                                  "intercept.cancelled"]


async def test_a_withdrawn_case_lets_an_intercept_run_where_the_carrier_cannot_cancel(world: Any) -> None:
    container, shop_id, case_id = world
    ScriptedCarrier.intercepts += [InterceptAck(True, "T9")]
    await _run(container)
    with UnitOfWork(container.engine, utcnow()) as uow:
        commands.cancel_case(uow, shop_id, case_id, can_cancel=lambda plugin: False)
        uow.commit()
    await _run(container)
    assert _calls() == ["intercept"]
    assert _state(container, shop_id, case_id) == ("cancelled", "submitted", None, "T9", 1, [])
