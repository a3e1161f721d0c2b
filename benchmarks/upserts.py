"""10,000 case upserts: the engine's batched path against the two obvious alternatives.

- ``per-row``: one ``INSERT … ON CONFLICT`` statement and one commit per row (what a naive
  sync loop does); the batched path must be at least 5× faster, on both databases;
- ``copy+merge`` (PostgreSQL only): ``COPY`` into a temporary table, then one
  ``INSERT … SELECT … ON CONFLICT``; the batched path must reach two thirds of its rate.

Each path writes the same rows twice (a first run that inserts, a second that updates every
row), into an empty ``cases`` table, with case-sized metadata (about 1.5 KB of JSON per row).

    .venv/bin/python -m benchmarks.upserts [--rows 10000] [--database-url URL]

Without ``--database-url`` both a temporary SQLite file and ``TEST_DATABASE_URL`` (a
throwaway database created and dropped there) are measured.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, text

from daemon.config import normalise_database_url
from daemon.store import Database, SecretBox, Store
from daemon.store.cases import (
    CASE_TABLE,
    ROW_KEYS,
    UPDATE_COLUMNS,
    CaseRepository,
    CaseWrite,
)
from daemon.store.migrate import upgrade
from daemon.store.models import Case
from daemon.store.upsert import upsert
from tests.throwaway_database import create_database

KEY = "benchmark-encryption-key-0123456789abcdef"
Rows = list[dict[str, Any]]


def make_rows(clinic_id: uuid.UUID, count: int, generation: int) -> Rows:
    base = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
    rows: Rows = []
    for n in range(count):
        at = base + timedelta(minutes=15 * n)
        appointment = {
            "id": str(500000 + n), "consultationId": str(880000 + n), "date": "2026-03-01",
            "startTime": at.isoformat(), "endTime": (at + timedelta(minutes=30)).isoformat(),
            "duration": 30, "status": "finalized", "rawStatus": "Finalized", "isBlock": False,
            "patient": {"id": str(n), "name": "Biscuit", "species": None, "breed": None},
            "client": {"id": str(n), "name": "Alex Doe", "phone": "+1 (408) 555-0101",
                       "email": "alex@example.com"},
            "provider": {"id": "7", "name": "Dr. Okafor"}, "roomId": "3",
            "type": "Vaccines", "reason": "Annual vaccines", "title": "Biscuit; Doe, Alex",
        }  # fmt: skip
        consultation = {
            "id": str(880000 + n), "status": "completed",
            "notes": "Bright, alert, responsive. Vaccines given, no reactions. " * 4,
            "dischargeSummary": "Monitor the injection site for 48 hours. " * 3,
            "productsServices": "DHPP vaccine; Rabies vaccine (Qty: 2)",
            "declinedProductsServices": None, "reason": "Annual vaccines",
            "date": "2026-03-01 08:00:00", "species": "Canine", "breed": "Beagle",
        }  # fmt: skip
        rows.append({
            "id": uuid.uuid4(), "clinic_id": clinic_id,
            "external_id": f"pims-appt-idexx-neo-{500000 + n}", "source": "pims:idexx-neo",
            "status": "completed", "type": "checkup", "scheduled_at": at,
            "metadata": {"pimsAppointment": appointment, "pimsConsultation": consultation,
                         "syncedAt": f"generation-{generation}", "syncedStatus": "completed"},
            "sync_hash": f"{generation:064d}", "created_at": at, "updated_at": at,
            "deleted_at": None,
        })  # fmt: skip
    return rows


def batched(store: Store, rows: Rows) -> None:
    """The engine's path: ``CaseRepository.write`` (batched upsert, one transaction)."""
    CaseRepository(store.db).write([CaseWrite(row) for row in rows])


