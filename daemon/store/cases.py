"""``cases``: the rows discharge calls are made from. Read in one query, written in batches.

The sync never hard-deletes a case: a soft delete sets ``deleted_at``. Writes are batched
upserts on (``clinic_id``, ``external_id``). Between the moment a sync reads a case and the
moment it writes it, staff may change the row (its status above all); :meth:`write` therefore
re-reads the rows it is about to update inside the writing transaction (locking them on
PostgreSQL) and lets the caller recompute a row that changed in the meantime.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from daemon.store.database import Database
from daemon.store.models import Case
from daemon.store.upsert import upsert

CASE_TABLE: Table = Case.__table__  # type: ignore[assignment]

#: Columns a sync (re)writes on an existing row; ``id``, ``source`` and ``created_at`` stay.
UPDATE_COLUMNS = (
    "status",
    "type",
    "scheduled_at",
    "metadata",
    "sync_hash",
    "updated_at",
    "deleted_at",
)
ROW_KEYS = (
    "id",
    "clinic_id",
    "external_id",
    "source",
    "status",
    "type",
    "scheduled_at",
    "metadata",
    "sync_hash",
    "created_at",
    "updated_at",
    "deleted_at",
)
# Far below both databases' bound-parameter limits, and one query for any real calendar.
LOOKUP_CHUNK = 5000
#: Rows per executemany call (bounds the memory of one call, not the statement count).
WRITE_PAGE = 1000


@dataclass(frozen=True)
class StoredCase:
    id: uuid.UUID
    clinic_id: uuid.UUID
    external_id: str
    source: str
    status: str
    type: str
    scheduled_at: datetime | None
    meta: dict[str, Any]
    sync_hash: str | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def row(self) -> dict[str, Any]:
        """The row as the upsert takes it (column names as keys)."""
        return {
            "id": self.id,
            "clinic_id": self.clinic_id,
            "external_id": self.external_id,
            "source": self.source,
            "status": self.status,
            "type": self.type,
            "scheduled_at": self.scheduled_at,
            "metadata": dict(self.meta),
            "sync_hash": self.sync_hash,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "deleted_at": self.deleted_at,
        }


def _stored(row: Case) -> StoredCase:
    return StoredCase(
        id=row.id,
        clinic_id=row.clinic_id,
        external_id=row.external_id,
        source=row.source,
        status=row.status,
        type=row.type,
        scheduled_at=row.scheduled_at,
        meta=dict(row.meta or {}),
        sync_hash=row.sync_hash,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted_at=row.deleted_at,
    )


@dataclass(frozen=True)
class CaseWrite:
    """One row to upsert, and the stored row it was computed from (None for a new case)."""

    row: dict[str, Any]
    based_on: StoredCase | None = None


#: Recomputes a write from the row as it is now; None means "nothing to write any more".
Rebase = Callable[[CaseWrite, StoredCase], CaseWrite | None]


class CaseRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- reading ------------------------------------------------------------------------------

    def by_external_ids(
        self, clinic_id: uuid.UUID, external_ids: Iterable[str]
    ) -> dict[str, StoredCase]:
        """The clinic's cases with any of these external ids (deleted ones included)."""
        wanted = sorted(set(external_ids))
        found: dict[str, StoredCase] = {}
        with self.db.session() as session:
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                chunk = wanted[start : start + LOOKUP_CHUNK]
                rows = session.execute(
                    select(Case).where(Case.clinic_id == clinic_id, Case.external_id.in_(chunk))
                ).scalars()
                found.update((row.external_id, _stored(row)) for row in rows)
        return found

    def scheduled_between(
        self, clinic_id: uuid.UUID, start: datetime, end: datetime
    ) -> list[StoredCase]:
        """Cases with ``start <= scheduled_at < end`` (deleted ones included)."""
        with self.db.session() as session:
            rows = session.execute(
                select(Case)
                .where(
                    Case.clinic_id == clinic_id,
                    Case.scheduled_at >= start,
                    Case.scheduled_at < end,
                )
                .order_by(Case.scheduled_at, Case.external_id)
            ).scalars()
            return [_stored(row) for row in rows]

    def all_for_clinic(self, clinic_id: uuid.UUID) -> list[StoredCase]:
        with self.db.session() as session:
            rows = session.execute(
                select(Case).where(Case.clinic_id == clinic_id).order_by(Case.external_id)
            ).scalars()
            return [_stored(row) for row in rows]

    # -- writing ------------------------------------------------------------------------------

    def write(
        self, writes: Sequence[CaseWrite], *, rebase: Rebase | None = None
    ) -> list[CaseWrite]:
        """Upsert the rows in one transaction; returns what was actually written.

        A row whose stored version changed since it was read (``updated_at`` moved) is handed
        to ``rebase`` with the current version, so a concurrent edit (staff setting a status,
        the extension adding metadata) is merged rather than overwritten.
        """
        if not writes:
            return []
        with self.db.session() as session:
            final = self._rebased(session, writes, rebase)
            bulk_upsert(session, [w.row for w in final])
        return final

    def _rebased(
        self, session: Session, writes: Sequence[CaseWrite], rebase: Rebase | None
    ) -> list[CaseWrite]:
        based = [w for w in writes if w.based_on is not None]
        if not based or rebase is None:
            return list(writes)
        ids = [w.based_on.id for w in based if w.based_on is not None]
        query = select(Case).where(Case.id.in_(ids))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        current = {row.id: _stored(row) for row in session.execute(query).scalars()}
        result: list[CaseWrite] = []
        for write in writes:
            seen = write.based_on
            if seen is None:
                result.append(write)
                continue
            now = current.get(seen.id)
            if now is None:
                continue  # deleted by someone else in between: not ours to bring back
            if now.updated_at == seen.updated_at:
                result.append(write)
                continue
            redone = rebase(write, now)
            if redone is not None:
                result.append(redone)
        # The rows were loaded into this session; the upsert must not race the ORM's copies.
        session.expunge_all()
        return result


