"""Benchmark: intercept request → carrier's answer visible through GET and the event stream.

Runs lanjie (API + embedded worker) in one process and the sandbox carrier (answering in --ack-ms) in
another, or both in one with --shape embedded, on 127.0.0.1; drives it from this process with
--concurrency intercepts in flight over --cases cases, and prints p50/p95/p99 from the intercept
request to the carrier's answer being visible through GET (polled every --poll-ms) and through the
event stream, next to two ceilings measured in the same run: the database's durable single-row
commit rate and the server's bare ASGI endpoint rate. docs/benchmark.md has the figures.

    .venv/bin/python bench/intercept_latency.py [--cases 200] [--concurrency 10] [--ack-ms 200]
    LANJIE_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/...
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
from lanjie.sandbox.world import SandboxConfig, SandboxWorld
from lanjie.service import shops
from lanjie.settings import Settings
from lanjie.store.db import make_engine, migrate

K = {"key": "BENCHKEY", "customer": "BENCHCUSTOMER", "secret": "BENCHSECRET", "salt": "b" * 32}
ANSWERED = {"intercept.submitted", "intercept.refused"}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def summary(name: str, ms: list[float]) -> dict[str, Any]:
    row = {"name": name, "n": len(ms), "p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95), "p99_ms": pct(ms, 99),
           "max_ms": max(ms), "mean_ms": statistics.fmean(ms)}
    print(f"  {name:<34} n={row['n']:<5} p50={row['p50_ms']:7.1f}  p95={row['p95_ms']:7.1f}  "
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


async def run(args: argparse.Namespace, base: str, key: str, carrier: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=args.concurrency * 2 + 4)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30, limits=limits) as http:
        cases: list[tuple[str, str]] = []
        for i in range(args.cases):
            waybill, order = f"BZ{i:010d}", f"BO{i:06d}"
            parcel = {"carrier": "kuaidi100:zto", "waybill_no": waybill, "stage": "in_transit"}
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
        await asyncio.sleep(1.0)  # let the tracking subscriptions and first pushes settle

        sent: dict[str, float] = {}
        seen_sse: dict[str, float] = {}
        ready = asyncio.Event()

        async def listen() -> None:
            async with http.stream("GET", "/v1/events", timeout=None) as stream:
                ready.set()
                async for line in stream.aiter_lines():
                    if line.startswith("data:"):
                        ev = json.loads(line[5:])
                        if ev["type"] in ANSWERED and ev["aftersale_id"] not in seen_sse:
                            seen_sse[ev["aftersale_id"]] = time.perf_counter()
                            if len(seen_sse) == len(cases):
                                return

        listener = asyncio.create_task(listen())
        await ready.wait()
        accepted_ms: list[float] = []
        get_ms: list[float] = []
        statuses: dict[str, int] = {}
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
                        get_ms.append((time.perf_counter() - t0) * 1000)
                        statuses[status] = statuses.get(status, 0) + 1
                        return
                    await asyncio.sleep(args.poll_ms / 1000)
                raise RuntimeError(f"no answer for {case_id}")

        start = time.perf_counter()
        await asyncio.gather(*(intercept(cid) for cid, _ in cases))
        elapsed = time.perf_counter() - start
        await asyncio.wait_for(listener, timeout=30)
        sse_ms = [(seen_sse[c] - sent[c]) * 1000 for c, _ in cases]
        print(f"\n{args.shape} shape: {args.cases} cases, {args.concurrency} in flight, carrier ack {args.ack_ms} ms, "
              f"GET polled every {args.poll_ms} ms: {args.cases / elapsed:.1f} intercepts/s; answers {statuses}")
        return {"shape": args.shape, "cases": args.cases, "concurrency": args.concurrency, "ack_ms": args.ack_ms,
                "intercepts_per_s": args.cases / elapsed, "answers": statuses,
                "rows": [summary("202 Accepted", accepted_ms), summary("answer visible via GET", get_ms),
                         summary("answer visible via SSE", sse_ms)]}


def serve(port: int, url: str, ack_ms: int, carrier: str | None) -> None:
    """The system under test in its own process: API + worker, and the sandbox too when ``carrier`` is None."""
    import uvicorn

    base = f"http://127.0.0.1:{port}"
    carrier_base = carrier or base
    settings = Settings(database_url=url, public_base_url=base, kuaidi100_api_url=f"{carrier_base}/sandbox/kuaidi100",
                        kuaidi100_poll_url=f"{carrier_base}/sandbox/kuaidi100", carrier_concurrency=64,
                        worker_concurrency=64, worker_poll_seconds=0.05)
    container = bootstrap(settings, run_migrations=False)
    world = None if carrier else SandboxWorld(SandboxConfig(
        time_factor=0.0, ack_latency_ms=ack_ms,
        kuaidi100_accounts={K["key"]: {"customer": K["customer"], "secret": K["secret"]}}))
    uvicorn.run(create_app(container, run_worker=True, sandbox=world), host="127.0.0.1", port=port,
                log_level="warning", access_log=False)


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


def start_processes(url: str, ack_ms: int, shape: str) -> tuple[str, str, list[subprocess.Popen[bytes]]]:
    """Start lanjie (and, in the separate shape, the sandbox carrier) as processes; their base URLs."""
    procs = []
    carrier = None
    if shape == "separate":
        cport = _port()
        carrier = f"http://127.0.0.1:{cport}"
        env = {**os.environ, "LANJIE_SANDBOX_ACK_LATENCY_MS": str(ack_ms)}
        sandbox = subprocess.Popen([sys.executable, "-m", "lanjie.cli", "sandbox", "--port", str(cport),
                                    "--time-factor", "0"], env=env, stdout=subprocess.DEVNULL)
        procs.append(_wait_up(sandbox, f"{carrier}/sandbox/control/clock"))
        httpx.post(f"{carrier}/sandbox/control/accounts", json={
            "key": K["key"], "customer": K["customer"], "secret": K["secret"]}).raise_for_status()
    port = _port()
    cmd = [sys.executable, __file__, "--serve", str(port), "--database", url, "--ack-ms", str(ack_ms)]
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
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--carrier", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.database, args.ack_ms, args.carrier)
        return
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        url, drop = fresh_database(os.environ.get("LANJIE_DATABASE_URL"), tmp, args.keep_sqlite)
        engine = make_engine(url)
        migrate(engine)
        shop, key = shops.create_shop(engine, "bench")
        with engine.begin() as conn:
            shops.upsert_carrier_account(conn, shop.id, "kuaidi100", K)
        base, carrier, procs = start_processes(url, args.ack_ms, args.shape)
        try:
            print(f"database: {engine.dialect.name}; processes {[p.pid for p in procs]}, load from this process")
            result = asyncio.run(run(args, base, key, carrier))
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
    result |= {"database": url.split(":", 1)[0], "commit_rate_per_s": commits, "asgi_rate_per_s": rate}
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"intercept_latency_{result['database'].split('+')[0]}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
