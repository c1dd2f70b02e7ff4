"""Benchmark: intercept request → carrier's answer visible through GET and the event stream.

Runs lanjie (API + embedded worker, with the shipped worker and carrier concurrency unless told
otherwise) in one process and the sandbox carrier (answering in --ack-ms) in another, or both in one
with --shape embedded, on 127.0.0.1; drives it from this process with --concurrency intercepts in
flight over --cases cases, --refused-share of them on parcels already delivered (the carrier refuses
those, with its reason), and prints nearest-rank p50/p95/p99 from the intercept request to the
carrier's answer being visible through GET (polled every --poll-ms) and through the event stream,
overall and for accepted and refused answers apart, next to two ceilings measured in the same run:
the database's durable single-row commit rate and the server's bare ASGI endpoint rate. It prints
the configuration it ran with and writes it with the figures to --out. docs/benchmark.md has the
figures.

    .venv/bin/python bench/intercept_latency.py [--cases 200] [--concurrency 10] [--ack-ms 200]
    LANJIE_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from lanjie.api.app import create_app
from lanjie.bootstrap import bootstrap
from lanjie.embedded import free_socket
from lanjie.sandbox.app import create_standalone_app
from lanjie.sandbox.world import SandboxConfig, SandboxWorld
from lanjie.service import shops
from lanjie.settings import Settings
from lanjie.store.db import make_engine, migrate

K = {"key": "BENCHKEY", "customer": "BENCHCUSTOMER", "secret": "BENCHSECRET", "salt": "b" * 32}
ANSWERED = {"intercept.submitted": "submitted", "intercept.refused": "refused"}
#: The shipped settings the system under test runs with unless a flag says otherwise.
SHIPPED = {name: Settings.model_fields[name].default
           for name in ("worker_concurrency", "carrier_concurrency", "worker_poll_seconds")}
#: The sandbox's first tracking push after a subscription, in sim seconds: never during a run (the clock
#: stands still). lanjie must not have heard that a parcel was delivered, or it refuses the intercept
#: itself (409) before asking the carrier — and the carrier's refusal is what is timed here.
FIRST_PUSH_SECONDS = 30 * 24 * 3600.0


def pct(values: list[float], p: float) -> float:
    """The nearest-rank percentile: the smallest value with at least p% of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def delivered(i: int, share: float) -> bool:
    """Whether case ``i`` is staged on a parcel already delivered: ``share`` of the cases, spread evenly."""
    return math.floor((i + 1) * share) > math.floor(i * share)


def summary(name: str, ms: list[float]) -> dict[str, Any]:
    if not ms:
        print(f"  {name:<36} n=0")
        return {"name": name, "n": 0}
    row = {"name": name, "n": len(ms), "p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95), "p99_ms": pct(ms, 99),
           "max_ms": max(ms), "mean_ms": statistics.fmean(ms)}
    print(f"  {name:<36} n={row['n']:<5} p50={row['p50_ms']:7.1f}  p95={row['p95_ms']:7.1f}  "
          f"p99={row['p99_ms']:7.1f}  max={row['max_ms']:7.1f} ms")
    return row


def fresh_database(url: str | None, tmp: Path, keep: str | None = None) -> tuple[str, Any]:
    if keep:
        Path(keep).unlink(missing_ok=True)
        return f"sqlite:///{Path(keep).resolve()}", None
    if not url:
        return f"sqlite:///{tmp / 'bench.db'}", None
    import psycopg

    name = f"lanjie_bench_{uuid.uuid4().hex[:8]}"
    admin = url.rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return f"{url.rsplit('/', 1)[0]}/{name}", drop


def commit_rate(engine: sa.Engine, n: int = 500) -> float:
    """Durable single-row commits per second with lanjie's own engine settings."""
    table = sa.Table("bench_commit", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("v", sa.String(40)))
    table.create(engine, checkfirst=True)
    start = time.perf_counter()
    for i in range(n):
        with engine.begin() as conn:
            conn.execute(table.insert().values(v=f"row-{i}"))
    rate = n / (time.perf_counter() - start)
    table.drop(engine)
    return rate


