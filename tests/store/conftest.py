"""Fixtures for the store tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from lanjie.store.db import make_engine, migrate


# TODO(lead): delete once tests/conftest.py's template is fixed. There, `conn.exec_driver_sql("PRAGMA
# wal_checkpoint(TRUNCATE)")` runs inside the BEGIN IMMEDIATE the engine opens for every transaction,
# and SQLite refuses it ("database table is locked"). A raw DBAPI connection checkpoints outside one.
@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    raw = engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    engine.dispose()
    return path
