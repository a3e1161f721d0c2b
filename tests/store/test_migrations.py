from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from daemon.store import Database
from daemon.store.migrate import current_revision, head_revision, is_current, upgrade
from daemon.store.models import Base


def test_migrations_create_every_table_and_reach_head(db: Database) -> None:
    assert current_revision(db.engine) == head_revision()
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_second_migrate_is_a_no_op(db: Database) -> None:
    before = current_revision(db.engine)
    assert upgrade(db.engine) == before
    assert is_current(db.engine)


def test_models_match_migrations(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrate_from_empty_sqlite_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    fresh = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    assert current_revision(fresh.engine) is None
    upgrade(fresh.engine)
    assert is_current(fresh.engine)
    with fresh.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    fresh.dispose()
