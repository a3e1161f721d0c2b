"""Batched ``INSERT … ON CONFLICT`` for both databases: N rows cost N / batch statements."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

# SQLite allows 32,766 bound parameters per statement; PostgreSQL 65,535. Rows of our widest
# table have about 20 columns, so 500 rows stay well below both limits.
DEFAULT_BATCH_SIZE = 500


def chunks(rows: Sequence[Mapping[str, Any]], size: int) -> Iterator[Sequence[Mapping[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _insert(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"upsert is not implemented for {dialect}")


def upsert(
    session: Session,
    table: Table,
    rows: Iterable[Mapping[str, Any]],
    *,
    conflict_columns: Sequence[str],
    update_columns: Sequence[str],
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> int:
    """Insert rows, or update ``update_columns`` of the row that has the same conflict key.

    Rows must all carry the same keys. Returns the number of rows written.
    """
    materialised = [dict(row) for row in rows]
    if not materialised:
        return 0
    # One statement, compiled once, executed with many parameter sets: SQLAlchemy sends them
    # as multi-row batches ("insertmanyvalues"), so N rows cost N / batch round trips without
    # building and compiling a new VALUES clause for every batch.
    insert = _insert(session, table)
    if update_columns:
        statement = insert.on_conflict_do_update(
            index_elements=list(conflict_columns),
            set_={name: insert.excluded[name] for name in update_columns},
        )
    else:
        statement = insert.on_conflict_do_nothing(index_elements=list(conflict_columns))
    for batch in chunks(materialised, batch_size):
        session.execute(statement, list(batch))
    return len(materialised)