# -- the bulk write ---------------------------------------------------------------------------
#
# Never a multi-row VALUES statement built (and compiled by SQLAlchemy) anew for every batch:
# compiling a 500-row statement costs more than running it. SQLite goes through the shared
# upsert (one cached statement for many parameter sets). PostgreSQL gets its fastest paths
# straight through psycopg (skipping SQLAlchemy's per-value processing): a large batch is
# COPYed into a temporary table and merged with one INSERT … ON CONFLICT; a small one is sent
# with executemany, which pipelines the rows (one round trip per page, not per row).
# ``benchmarks/upserts.py`` has the figures.

COPY_THRESHOLD = 500
_PG_COLUMNS = ", ".join(f'"{column}"' for column in ROW_KEYS)
_PG_CONFLICT = "ON CONFLICT (clinic_id, external_id) DO UPDATE SET " + ", ".join(
    f'"{column}" = EXCLUDED."{column}"' for column in UPDATE_COLUMNS
)
_PG_UPSERT = (
    f"INSERT INTO cases ({_PG_COLUMNS}) VALUES ({', '.join(['%s'] * len(ROW_KEYS))}) "
    + _PG_CONFLICT
)
_ROW_VALUES = itemgetter(*ROW_KEYS)
_METADATA_AT = ROW_KEYS.index("metadata")
_TIME_KEYS = ("scheduled_at", "created_at", "updated_at", "deleted_at")


def bulk_upsert(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert ``rows`` into ``cases`` or update the row with the same (clinic, external id).

    Rows must carry the keys of :data:`ROW_KEYS`; of two rows with one key, the last wins.
    """
    unique = list({(row["clinic_id"], row["external_id"]): row for row in rows}.values())
    if not unique:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        if len(unique) >= COPY_THRESHOLD:
            _pg_copy_merge(session, unique)
        else:
            _pg_executemany(session, unique)
    else:
        upsert(
            session,
            CASE_TABLE,
            unique,
            conflict_columns=("clinic_id", "external_id"),
            update_columns=UPDATE_COLUMNS,
            batch_size=WRITE_PAGE,
        )
    return len(unique)


def _pg_values(rows: Sequence[dict[str, Any]], metadata: Callable[[Any], Any]) -> list[list[Any]]:
    params: list[list[Any]] = []
    for row in rows:
        for key in _TIME_KEYS:
            value = row[key]
            if value is not None and value.tzinfo is None:
                # UTCDateTime's rule: a naive time would be read in the server's zone.
                raise ValueError(f"cases.{key}: timestamps must be timezone-aware")
        values = list(_ROW_VALUES(row))
        values[_METADATA_AT] = metadata(values[_METADATA_AT])
        params.append(values)
    return params


def _driver(session: Session) -> Any:
    driver = session.connection().connection.driver_connection
    assert driver is not None
    return driver


def _pg_executemany(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    from psycopg.types.json import Jsonb

    params = _pg_values(rows, Jsonb)
    with _driver(session).cursor(binary=True) as cursor:
        for start in range(0, len(params), WRITE_PAGE):
            cursor.executemany(_PG_UPSERT, params[start : start + WRITE_PAGE])


def _pg_copy_merge(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    staging = f"case_upload_{uuid.uuid4().hex[:12]}"  # unique: several may run in one session
    with _driver(session).cursor() as cursor:
        cursor.execute(
            f'CREATE TEMP TABLE "{staging}" (LIKE cases INCLUDING DEFAULTS) ON COMMIT DROP'
        )
        with cursor.copy(f'COPY "{staging}" ({_PG_COLUMNS}) FROM STDIN') as copy:
            for values in _pg_values(rows, json.dumps):
                copy.write_row(values)
        cursor.execute(
            f'INSERT INTO cases ({_PG_COLUMNS}) SELECT {_PG_COLUMNS} FROM "{staging}" '
            + _PG_CONFLICT
        )
        cursor.execute(f'DROP TABLE "{staging}"')
