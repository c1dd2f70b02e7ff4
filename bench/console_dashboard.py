"""Benchmark: the dashboard's figures over --cases cases (one parcel, one intercept each, a third refunded,
a tenth disputed, a fifth with a return leg), all opened within the period asked about.

Rows are written straight into the tables (not through the services: this measures the queries, not the
seeding). Prints the time of ``lanjie.service.dashboard.figures`` by carrier and by stage, best of --runs.

    .venv/bin/python bench/console_dashboard.py [--cases 100000] [--runs 3]
    LANJIE_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench .venv/bin/python bench/...
    (a PostgreSQL database given here is migrated and written to: use a throwaway one)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lanjie.service import dashboard, shops
from lanjie.store import tables as t
from lanjie.store.db import make_engine, migrate

T0 = datetime(2026, 11, 1, tzinfo=UTC)
STATUSES = ("succeeded", "succeeded", "succeeded", "refused", "failed", "submitted")
STAGES = ("picked_up", "in_transit", "in_transit", "at_destination")


def seed(engine, shop_id: str, cases: int) -> None:  # type: ignore[no-untyped-def]
    stamps = {"created_at": T0, "updated_at": T0}
    party = {"name": "A", "phone": "1", "address": "x"}
    for start in range(0, cases, 5000):
        ships, afters, icpts, events, legs = [], [], [], [], []
        for n in range(start, min(start + 5000, cases)):
            at = T0 + timedelta(seconds=n * 5)
            stage = STAGES[n % len(STAGES)]
            ships.append({"id": f"shp{n}", "shop_id": shop_id, "carrier": "kuaidi100",
                          "carrier_code": ("zto", "yto", "sf")[n % 3], "waybill_no": f"W{n}", "order_id": f"O{n}",
                          "items": [], "value_fen": 5000, "freight_fen": 800, "sender": party, "recipient": party,
                          "tracking_status": stage, "tracking_at": at - timedelta(hours=1),
                          "tracking_events": [{"at": (at - timedelta(hours=1)).isoformat(), "status": stage}],
                          **stamps})
            afters.append({"id": f"as{n}", "shop_id": shop_id, "order_id": f"O{n}", "type": "refund_only_shipped",
                           "status": "completed", "refund_fen": 5000, "settlement_policy": "on_turned_back",
                           "arbitration": "buyer_won" if n % 10 == 0 else "none", "version": 1,
                           "created_at": at, "updated_at": at})
            status = STATUSES[n % len(STATUSES)]
            icpts.append({"id": f"icp{n}", "shop_id": shop_id, "aftersale_id": f"as{n}", "shipment_id": f"shp{n}",
                          "type": "return_to_sender", "status": status, "answered_at": at + timedelta(seconds=n % 90),
                          "created_at": at, "updated_at": at})
            events.append({"shop_id": shop_id, "aftersale_id": f"as{n}", "subject_type": "intercept",
                           "subject_id": f"icp{n}", "type": "intercept.submitted",
                           "payload": {"fee": {"amount_minor": 300, "currency": "CNY"}}, "created_at": at})
            if n % 3 == 0:
                events.append({"shop_id": shop_id, "aftersale_id": f"as{n}", "subject_type": "refund",
                               "subject_id": f"as{n}-r1", "type": "refund.succeeded", "payload": {},
                               "created_at": at + timedelta(minutes=n % 600)})
            if n % 5 == 0:
                legs.append({"id": f"rt{n}", "shop_id": shop_id, "aftersale_id": f"as{n}", "shipment_id": f"shp{n}",
                             "waybill_no": f"W{n}", "status": ("returning", "stalled", "received")[n % 3],
                             "inspection": "ok" if n % 3 == 2 else None, "started_at": at, "items": [],
                             "photos": [], **stamps})
        with engine.begin() as conn:
            for table, rows in ((t.shipments, ships), (t.aftersales, afters), (t.intercepts, icpts),
                                (t.events, events), (t.return_legs, legs)):
                if rows:
                    conn.execute(table.insert(), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    url = os.environ.get("LANJIE_DATABASE_URL") or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    engine = make_engine(url)
    migrate(engine)
    shop, _ = shops.create_shop(engine, "Bench")
    began = time.perf_counter()
    seed(engine, shop.id, args.cases)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")  # as autovacuum would after a bulk load: fresh planner statistics
    print(f"{engine.dialect.name}: seeded {args.cases} cases in {time.perf_counter() - began:.1f} s")
    end = T0 + timedelta(days=30)
    for breakdown in dashboard.Breakdown:
        best = float("inf")
        for _ in range(args.runs):
            began = time.perf_counter()
            with engine.connect() as conn:
                seen = dashboard.figures(conn, shop.id, T0, end, breakdown)
            best = min(best, time.perf_counter() - began)
        print(f"by {breakdown}: {best * 1000:.0f} ms (requested {seen.intercepts_total.requested}, "
              f"rate {seen.intercepts_total.rate:.3f}, answer p95 {seen.to_answer.p95_s} s)")
    engine.dispose()


if __name__ == "__main__":
    main()
