"""Shared fixtures: every test that touches a database gets a fresh, migrated one.

``LANJIE_TEST_DATABASE`` picks the database: ``sqlite`` (default) or a PostgreSQL URL. On
PostgreSQL the run creates its own database, migrates it as the given (admin) user, and runs every
test as ``lanjie_app`` — an ordinary role, as production should, so row-level security applies to
the whole suite. Tables are emptied between tests.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from lanjie.store.db import make_engine, migrate
from lanjie.store.tables import metadata

TEST_DATABASE = os.environ.get("LANJIE_TEST_DATABASE", "sqlite")
ON_POSTGRES = TEST_DATABASE.startswith("postgresql")


APP_ROLE = "lanjie_app"


@pytest.fixture(scope="session")
def _postgres_urls() -> Iterator[tuple[str, str]]:
    """(admin URL, application-role URL) of this run's own PostgreSQL database."""
    import psycopg

    name = f"lanjie_test_{uuid.uuid4().hex[:10]}"
    admin = TEST_DATABASE.rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{TEST_DATABASE.rsplit('/', 1)[0]}/{name}"
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(text(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') "
                          f"THEN CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$"))
        conn.execute(text(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {APP_ROLE}"))
        conn.execute(text(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}"))
    engine.dispose()
    user = url.split("://", 1)[1].split("@", 1)[0]
    yield url, url.replace(f"://{user}@", f"://{APP_ROLE}@", 1)
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty, migrated database for this test."""
    if ON_POSTGRES:
        url, app_url = request.getfixturevalue("_postgres_urls")
        engine = make_engine(url)
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables if t.name != "alembic_version")
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        engine.dispose()
        yield app_url
    else:
        template = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "lanjie.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()
