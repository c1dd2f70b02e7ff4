"""The ``lanjie`` command: demo, serve, worker, sandbox, shop and job administration."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine

from lanjie import __version__
from lanjie.domain.states import SettlementPolicy
from lanjie.settings import Settings


def _serve(app: object, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)  # type: ignore[arg-type]


@contextlib.contextmanager
def _database(*, migrated: bool = True) -> Iterator[Engine]:
    """The configured database, migrated, disposed of when the command is done."""
    from lanjie.store.db import make_engine, migrate

    engine = make_engine(Settings().resolved_database_url())
    try:
        if migrated:
            migrate(engine)
        yield engine
    finally:
        engine.dispose()


def cmd_demo(args: argparse.Namespace) -> int:
    from lanjie.demo import run_demo

    return run_demo(args.host, args.port, buyers_per_minute=args.buyers_per_minute)


def cmd_serve(args: argparse.Namespace) -> int:
    from lanjie.api.app import create_app
    from lanjie.bootstrap import bootstrap

    container = bootstrap(Settings())
    print(f"lanjie API on http://{args.host}:{args.port} (OpenAPI at /docs)", flush=True)
    _serve(create_app(container, run_worker=not args.no_worker), args.host, args.port)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from lanjie.bootstrap import bootstrap
    from lanjie.service.housekeeping import run_housekeeping

    container = bootstrap(Settings())
    worker = container.make_worker()
    print(f"lanjie worker {worker.worker_id} on {container.engine.url.render_as_string()}", flush=True)

    async def main() -> None:
        # SIGTERM or Ctrl-C: stop claiming, let running jobs finish (their grace period), then exit.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await asyncio.gather(worker.run(stop), run_housekeeping(container.engine, stop),
                                 container.webhooks.run(stop))
        finally:
            await container.aclose()

    asyncio.run(main())
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    from lanjie.sandbox.app import create_standalone_app
    from lanjie.sandbox.world import SandboxConfig

    settings = Settings()
    time_factor = settings.sandbox_time_factor if args.time_factor is None else args.time_factor
    config = SandboxConfig(time_factor=time_factor, propagation_seconds=settings.sandbox_propagation_seconds,
                           ack_latency_ms=settings.sandbox_ack_latency_ms)
    print(f"lanjie sandbox on http://{args.host}:{args.port}/sandbox (Kuaidi100 twin at /sandbox/kuaidi100, "
          f"control API at /sandbox/control)", flush=True)
    _serve(create_standalone_app(config), args.host, args.port)
    return 0


def cmd_shop_create(args: argparse.Namespace) -> int:
    from lanjie.service.shops import create_shop

    with _database() as engine:
        shop, key = create_shop(engine, args.name, SettlementPolicy(args.policy))
    if args.json:
        print(json.dumps({"shop_id": shop.id, "api_key": key}))
    else:
        print(f"shop_id: {shop.id}\napi_key: {key}\n(the key is shown once; lanjie stores only its hash)")
    return 0


def cmd_user_create(args: argparse.Namespace) -> int:
    import getpass
    import secrets

    from lanjie.service.console_users import UserError, create_user
    from lanjie.service.shops import get_shop

    if args.generate_password:
        password = secrets.token_urlsafe(12)
    elif sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("error: the two passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    with _database() as engine:
        with engine.connect() as conn:
            if get_shop(conn, args.shop_id) is None:
                print(f"error: no shop {args.shop_id!r}", file=sys.stderr)
                return 2
        try:
            user = create_user(engine, args.shop_id, args.login, password, args.role, args.name)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(f"user_id: {user.id}\nlogin: {user.login}\nrole: {user.role.value}")
    if args.generate_password:
        print(f"password: {password}\n(shown once; lanjie stores only its scrypt hash)")
    return 0


def cmd_carrier_account(args: argparse.Namespace) -> int:
    from lanjie.carriers.registry import credential_problem, load_carriers
    from lanjie.service.shops import get_shop, upsert_carrier_account

    plugins = load_carriers()
    if args.carrier not in plugins:
        print(f"error: unknown carrier {args.carrier!r}; installed: {', '.join(sorted(plugins))}", file=sys.stderr)
        return 2
    creds: dict[str, str] = {}
    if args.credentials_json:
        text = sys.stdin.read() if args.credentials_json == "-" else Path(args.credentials_json).read_text()
        try:
            loaded = json.loads(text)
        except ValueError as exc:
            print(f"error: --credentials-json is not JSON: {exc}", file=sys.stderr)
            return 2
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            print("error: --credentials-json must be a JSON object of strings", file=sys.stderr)
            return 2
        creds.update(loaded)
    for item in args.set or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            print(f"error: --set takes NAME=VALUE, not {item!r}", file=sys.stderr)
            return 2
        creds[name] = value
    problem = credential_problem(plugins[args.carrier], creds)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    with _database() as engine, engine.begin() as conn:
        if get_shop(conn, args.shop_id) is None:
            print(f"error: no shop {args.shop_id!r}", file=sys.stderr)
            return 2
        record = upsert_carrier_account(conn, args.shop_id, args.carrier, creds)
    base = Settings().public_base_url.rstrip("/")
    print(f"carrier account {record.id} set ({', '.join(sorted(creds))}; values are never printed); callback URL: "
          f"{base}/v1/carriers/{record.carrier}/callbacks/{record.callback_token}")
    return 0


def cmd_carriers(args: argparse.Namespace) -> int:
    from lanjie.carriers import matrix
    from lanjie.carriers.registry import capability_table

    infos = capability_table()
    if args.json:
        print(json.dumps([matrix.as_dict(info) for info in infos], ensure_ascii=False, indent=2))
    elif args.markdown:
        print(matrix.markdown(infos), end="")
    else:
        width = max(len(info.name) for info in infos)
        for info in infos:
            row = matrix.as_dict(info)
            couriers = "any courier" if row["couriers"] is None else ", ".join(row["couriers"])
            print(f"{info.name:<{width}}  {info.title}  [{couriers}]")
            print(f"{'':<{width}}  intercept: {row['intercept']}"
                  + (f" ({', '.join(row['intercept_types'])})" if row["intercept_types"] else ""))
            print(f"{'':<{width}}  can: {', '.join(row['capabilities']) or '-'}")
            optional = "".join(f", {name} (optional)" for name in row["optional_credential_names"])
            print(f"{'':<{width}}  credentials: {', '.join(row['credential_names'])}{optional}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    with _database():
        print("database is at the newest migration")
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    from lanjie.service import dead_jobs
    from lanjie.store import job_listing

    with _database(migrated=False) as engine:
        if args.retry is not None:
            ok = dead_jobs.retry(engine, args.retry)  # also takes the job_dead flag off its cases
            print("requeued" if ok else "no dead job with that id")
            return 0 if ok else 1
        print(json.dumps(job_listing.stats(engine)))
        for job in job_listing.list_jobs(engine, status=args.status, limit=args.limit):
            print(json.dumps(job, default=str, ensure_ascii=False))
    return 0


def cmd_import_cases(args: argparse.Namespace) -> int:
    from lanjie.domain.errors import NotFound
    from lanjie.service.csv_import import FileRefused, Platform, import_file, result_csv

    source = Path(args.file)
    target = Path(args.result) if args.result else source.with_name(f"{source.stem}.result.csv")
    try:
        data = source.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {source}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        with _database() as engine:
            report = import_file(engine, args.shop, data, platform=Platform(args.platform) if args.platform else None)
    except FileRefused as refused:
        print(f"error: {refused.detail} (nothing was imported)", file=sys.stderr)
        return 2
    except NotFound:
        print(f"error: no shop {args.shop!r}", file=sys.stderr)
        return 2
    target.write_bytes(result_csv(report.rows))
    summary = report.summary
    print(f"{summary['rows']} rows: {summary['created']} created, {summary['exists']} already there, "
          f"{summary['failed']} failed")
    if summary["ignored_columns"]:
        print(f"ignored columns: {', '.join(summary['ignored_columns'])}")
    for row in report.rows:
        if row["status"] == "failed":
            print(f"line {row['row']} ({row['aftersale_id'] or 'no aftersale_id'}): {row['error']} [{row['field']}]")
    print(f"result file: {target}")
    return 0 if report.all_handled else 1


def cmd_receive(args: argparse.Namespace) -> int:
    """Warehouse receiving from a terminal or a scanner script: exit 0 received, 1 refused, 2 bad input."""
    from lanjie.domain.errors import DomainError
    from lanjie.domain.returns import ReceivedItem
    from lanjie.domain.states import Inspection
    from lanjie.service import returns
    from lanjie.service.ids import utcnow
    from lanjie.service.shops import get_shop
    from lanjie.service.unit_of_work import UnitOfWork

    counts: dict[str, int] = {}
    for given in args.item or []:
        sku, sep, received = (part.strip() for part in given.partition("="))
        if not sep or not sku or not received.isdigit() or sku in counts:
            print(f"error: --item takes SKU=RECEIVED once per sku (a count of 0 or more), not {given!r}",
                  file=sys.stderr)
            return 2
        counts[sku] = int(received)
    if args.damaged_value_fen is not None and (args.inspection != "damaged" or args.damaged_value_fen <= 0):
        print("error: --damaged-value-fen is a positive amount, for --inspection damaged only", file=sys.stderr)
        return 2
    photos: list[tuple[Path, bytes]] = []
    for name in args.photo or []:
        try:
            photos.append((Path(name), Path(name).read_bytes()))
        except OSError as exc:
            print(f"error: cannot read {name}: {exc.strerror}", file=sys.stderr)
            return 2
    settings = Settings()
    with _database() as engine:
        with engine.connect() as conn:
            shop = get_shop(conn, args.shop)
        if shop is None:
            print(f"error: no shop {args.shop!r}", file=sys.stderr)
            return 2
        if (photo_ids := _save_photos(engine, settings, args.shop, photos)) is None:
            return 2
        with UnitOfWork(engine, utcnow()) as uow:
            try:
                # The expected counts are the parcel's own; the service fills them in.
                done = returns.receive(uow, args.shop, waybill_no=args.waybill, inspection=Inspection(args.inspection),
                                       items=[ReceivedItem(sku, 0, n) for sku, n in counts.items()],
                                       photos=photo_ids, note=args.note, damaged_value_fen=args.damaged_value_fen,
                                       settings=settings)
            except DomainError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            extra = [i.sku for i in done.leg.items if i.received > i.expected]
            if extra:  # left uncommitted: nothing is received
                print(f"error: more received than shipped: {', '.join(extra)}", file=sys.stderr)
                return 1
            uow.commit()
    leg, case = done.leg, done.case
    print(f"received {leg.waybill_no} ({leg.inspection}): "
          + ", ".join(f"{i.sku} {i.received}/{i.expected}" for i in leg.items))
    print(f"case {case.id}: {case.status}" + (f" ({case.resolution})" if case.resolution else ""))
    if done.claim_id:
        print(f"claim {done.claim_id} drafted")
    return 0


def _save_photos(engine: Engine, settings: Settings, shop: str, photos: list[tuple[Path, bytes]]) -> list[str] | None:
    """Store the photos as the shop's evidence files: their ids, or None (said why) when one is refused."""
    if not photos:
        return []
    from lanjie.files import DEFAULT_MAX_BYTES, FileRejected, save, store_from_settings
    from lanjie.service.ids import utcnow

    store, ids = store_from_settings(settings), []
    for path, data in photos:
        try:
            stored, _ = save(engine, store, shop_id=shop, data=data, now=utcnow(), name=path.name,
                             max_bytes=getattr(settings, "file_max_bytes", DEFAULT_MAX_BYTES))
        except FileRejected as exc:
            print(f"error: {path}: {exc} (nothing was received)", file=sys.stderr)
            return None
        ids.append(stored.id)
    return ids


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lanjie", description="lanjie (拦截): intercept shipped parcels on refund, settle the refund, "
        "follow the return. Configuration comes from LANJIE_* environment variables "
        "(LANJIE_DATABASE_URL, LANJIE_PUBLIC_BASE_URL, LANJIE_KUAIDI100_API_URL, …).")
    parser.add_argument("--version", action="version", version=f"lanjie {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="API + console + worker + sandbox carriers on SQLite, with a demo shop")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--buyers-per-minute", type=float, default=6.0, help="simulated refund-only requests per minute")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="the API (and, unless --no-worker, the job worker in the same process)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-worker", action="store_true", help="run workers separately with `lanjie worker`")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="a job worker on its own; run as many as you like")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("sandbox", help="the simulated carrier world alone (every carrier's protocol twin)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8100)
    p.add_argument("--time-factor", type=float, default=None,
                   help="simulated seconds per real second (0 = manual; default LANJIE_SANDBOX_TIME_FACTOR, 60)")
    p.set_defaults(func=cmd_sandbox)

    shop = sub.add_parser("shop", help="manage shops").add_subparsers(dest="shop_command", required=True)
    p = shop.add_parser("create", help="create a shop and print its id and API key (shown once)")
    p.add_argument("name")
    p.add_argument("--policy", choices=[p.value for p in SettlementPolicy], default="on_turned_back",
                   help="when refunds of intercepted cases are approved (default on_turned_back)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_shop_create)

    user = sub.add_parser("user", help="manage console users").add_subparsers(dest="user_command", required=True)
    p = user.add_parser("create", help="add a console user to a shop (owner, agent or warehouse)",
                        description="Add a person who signs in to /console. The password is asked twice at a "
                                    "terminal, read from the first line of stdin otherwise, or generated and "
                                    "printed once with --generate-password.")
    p.add_argument("shop_id")
    p.add_argument("login", help="what they type to sign in (unique across shops), e.g. an e-mail address")
    p.add_argument("--role", choices=["owner", "agent", "warehouse"], required=True)
    p.add_argument("--name", default="", help="the name the console shows")
    p.add_argument("--generate-password", action="store_true")
    p.set_defaults(func=cmd_user_create)

    p = sub.add_parser("carrier-account", help="set a shop's carrier credentials (never printed back)",
                       description="Set a shop's credentials for a carrier plugin. `lanjie carriers` lists each "
                                   "plugin's credential names. Prefer --credentials-json - (stdin) so secrets "
                                   "stay out of the shell history.")
    p.add_argument("shop_id")
    p.add_argument("carrier", help="plugin name, e.g. kuaidi100, sf, ups (see `lanjie carriers`)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="one credential (repeatable)")
    p.add_argument("--credentials-json", metavar="FILE", help="a JSON object of credentials; '-' reads stdin")
    p.set_defaults(func=cmd_carrier_account)

    p = sub.add_parser("carriers", help="the installed carrier plugins and what each can do")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="for machines")
    form.add_argument("--markdown", action="store_true", help="the capability matrix of docs/carriers.md")
    p.set_defaults(func=cmd_carriers)

    p = sub.add_parser("import-cases", help="open a case per row of an after-sales CSV export (PDD, Kuaishou, WeChat)",
                       description="Import after-sales from a spreadsheet export (CSV, UTF-8 or GBK, header row "
                                   "required; see docs/channels.md for the columns). Each row is imported on its "
                                   "own: a bad row writes nothing, a row already imported is reported as already "
                                   "there. Writes a result file (one line per row) and exits 0 when every row "
                                   "was handled, 1 when any row failed, 2 when the file was refused as a whole.")
    p.add_argument("file", help="the CSV file")
    p.add_argument("--shop", required=True, metavar="SHOP_ID")
    p.add_argument("--platform", choices=["pdd", "kuaishou", "wechat", "other"],
                   help="the platform of rows whose platform column is empty or missing")
    p.add_argument("--result", metavar="OUT.csv", help="where to write the result file (default FILE.result.csv "
                                                      "beside the input)")
    p.set_defaults(func=cmd_import_cases)

    p = sub.add_parser("receive", help="the warehouse received a returned parcel: record its inspection",
                       description="Record that the warehouse scanned a returned parcel in (by its forward waybill or "
                                   "the return's own number) and what it found. A damaged or short parcel drafts "
                                   "a claim; a case is settled when its shop's policy is on_received. Exits 0 when "
                                   "received, 1 when refused (unknown number, received already, counts that "
                                   "contradict the inspection), 2 on bad input.")
    p.add_argument("waybill", help="the number scanned off the parcel")
    p.add_argument("--shop", required=True, metavar="SHOP_ID")
    p.add_argument("--inspection", choices=["ok", "damaged", "short"], default="ok", help="default ok")
    p.add_argument("--item", action="append", metavar="SKU=RECEIVED",
                   help="how many of a sku came back (repeatable); skus not named came back whole")
    p.add_argument("--photo", action="append", metavar="FILE", help="a photo (JPEG, PNG, WebP) or PDF, stored as "
                                                                    "evidence (repeatable)")
    p.add_argument("--note", default="", help="what the warehouse noticed")
    p.add_argument("--damaged-value-fen", type=int, metavar="FEN",
                   help="damaged only: the value of what is damaged (default: the goods' whole value)")
    p.set_defaults(func=cmd_receive)

    p = sub.add_parser("migrate", help="bring the database schema up to date")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("jobs", help="job queue counts and jobs; --retry ID requeues a dead job")
    p.add_argument("--status", choices=["queued", "running", "succeeded", "dead"])
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--retry", type=int, metavar="JOB_ID",
                   help="requeue a dead job with fresh attempts and clear its cases' job_dead flag")
    p.set_defaults(func=cmd_jobs)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "alembic"):  # one line per HTTP request / migration plugin is noise here
        logging.getLogger(chatty).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