async def asgi_rate(base: str, concurrency: int, n: int = 2000) -> float:
    """Requests per second of a bare endpoint (/healthz) over the same HTTP stack and concurrency."""
    async with httpx.AsyncClient(base_url=base, limits=httpx.Limits(max_connections=concurrency)) as http:
        sem = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with sem:
                (await http.get("/healthz")).raise_for_status()
        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - start)


async def jobs_settled(engine: sa.Engine, limit_s: float = 180.0) -> float:
    """Wait until the set-up's own jobs (the parcels' tracking subscriptions) are done; seconds it took.

    Measuring while they still run would time the intercepts behind them in the carrier's concurrency
    limit: with 200 parcels and a 200 ms carrier that is seconds, and it is set-up, not the intercept."""
    started = time.perf_counter()
    pending = sa.select(sa.func.count()).select_from(sa.table("jobs", sa.column("status"))).where(
        sa.column("status").in_(["queued", "running"]))
    while True:
        with engine.connect() as conn:
            if not conn.execute(pending).scalar_one():
                return time.perf_counter() - started
        if time.perf_counter() - started > limit_s:
            raise SystemExit(f"set-up jobs still pending after {limit_s:.0f} s")
        await asyncio.sleep(0.2)


async def run(args: argparse.Namespace, base: str, key: str, carrier: str, engine: sa.Engine) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=args.concurrency * 2 + 4)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30, limits=limits) as http:
        cases: list[tuple[str, str]] = []
        expected: dict[str, str] = {}  # case id → the answer its parcel's stage calls for
        for i in range(args.cases):
            waybill, order = f"BZ{i:010d}", f"BO{i:06d}"
            stage = "delivered" if delivered(i, args.refused_share) else "in_transit"
            parcel = {"carrier": "kuaidi100:zto", "waybill_no": waybill, "stage": stage}
            (await http.post(f"{carrier}/sandbox/control/parcels", json=parcel)).raise_for_status()
            (await http.post("/v1/shipments", headers={"Idempotency-Key": f"bench-ship-{uuid.uuid4()}"}, json={
                "carrier": "kuaidi100:zto", "waybill_no": waybill, "order_id": order,
                "items": [{"sku": "S", "name": "n", "qty": 1, "price_fen": 1000}], "value_fen": 1000,
                "freight_fen": 500, "sender": {"name": "s", "phone": "02100000000", "address": "a"},
                "recipient": {"name": "r", "phone": "13800000000", "address": "b"}})).raise_for_status()
            r = await http.post("/v1/aftersales", headers={"Idempotency-Key": f"bench-case-{uuid.uuid4()}"}, json={
                "order_id": order, "type": "refund_only_shipped", "refund_fen": 1000, "waybill_nos": [waybill]})
            r.raise_for_status()
            cases.append((r.json()["id"], waybill))
            expected[r.json()["id"]] = "refused" if stage == "delivered" else "submitted"
        print(f"set-up: {args.cases} parcels and cases registered; their tracking subscriptions took "
              f"{await jobs_settled(engine):.1f} s more")

        sent: dict[str, float] = {}
        seen_sse: dict[str, tuple[float, str]] = {}
        ready = asyncio.Event()

        async def listen() -> None:
            async with http.stream("GET", "/v1/events", timeout=None) as stream:
                ready.set()
                async for line in stream.aiter_lines():
                    if line.startswith("data:"):
                        ev = json.loads(line[5:])
                        if ev["type"] in ANSWERED and ev["aftersale_id"] not in seen_sse:
                            seen_sse[ev["aftersale_id"]] = (time.perf_counter(), ANSWERED[ev["type"]])
                            if len(seen_sse) == len(cases):
                                return

        listener = asyncio.create_task(listen())
        await ready.wait()
        accepted_ms: list[float] = []
        get_ms: dict[str, float] = {}
        answers: dict[str, int] = {}  # "submitted", or "refused: <reason>"
        sem = asyncio.Semaphore(args.concurrency)

        async def intercept(case_id: str) -> None:
            async with sem:
                t0 = time.perf_counter()
                sent[case_id] = t0
                r = await http.post(f"/v1/aftersales/{case_id}/intercepts", json={"type": "return_to_sender"},
                                    headers={"Idempotency-Key": f"bench-icp-{uuid.uuid4()}"})
                accepted_ms.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 202, r.text
                for _ in range(1000):
                    c = (await http.get(f"/v1/aftersales/{case_id}")).json()
                    status = c["intercepts"][0]["status"]
                    if status in ("submitted", "refused"):
                        get_ms[case_id] = (time.perf_counter() - t0) * 1000
                        if status != expected[case_id]:
                            raise RuntimeError(f"{case_id}: {status}, expected {expected[case_id]}")
                        answer = f"refused: {c['intercepts'][0]['reason']}" if status == "refused" else status
                        answers[answer] = answers.get(answer, 0) + 1
                        return
                    await asyncio.sleep(args.poll_ms / 1000)
                raise RuntimeError(f"no answer for {case_id}")

        start = time.perf_counter()
        await asyncio.gather(*(intercept(cid) for cid, _ in cases))
        elapsed = time.perf_counter() - start
        await asyncio.wait_for(listener, timeout=30)
        sse_ms = {c: (seen_sse[c][0] - sent[c]) * 1000 for c, _ in cases}
        if any(seen_sse[c][1] != expected[c] for c, _ in cases):
            raise RuntimeError("an event stream answer differs from the one its parcel's stage calls for")
        print(f"\n{args.shape} shape: {args.cases} cases, {args.concurrency} in flight, carrier ack {args.ack_ms} ms, "
              f"GET polled every {args.poll_ms} ms: {args.cases / elapsed:.1f} intercepts/s; answers {answers}")

        def rows(name: str, ms: dict[str, float]) -> list[dict[str, Any]]:
            return [summary(name, list(ms.values()))] + [
                summary(f"{name}: {label}", [v for c, v in ms.items() if expected[c] == kind])
                for kind, label in (("submitted", "accepted"), ("refused", "refused"))]

        return {"cases": args.cases, "concurrency": args.concurrency, "intercepts_per_s": args.cases / elapsed,
                "answers": answers, "rows": [summary("202 Accepted", accepted_ms),
                                             *rows("answer visible via GET", get_ms),
                                             *rows("answer visible via SSE", sse_ms)]}


