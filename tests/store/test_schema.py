"""The schema comes from migrations only, and SQLite runs with the durability settings DESIGN.md asks for."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lanjie.settings import Settings
from lanjie.store.db import make_engine, migrate, reader
from lanjie.store.tables import metadata
from tests.conftest import ON_POSTGRES


def test_migrations_build_exactly_the_schema_the_code_declares(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    assert diff == []
    assert version == "0007"


def test_migrating_twice_changes_nothing(engine: sa.Engine) -> None:
    migrate(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite pragmas")
def test_sqlite_runs_in_wal_with_full_sync_and_foreign_keys(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        pragmas = [conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in ("journal_mode", "synchronous",
                                                                              "foreign_keys", "busy_timeout")]
    assert pragmas == ["wal", 2, 1, 30000]  # synchronous 2 = FULL


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite locking")
def test_a_reader_does_not_wait_for_a_writer(engine: sa.Engine) -> None:
    with engine.begin() as writer:
        writer.execute(sa.text("INSERT INTO shops (id, name, settlement_policy, timezone, created_at, updated_at) "
                               "VALUES ('s1', 'n', 'on_accept', 'UTC', '2026-01-01', '2026-01-01')"))
        with reader(engine).connect() as conn:  # would deadlock on this thread if it took the write lock
            assert conn.execute(sa.text("SELECT count(*) FROM shops")).scalar_one() == 0


def test_default_database_is_a_sqlite_file_in_the_data_folder(tmp_path: Path) -> None:
    url = Settings(data_dir=tmp_path / "data", database_url="").resolved_database_url()
    assert url == f"sqlite:///{(tmp_path / 'data' / 'lanjie.db').resolve()}"
    engine = make_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    assert (tmp_path / "data" / "lanjie.db").is_file()
