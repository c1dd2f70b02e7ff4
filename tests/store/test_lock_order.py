"""A carrier push holding its parcel and a confirmation holding the parcel's case never deadlock (PostgreSQL).

The push locks the parcel, then the case; the confirmation locks the case, then starts the return leg,
whose foreign key takes KEY SHARE on the parcel. The parcel's lock is FOR NO KEY UPDATE, which KEY SHARE
does not wait for, so no cycle forms. Both transactions are held at their first lock until the other
holds its own, so the order is the worst one every run (a FOR UPDATE lock deadlocks here each time).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from lanjie.domain.returns import ReturnLeg
from lanjie.service.ids import utcnow
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store import returns
from lanjie.store import tables as t
from tests.conftest import ON_POSTGRES

# The case with one parcel (ZT1000) and its intercept (pytest finds fixtures by module name).
from tests.service.test_workflows import world  # noqa: F401

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="SQLite has no row locks: BEGIN IMMEDIATE makes each "
                                                        "transaction the only writer, so no lock order exists")

ROUNDS = 3
WAIT = 10  # seconds: only reached when a transaction is stuck, which fails the test


def test_a_push_holding_the_parcel_and_a_confirmation_holding_its_case_both_commit(world: Any) -> None:  # noqa: F811
    container, shop_id, case_id = world
    with container.engine.connect() as conn:
        shipment_id = conn.execute(sa.select(t.shipments.c.id)).scalar_one()

    def push(parcel_held: threading.Event, case_held: threading.Event) -> str:
        with UnitOfWork(container.engine, utcnow()) as u:
            assert u.shipment_by_waybill(shop_id, "ZT1000") is not None
            parcel_held.set()
            assert case_held.wait(WAIT)
            assert u.case(shop_id, case_id) is not None  # waits for the confirmation to commit
            u.commit()
        return "push"

    def confirm(n: int, parcel_held: threading.Event, case_held: threading.Event) -> str:
        with UnitOfWork(container.engine, utcnow()) as u:
            assert parcel_held.wait(WAIT)
            assert u.case(shop_id, case_id) is not None
            case_held.set()
            leg = ReturnLeg.start(id=f"rt_{n}", shop_id=shop_id, aftersale_id=case_id, shipment_id=shipment_id,
                                  waybill_no="ZT1000", now=u.now, typical_days=4)
            returns.add_leg(u.conn, leg, u.now)
            u.commit()
        return "confirm"

    with ThreadPoolExecutor(max_workers=2) as pool:
        for n in range(ROUNDS):
            parcel_held, case_held = threading.Event(), threading.Event()
            done = [pool.submit(push, parcel_held, case_held), pool.submit(confirm, n, parcel_held, case_held)]
            assert [f.result(timeout=3 * WAIT) for f in done] == ["push", "confirm"]
            with container.engine.begin() as conn:  # one leg per parcel: make room for the next round
                conn.execute(t.return_legs.delete())

    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.return_legs)).scalar_one() == 0
