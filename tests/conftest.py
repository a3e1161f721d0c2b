"""Shared fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``TEST_DATABASE_URL`` (contract §2.3). Each test run creates its own
throwaway database there and drops it at the end; an unreachable server fails the tests, it
never skips them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from daemon.store import Database, SecretBox, Store
from daemon.store.migrate import upgrade
from daemon.store.models import Base
from tests.throwaway_database import create_database, server_url

TEST_KEY = "test-encryption-key-0123456789-abcdefghij"
DIALECTS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres_template_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test run, migrated once."""
    try:
        url, drop = create_database("pims_sync_test")
    except Exception as exc:
        server = server_url()
        pytest.fail(
            f"PostgreSQL at {server.render_as_string(hide_password=True)} is unreachable "
            f"({type(exc).__name__}); set TEST_DATABASE_URL or start the server",
            pytrace=False,
        )
    db = Database(url)
    upgrade(db.engine)
    db.dispose()
    yield url
    drop()


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
