"""Shared fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``TEST_DATABASE_URL`` (contract §2.3). Each test run creates its own
throwaway database there and drops it at the end; an unreachable server fails the tests, it
never skips them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import URL

from daemon.config import DEFAULT_TEST_DATABASE_URL, normalise_database_url
from daemon.store import Database, SecretBox, Store
from daemon.store.migrate import upgrade
from daemon.store.models import Base

TEST_KEY = "test-encryption-key-0123456789-abcdefghij"
DIALECTS = ("sqlite", "postgresql")


def _server_url() -> URL:
    return make_url(
        normalise_database_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL))
    )


@pytest.fixture(scope="session")
def postgres_template_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test run, migrated once."""
    server = _server_url()
    name = f"pims_sync_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL at {server.render_as_string(hide_password=True)} is unreachable "
            f"({type(exc).__name__}); set TEST_DATABASE_URL or start the server",
            pytrace=False,
        )
    url = server.set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    upgrade(db.engine)
    db.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    db.dispose()  # the last connection's close checkpoints the WAL into the file we copy
    return path


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} CASCADE"))
    engine.dispose()


@pytest.fixture(params=DIALECTS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """An empty, migrated database of each kind."""
    if request.param == "sqlite":
        target = tmp_path / "pims-sync.db"
        shutil.copyfile(sqlite_template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("postgres_template_url")
    _truncate_all(url)
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def store(db: Database) -> Store:
    return Store(db, SecretBox(TEST_KEY))
