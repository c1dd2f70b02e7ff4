"""At most one live refund per case is a database fact (``uq_refunds_live_case``), not only a domain rule.

The rows are written straight into the tables, past the domain, the way a bug or a second process
racing the first would write them: the database itself must refuse the second live refund.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from lanjie.domain.states import LIVE_REFUND_STATUSES, RefundStatus
from lanjie.store import tables as t

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CASE = "as_1"


def _refund(n: int, status: RefundStatus, case_id: str = CASE) -> dict[str, Any]:
    return {"id": f"{case_id}-r{n}", "shop_id": "s1", "aftersale_id": case_id, "refund_no": f"LJ{case_id}R{n}",
            "amount_fen": 12_900, "status": status, "evidence": {}, "created_at": NOW, "updated_at": NOW}


@pytest.fixture
def refunded_once(engine: sa.Engine) -> sa.Engine:
    """Two cases of one shop; case as_1 has a failed refund r1 and a pending (live) refund r2."""
    with engine.begin() as conn:
        conn.execute(t.shops.insert().values(id="s1", name="n", settlement_policy="on_accept", timezone="UTC",
                                             created_at=NOW, updated_at=NOW))
        conn.execute(t.aftersales.insert(), [
            {"id": case_id, "shop_id": "s1", "order_id": "o1", "type": "refund_only_shipped", "status": "refunding",
             "refund_fen": 12_900, "settlement_policy": "on_accept", "version": 1, "created_at": NOW,
             "updated_at": NOW} for case_id in (CASE, "as_2")])
        conn.execute(t.refunds.insert(), [_refund(1, RefundStatus.failed), _refund(2, RefundStatus.pending)])
    return engine


def _refunds(engine: sa.Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(
            sa.select(t.refunds.c.id, t.refunds.c.status).order_by(t.refunds.c.id))]


def test_a_failed_refund_and_a_live_one_stand_side_by_side(refunded_once: sa.Engine) -> None:
    assert _refunds(refunded_once) == [(f"{CASE}-r1", "failed"), (f"{CASE}-r2", "pending")]


def test_a_second_failed_refund_and_another_case_s_live_refund_are_allowed(refunded_once: sa.Engine) -> None:
    with refunded_once.begin() as conn:
        conn.execute(t.refunds.insert(), [_refund(3, RefundStatus.failed), _refund(1, RefundStatus.pending, "as_2")])
    assert _refunds(refunded_once) == [(f"{CASE}-r1", "failed"), (f"{CASE}-r2", "pending"),
                                       (f"{CASE}-r3", "failed"), ("as_2-r1", "pending")]


@pytest.mark.parametrize("status", sorted(LIVE_REFUND_STATUSES))
def test_a_second_live_refund_for_the_case_is_refused_by_the_database(
        refunded_once: sa.Engine, status: RefundStatus) -> None:
    with pytest.raises(sa.exc.IntegrityError), refunded_once.begin() as conn:
        conn.execute(t.refunds.insert().values(_refund(3, status)))
    assert _refunds(refunded_once) == [(f"{CASE}-r1", "failed"), (f"{CASE}-r2", "pending")]


@pytest.mark.parametrize("status", sorted(LIVE_REFUND_STATUSES))
def test_a_failed_refund_cannot_come_back_to_life_beside_a_live_one(
        refunded_once: sa.Engine, status: RefundStatus) -> None:
    with pytest.raises(sa.exc.IntegrityError), refunded_once.begin() as conn:
        conn.execute(t.refunds.update().where(t.refunds.c.id == f"{CASE}-r1").values(status=status))
    assert _refunds(refunded_once) == [(f"{CASE}-r1", "failed"), (f"{CASE}-r2", "pending")]
