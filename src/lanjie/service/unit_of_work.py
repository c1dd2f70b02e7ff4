"""The unit of work: one database transaction in which aggregates change, events are written and
jobs are enqueued — all of it commits together or not at all."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime
from types import TracebackType
from typing import Any

import sqlalchemy as sa

from lanjie.domain.model import AfterSale, Shipment
from lanjie.store import jobs, repository
from lanjie.store import tables as t


class UnitOfWork:
    """``with UnitOfWork(engine, now) as uow: … uow.commit()``; leaving without commit rolls back.

    ``within``: work inside a transaction the caller holds (a savepoint of it), so the changes commit
    or roll back with the caller's own writes (the job queue's dead mark).
    """

    def __init__(self, engine: sa.Engine, now: datetime, *, on_commit: Callable[[], None] | None = None,
                 read_only: bool = False, within: sa.Connection | None = None):
        self.engine, self.now, self.read_only = engine, now, read_only
        self._within = within
        self._on_commit = on_commit
        self._cases: dict[str, AfterSale] = {}
        self._loaded: dict[str, dict[str, Any]] = {}  # rows as read, to write back only changes
        self._dirty_cases: set[str] = set()
        self._shipments: dict[str, Shipment] = {}
        self._dirty_shipments: set[str] = set()
        self._new: list[AfterSale | Shipment] = []
        self._tracked: list[Any] = []  # other entities (return legs, claims) whose events go out at commit
        self._jobs = 0

    def __enter__(self) -> UnitOfWork:
        if self._within is not None:
            self.conn = self._within
            self._tx: sa.Transaction = self.conn.begin_nested()
            return self
        self.conn = self.engine.connect()
        self._tx = self.conn.begin()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._tx.is_active:
            self._tx.rollback()
        if self._within is None:
            self.conn.close()

    # ---------------------------------------------------------------- cases
    def case(self, shop_id: str, case_id: str) -> AfterSale | None:
        if case_id not in self._cases:
            case = repository.get_case(self.conn, shop_id=shop_id, case_id=case_id, for_update=not self.read_only)
            if case is None:
                return None
            self._cases[case_id] = case
            self._loaded[case_id] = repository.snapshot(case)
        return self._cases[case_id]

    def forget(self, case_id: str) -> None:
        """Drop a case changed in a savepoint that was rolled back: nothing of it is written at commit."""
        self._cases.pop(case_id, None)
        self._loaded.pop(case_id, None)
        self._dirty_cases.discard(case_id)

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """Changes made in the block are undone when it raises: the rows, and the entities and events
        still to be written at commit. Cases loaded before the block must not be changed inside it."""
        added, cases, shipments = len(self._new), set(self._cases), set(self._shipments)
        tracked = len(self._tracked)
        savepoint = self.conn.begin_nested()
        try:
            yield
        except BaseException:
            savepoint.rollback()
            del self._new[added:]
            del self._tracked[tracked:]
            for case_id in set(self._cases) - cases:
                self.forget(case_id)
            for shipment_id in set(self._shipments) - shipments:
                del self._shipments[shipment_id]
                self._dirty_shipments.discard(shipment_id)
            raise
        savepoint.commit()

    def add_case(self, case: AfterSale) -> None:
        repository.add_case(self.conn, case)
        self._new.append(case)
        self._cases[case.id] = case

    def save(self, entity: AfterSale | Shipment) -> None:
        """Mark a loaded aggregate to be written back at commit."""
        if isinstance(entity, AfterSale):
            self._cases[entity.id] = entity
            self._dirty_cases.add(entity.id)
        else:
            self._shipments[entity.id] = entity
            self._dirty_shipments.add(entity.id)

    # ---------------------------------------------------------------- shipments
    def shipment(self, shop_id: str, shipment_id: str) -> Shipment | None:
        if shipment_id not in self._shipments:
            s = repository.get_shipment(self.conn, shop_id=shop_id, shipment_id=shipment_id)
            if s is None:
                return None
            self._shipments[shipment_id] = s
        return self._shipments[shipment_id]

    def shipment_by_waybill(self, shop_id: str, waybill_no: str) -> Shipment | None:
        # Found by waybill is how a carrier's push reaches its parcel: lock the row, so two pushes for one
        # parcel processed at once write one history each after the other, not each without the other's
        # scans. (Case jobs read parcels by id without the lock; they lock the case first. One order.)
        s = repository.shipment_by_waybill(self.conn, shop_id=shop_id, waybill_no=waybill_no,
                                           for_update=not self.read_only)
        if s is None:
            return None
        return self._shipments.setdefault(s.id, s)

    def add_shipment(self, shipment: Shipment) -> None:
        repository.add_shipment(self.conn, shipment)
        self._new.append(shipment)

    def track(self, entity: Any) -> None:
        """Write ``entity``'s recorded events at commit (it saves its own rows: return legs, claims)."""
        if all(entity is not e for e in self._tracked):
            self._tracked.append(entity)

    # ---------------------------------------------------------------- jobs and records
    def enqueue(self, kind: str, payload: dict[str, Any], *, key: str | None = None,
                shop_id: str | None = None, concurrency_key: str | None = None,
                run_at: datetime | None = None) -> None:
        jobs.enqueue(self.conn, kind=kind, payload=payload, key=key, shop_id=shop_id,
                     concurrency_key=concurrency_key, run_at=run_at)
        self._jobs += 1

    def record_exchanges(self, *, shop_id: str, carrier: str, aftersale_id: str | None,
                         subject_id: str | None, exchanges: list[Any]) -> None:
        if not exchanges:
            return
        self.conn.execute(t.carrier_exchanges.insert(), [
            {"shop_id": shop_id, "aftersale_id": aftersale_id, "subject_id": subject_id, "carrier": carrier,
             "operation": x.operation, "method": x.method, "url": x.url[:500], "request_body": x.request_body,
             "status_code": x.status_code, "response_body": x.response_body, "duration_ms": x.duration_ms,
             "error": x.error[:500], "created_at": self.now} for x in exchanges])

    def commit(self) -> None:
        """Write dirty aggregates and every recorded event, then commit."""
        for sid in self._dirty_shipments:
            repository.save_shipment(self.conn, self._shipments[sid], self.now)
        for cid in self._dirty_cases:
            repository.save_case(self.conn, self._cases[cid], self.now, self._loaded.get(cid))
        seen: list[Any] = [*self._new, *self._shipments.values(), *self._cases.values(), *self._tracked]
        by_shop: dict[str, list[Any]] = {}
        for entity in {id(e): e for e in seen}.values():
            if entity.events:
                by_shop.setdefault(entity.shop_id, []).extend(entity.events)
                entity.events.clear()
        for shop_id, events in by_shop.items():
            repository.append_events(self.conn, shop_id=shop_id, events=events, now=self.now)
        self._tx.commit()
        if self._on_commit is not None and (self._jobs or by_shop):
            self._on_commit()
