"""Engine creation and schema migration (Alembic is the only way the schema is made)."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event

MIGRATIONS = Path(__file__).parent / "migrations"
READ_ONLY = "lanjie_read_only"
TENANT = "lanjie_shop_id"
ALL_SHOPS = "*"
_HOLDS_WRITER = "lanjie_holds_writer"


def reader(engine: Engine) -> Engine:
    """The same engine for transactions that only read (on SQLite they skip the write lock)."""
    return engine.execution_options(**{READ_ONLY: True})


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine with lanjie's durability settings (SQLite: WAL, synchronous=FULL, BEGIN IMMEDIATE)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Pooled: opening a connection and setting its pragmas costs more than most transactions.
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               pool_size=pool_size, max_overflow=2 * pool_size)
        _sqlite_durability(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    _postgres_tenancy(engine)
    return engine


def tenant(engine: Engine, shop_id: str) -> Engine:
    """The same engine, with PostgreSQL row-level security limiting every transaction to one shop."""
    return engine.execution_options(**{TENANT: shop_id})


def _postgres_tenancy(engine: Engine) -> None:
    # Row-level security is the backstop behind the explicit shop filters (migration 0002): each
    # transaction says which shop it serves. Work that is not about one shop (authentication,
    # callbacks before their token is resolved, job claiming, housekeeping, the CLI) runs as "*".
    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        shop = conn.get_execution_options().get(TENANT, ALL_SHOPS)
        conn.exec_driver_sql("SELECT set_config('lanjie.shop_id', %(shop)s, true)", {"shop": shop})


def _sqlite_durability(engine: Engine) -> None:
    # One writer at a time. Threads of this process queue on a lock instead of on SQLite's busy
    # handler, whose growing sleeps (up to 100 ms a try) turn contention into seconds of latency;
    # other processes still meet the busy timeout.
    writer = threading.Lock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        if conn.get_execution_options().get(READ_ONLY):
            # A reader in WAL mode neither waits for nor blocks the writer.
            conn.exec_driver_sql("BEGIN DEFERRED")
            return
        if not writer.acquire(timeout=30):
            raise TimeoutError("waited 30 s for the SQLite write lock")
        conn.info[_HOLDS_WRITER] = True
        try:
            # Take the write lock up front: no failed read→write upgrade mid-transaction.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            conn.info.pop(_HOLDS_WRITER)
            writer.release()
            raise

    def _end(statement: str):  # type: ignore[no-untyped-def]
        def handler(conn):  # type: ignore[no-untyped-def]
            if not conn.info.pop(_HOLDS_WRITER, False):
                return
            try:
                # End the transaction here, so the lock is released after the fsync, not before;
                # the driver's own commit/rollback that follows finds nothing left to do.
                conn.exec_driver_sql(statement)
            finally:
                writer.release()
        return handler

    event.listen(engine, "commit", _end("COMMIT"))
    event.listen(engine, "rollback", _end("ROLLBACK"))


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the database schema to the newest migration."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