def sandbox_config(ack_ms: int) -> SandboxConfig:
    return SandboxConfig(time_factor=0.0, ack_latency_ms=ack_ms, first_push_seconds=FIRST_PUSH_SECONDS,
                         kuaidi100_accounts={K["key"]: {"customer": K["customer"], "secret": K["secret"]}})


def serve(port: int, url: str, ack_ms: int, carrier: str | None, tuning: dict[str, Any]) -> None:
    """The system under test in its own process: API + worker, and the sandbox too when ``carrier`` is None."""
    import uvicorn

    base = f"http://127.0.0.1:{port}"
    carrier_base = carrier or base
    settings = Settings(database_url=url, public_base_url=base, kuaidi100_api_url=f"{carrier_base}/sandbox/kuaidi100",
                        kuaidi100_poll_url=f"{carrier_base}/sandbox/kuaidi100", **tuning)
    container = bootstrap(settings, run_migrations=False)
    world = None if carrier else SandboxWorld(sandbox_config(ack_ms))
    uvicorn.run(create_app(container, run_worker=True, sandbox=world), host="127.0.0.1", port=port,
                log_level="warning", access_log=False)


def serve_sandbox(port: int, ack_ms: int) -> None:
    """The sandbox carrier alone in its own process (the separate shape), as a real carrier is remote."""
    import uvicorn

    uvicorn.run(create_standalone_app(sandbox_config(ack_ms)), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)


def _wait_up(proc: subprocess.Popen[bytes], url: str) -> subprocess.Popen[bytes]:
    for _ in range(300):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{url} did not come up")