def per_row(store: Store, rows: Rows) -> None:
    table = CASE_TABLE
    for row in rows:
        with store.db.session() as session:  # one statement, one commit
            upsert(
                session,
                table,
                [row],
                conflict_columns=("clinic_id", "external_id"),
                update_columns=UPDATE_COLUMNS,
            )


def copy_merge(store: Store, rows: Rows) -> None:
    """PostgreSQL's fastest bulk path: COPY into a temp table, one INSERT … ON CONFLICT."""
    columns = ", ".join(f'"{c}"' for c in ROW_KEYS)
    updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in UPDATE_COLUMNS)
    raw = store.db.engine.raw_connection()
    try:
        with raw.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute(
                "CREATE TEMP TABLE case_load (LIKE cases INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            with cursor.copy(f"COPY case_load ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(
                        [json.dumps(row[k]) if k == "metadata" else row[k] for k in ROW_KEYS]
                    )
            cursor.execute(
                f"INSERT INTO cases ({columns}) SELECT {columns} FROM case_load "
                f"ON CONFLICT (clinic_id, external_id) DO UPDATE SET {updates}"
            )
        raw.commit()
    finally:
        raw.close()


def empty(store: Store) -> None:
    with store.db.session() as session:
        if store.db.dialect == "postgresql":
            session.execute(text("TRUNCATE cases"))  # no dead rows left for the next path
        else:
            session.execute(delete(Case))


def measure(
    store: Store, clinic_id: uuid.UUID, path: Callable[[Store, Rows], None], count: int
) -> float:
    """Rows per second of one path: inserting ``count`` rows, then updating all of them."""
    empty(store)
    first, second = make_rows(clinic_id, count, 1), make_rows(clinic_id, count, 2)
    began = time.perf_counter()
    path(store, first)  # inserts
    path(store, second)  # updates every row
    seconds = time.perf_counter() - began
    with store.db.session() as session:
        written = session.execute(
            text("SELECT count(*) FROM cases WHERE sync_hash = :h"), {"h": f"{2:064d}"}
        ).scalar_one()
    assert written == count, f"{written} of {count} rows updated"
    return 2 * count / seconds


def bench(url: str, count: int, rounds: int) -> None:
    db = Database(url)
    upgrade(db.engine)
    store = Store(db, SecretBox(KEY))
    clinic = store.clinics.add(name="Bench", timezone="UTC", provider="idexx-neo", base_url=None)
    paths: dict[str, Callable[[Store, Rows], None]] = {"batched": batched, "per-row": per_row}
    if db.dialect == "postgresql":
        paths["copy+merge"] = copy_merge
    print(
        f"{db.dialect}: {count:,} rows inserted, then {count:,} updated; "
        f"best of {rounds} interleaved rounds"
    )
    try:
        measure(store, clinic.id, batched, min(count, 1000))  # warm up connections, caches
        best: dict[str, float] = {}
        for round_number in range(rounds):
            for name, path in paths.items():
                if name == "per-row" and round_number > 0:
                    continue  # minutes per round, and never close to the others
                best[name] = max(best.get(name, 0.0), measure(store, clinic.id, path, count))
        for name, rate in best.items():
            print(f"  {name:<11} {2 * count / rate:8.2f} s  {rate:10,.0f} rows/s")
        print(f"  batched / per-row = {best['batched'] / best['per-row']:.1f}x (target >= 5x)")
        if "copy+merge" in best:
            print(
                f"  batched / copy+merge = {best['batched'] / best['copy+merge']:.2f} "
                "(target >= 0.67)"
            )
    finally:
        empty(store)
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    if args.database_url:
        bench(normalise_database_url(args.database_url), args.rows, args.rounds)
        return
    with tempfile.TemporaryDirectory() as workdir:
        bench(f"sqlite:///{Path(workdir) / 'bench.db'}", args.rows, args.rounds)
    url, drop = create_database("pims_sync_bench")
    try:
        bench(url, args.rows, args.rounds)
    finally:
        drop()


if __name__ == "__main__":
    main()
