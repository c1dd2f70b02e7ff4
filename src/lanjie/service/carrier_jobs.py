"""The runtime the carrier job handlers share: a unit of work per shop, database work on the job threads,
a case change committed together with its job and the carrier exchanges behind it.

Each handler reads in one transaction, calls the carrier outside any transaction, and writes the
result together with the job's completion in a final transaction — so a worker killed at any line
leaves either nothing or everything, and the next attempt knows what it must check first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

import anyio
import sqlalchemy as sa

from lanjie.carriers.base import Carrier, TrackingSnapshot
from lanjie.domain.model import AfterSale, Shipment
from lanjie.service import commands, shops
from lanjie.service.carriers import CarrierGateway
from lanjie.service.ids import utcnow
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store import jobs
from lanjie.store import tables as t
from lanjie.store.db import tenant
from lanjie.store.jobs import PermanentJobError

T = TypeVar("T")


class CarrierJobs:
    """The database, the carrier gateway and a wake-up hook, as every carrier job handler uses them."""

    def __init__(self, engine: sa.Engine, gateway: CarrierGateway,
                 on_commit: Callable[[], None] | None = None, now: Callable[[], datetime] = utcnow):
        self.engine, self.gateway, self.on_commit, self.now = engine, gateway, on_commit, now
        # Called with every case a carrier job changed, before it is saved (the channel side's hook).
        self.after_change: list[Callable[[UnitOfWork, AfterSale], None]] = []
        # Job handlers get threads of their own, so jobs waiting on the database never take the
        # threads the API needs to answer (the merchant's click comes first).
        self._threads: anyio.CapacityLimiter | None = None

    def uow(self, shop_id: str) -> UnitOfWork:
        """A unit of work for one shop's job (PostgreSQL RLS limits it to that shop)."""
        return UnitOfWork(tenant(self.engine, shop_id), self.now(), on_commit=self.on_commit)

    async def db(self, fn: Callable[[], T]) -> T:
        """Run blocking database work on the job handlers' own threads."""
        if self._threads is None:
            self._threads = anyio.CapacityLimiter(8)
        return await anyio.to_thread.run_sync(fn, limiter=self._threads)

    def finish(self, u: UnitOfWork, job: jobs.Job) -> None:
        """Complete the job in the unit of work's transaction and commit both."""
        jobs.complete(u.conn, job_id=job.id, worker_id=job.locked_by)
        u.commit()

    def complete(self, job: jobs.Job) -> None:
        """Complete the job in a transaction of its own (nothing else to write)."""
        with self.uow(job.payload["shop_id"]) as u:
            self.finish(u, job)

    def apply(self, job: jobs.Job, adapter: Carrier | None, change: Callable[[UnitOfWork, AfterSale], None],
              *, finish: bool = True) -> None:
        """Load the case, apply ``change``, keep the carrier exchanges, enqueue a due refund, commit."""
        p = job.payload
        with self.uow(p["shop_id"]) as u:
            lock_parcels(u, p["shop_id"], case_id=p["case_id"])
            case = commands.load_case(u, p["shop_id"], p["case_id"])
            change(u, case)
            commands.enqueue_refund_if_new(u, case)
            for hook in self.after_change:
                hook(u, case)
            u.save(case)
            if adapter is not None:
                carrier = type(adapter).name
                u.record_exchanges(shop_id=case.shop_id, carrier=carrier, aftersale_id=case.id,
                                   subject_id=p.get("intercept_id"), exchanges=adapter.exchanges)
                adapter.exchanges.clear()
            if finish:
                jobs.complete(u.conn, job_id=job.id, worker_id=job.locked_by)
            u.commit()

    def tracking_adapter(self, u: UnitOfWork, shipment: Shipment) -> Carrier:
        """The adapter of the parcel's own carrier, which answers for its trace."""
        account = shops.account_for(u.conn, shipment.shop_id, shipment.carrier)
        if account is None:
            raise PermanentJobError(f"no {shipment.carrier} account for shop {shipment.shop_id}")
        return self.gateway.adapter(account)

    def record_parcel_exchanges(self, shop_id: str, shipment: Shipment, adapter: Carrier) -> None:
        """Keep the carrier exchanges about a parcel (a call that failed), in a transaction of their own."""
        with self.uow(shop_id) as u:
            u.record_exchanges(shop_id=shipment.shop_id, carrier=shipment.carrier, aftersale_id=None,
                               subject_id=shipment.id, exchanges=adapter.exchanges)
            u.commit()
        adapter.exchanges.clear()


async def query_trace(adapter: Carrier, shipment: Shipment) -> TrackingSnapshot:
    """The parcel's trace now, asked of its carrier (lanjie's own query, not a push)."""
    return await adapter.query_tracking(shipment.carrier_code, shipment.waybill_no, shipment.recipient.phone[-4:])


def lock_parcels(u: UnitOfWork, shop_id: str, *, case_id: str = "", waybill_nos: Sequence[str] = ()) -> None:
    """Lock parcels (by id order) before any case: a push locks its parcels and then their cases, a case
    job that starts a return leg takes a key-share lock on the parcel, so every transaction takes the
    parcels first (PostgreSQL would otherwise find deadlocks between a push and a confirmation)."""
    parcels = sa.select(t.shipments.c.id).where(t.shipments.c.shop_id == shop_id)
    if waybill_nos:
        parcels = parcels.where(t.shipments.c.waybill_no.in_(list(waybill_nos)))
    else:
        parcels = parcels.where(t.shipments.c.id.in_(sa.select(t.aftersale_parcels.c.shipment_id).where(
            t.aftersale_parcels.c.aftersale_id == case_id)))
    u.conn.execute(parcels.order_by(t.shipments.c.id).with_for_update()).all()