def _port() -> int:
    sock = free_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def start_processes(url: str, args: argparse.Namespace) -> tuple[str, str, list[subprocess.Popen[bytes]]]:
    """Start lanjie (and, in the separate shape, the sandbox carrier) as processes; their base URLs."""
    procs = []
    carrier = None
    if args.shape == "separate":
        cport = _port()
        carrier = f"http://127.0.0.1:{cport}"
        sandbox = subprocess.Popen([sys.executable, __file__, "--serve-sandbox", str(cport), "--ack-ms",
                                    str(args.ack_ms)], stdout=subprocess.DEVNULL)
        procs.append(_wait_up(sandbox, f"{carrier}/sandbox/control/clock"))
    port = _port()
    cmd = [sys.executable, __file__, "--serve", str(port), "--database", url, "--ack-ms", str(args.ack_ms),
           "--worker-concurrency", str(args.worker_concurrency), "--carrier-concurrency",
           str(args.carrier_concurrency), "--worker-poll-seconds", str(args.worker_poll_seconds)]
    if carrier:
        cmd += ["--carrier", carrier]
    base = f"http://127.0.0.1:{port}"
    procs.append(_wait_up(subprocess.Popen(cmd), f"{base}/healthz"))
    return base, carrier or base, procs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--ack-ms", type=int, default=200)
    parser.add_argument("--poll-ms", type=int, default=100)
    parser.add_argument("--keep-sqlite", metavar="FILE", help="use (and keep) this SQLite file for inspection")
    parser.add_argument("--shape", choices=["separate", "embedded"], default="separate",
                        help="separate: the sandbox carrier in its own process, as a real carrier is remote "
                             "(default); embedded: in lanjie's process, as in `lanjie demo`")
    parser.add_argument("--refused-share", type=float, default=0.10,
                        help="share of the cases staged on a parcel already delivered, which the carrier refuses")
    parser.add_argument("--worker-concurrency", type=int, default=SHIPPED["worker_concurrency"],
                        help="jobs the worker runs at once (default: the shipped LANJIE_WORKER_CONCURRENCY)")
    parser.add_argument("--carrier-concurrency", type=int, default=SHIPPED["carrier_concurrency"],
                        help="carrier calls in flight per carrier (default: the shipped LANJIE_CARRIER_CONCURRENCY;"
                             " every benchmark parcel is ZTO through Kuaidi100, so this caps the carrier calls)")
    parser.add_argument("--worker-poll-seconds", type=float, default=SHIPPED["worker_poll_seconds"],
                        help="the worker's idle poll interval (default: the shipped LANJIE_WORKER_POLL_SECONDS)")
    parser.add_argument("--out", type=Path, help="where to write the results as JSON (default: "
                        "bench/results/intercept_latency_<database>.json; bench/results/ is git-ignored)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-sandbox", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--carrier", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 0.0 <= args.refused_share < 1.0:
        parser.error("--refused-share: from 0 up to (not including) 1")
    tuning = {"worker_concurrency": args.worker_concurrency, "carrier_concurrency": args.carrier_concurrency,
              "worker_poll_seconds": args.worker_poll_seconds}
    if args.serve:
        serve(args.serve, args.database, args.ack_ms, args.carrier, tuning)
        return
    if args.serve_sandbox:
        serve_sandbox(args.serve_sandbox, args.ack_ms)
        return
    config = {"shape": args.shape, "ack_ms": args.ack_ms, "poll_ms": args.poll_ms,
              "refused_share": args.refused_share, **tuning,
              "shipped_defaults": all(tuning[name] == SHIPPED[name] for name in SHIPPED)}
    print("configuration: " + ", ".join(f"{name}={value}" for name, value in config.items()))
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        url, drop = fresh_database(os.environ.get("LANJIE_DATABASE_URL"), tmp, args.keep_sqlite)
        engine = make_engine(url)
        migrate(engine)
        shop, key = shops.create_shop(engine, "bench")
        with engine.begin() as conn:
            shops.upsert_carrier_account(conn, shop.id, "kuaidi100", K)
        base, carrier, procs = start_processes(url, args)
        try:
            print(f"database: {engine.dialect.name}; processes {[p.pid for p in procs]}, load from this process")
            result = asyncio.run(run(args, base, key, carrier, engine))
            rate = asyncio.run(asgi_rate(base, args.concurrency))
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=30)
        commits = commit_rate(engine)
        engine.dispose()
        if drop:
            drop()
    print(f"\nceilings measured in the same run:\n  durable single-row commits: {commits:8.0f} /s"
          f"\n  bare ASGI endpoint (/healthz): {rate:8.0f} req/s")
    result = {"config": config, "database": url.split(":", 1)[0], **result, "commit_rate_per_s": commits,
              "asgi_rate_per_s": rate}
    out = args.out or Path(__file__).parent / "results" / f"intercept_latency_{result['database'].split('+')[0]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
