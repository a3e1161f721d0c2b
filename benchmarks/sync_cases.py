"""A ``cases`` sync of the simulator's ``scale`` scenario at 50 ms latency.

300 appointments over 14 days, 150 of them finalized with a consultation. Prints, per
``parallelBatchSize`` C, the wall time of a full sync on a cached session and its ratio to the
ideal ``(1 + ceil(150 / C)) × latency`` (one calendar call, then rounds of C consultation
fetches); the target is ≤ 1.5 at the default C = 5. Then a second run with nothing changed:
it must write no ``cases`` row and need no login.

    .venv/bin/python -m benchmarks.sync_cases [--latency-ms 50] [--database-url URL]

The simulator runs in its own process so that it does not share this process's GIL.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, func, select, text

from daemon.store import Database, SecretBox, Store
from daemon.store.migrate import upgrade
from daemon.store.models import Case, Clinic
from daemon.sync.providers import ProviderFactory
from daemon.sync.requests import SyncRequest
from daemon.sync.runner import SyncRunner
from providers.browsers import BrowserPool
from providers.simulation.process import simulator_process as run_simulator

ZONE = "America/Los_Angeles"
CONSULTATIONS = 150
KEY = "benchmark-encryption-key-0123456789abcdef"


@contextmanager
def simulator_process(latency_ms: int) -> Iterator[str]:
    """The IDEXX Neo simulator's ``scale`` scenario in a process of its own; yields its URL."""
    with run_simulator(
        "idexx_neo", "--scenario", "scale", "--latency-ms", str(latency_ms), "--timezone", ZONE
    ) as url:
        yield url


def sim_stats(url: str) -> dict[str, int]:
    import urllib.request

    with urllib.request.urlopen(f"{url}/_sim/stats", timeout=10) as response:
        stats: dict[str, int] = json.loads(response.read())
        return stats


def case_stamps(store: Store) -> dict[str, object]:
    with store.db.session() as session:
        rows = session.execute(select(Case.external_id, Case.updated_at)).all()
        return {external_id: updated for external_id, updated in rows}


def run(latency_ms: int, database_url: str | None) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="pims-sync-bench-"))
    url = database_url or f"sqlite:///{workdir / 'bench.db'}"
    db = Database(url)
    upgrade(db.engine)
    store = Store(db, SecretBox(KEY))
    pool = BrowserPool(size=1)
    latency = latency_ms / 1000
    with simulator_process(latency_ms) as sim_url:
        clinic = store.clinics.add(
            name="Bench", timezone=ZONE, provider="idexx-neo", base_url=sim_url
        )
        store.credentials.set(
            clinic.id,
            provider="idexx-neo",
            fields={"username": "demo", "password": "demo-password", "company_id": "demo-clinic"},
        )
        runner = SyncRunner(store, ProviderFactory(store, pool))
        try:
            # One login, outside the measurement: later runs use the cached session.
            warm = runner.submit_and_run(
                clinic.id, SyncRequest("reconciliation", "cli", lookback_days=1)
            )
            assert warm.status == "completed", warm.errors
            today = warm.end_date
            assert today is not None
            start = today - timedelta(days=13)
            print(
                f"database: {db.dialect}; latency {latency_ms} ms; "
                f"{CONSULTATIONS} consultations in 300 appointments"
            )
            print(f"{'C':>3} {'wall s':>8} {'ideal s':>8} {'ratio':>6}  stats")
            for parallel in (1, 5, 10, 20):
                with db.session() as session:
                    session.execute(text("DELETE FROM case_sync_audits"))
                    session.execute(text("DELETE FROM cases"))
                began = time.perf_counter()
                record = runner.submit_and_run(
                    clinic.id,
                    SyncRequest(
                        "cases",
                        "cli",
                        start_date=start,
                        end_date=today,
                        parallel_batch_size=parallel,
                    ),
                )
                wall = time.perf_counter() - began
                ideal = latency * (1 + math.ceil(CONSULTATIONS / parallel))
                mark = "  <= target 1.5" if parallel == 5 else ""
                print(
                    f"{parallel:>3} {wall:8.2f} {ideal:8.2f} {wall / ideal:6.2f}  "
                    f"{record.status} {record.stats}{mark}"
                )
                assert record.stats["created"] == CONSULTATIONS, record.stats

            stamps = case_stamps(store)
            logins = sim_stats(sim_url)["logins"]
            began = time.perf_counter()
            again = runner.submit_and_run(
                clinic.id, SyncRequest("cases", "cli", start_date=start, end_date=today)
            )
            wall = time.perf_counter() - began
            written = sum(1 for k, v in case_stamps(store).items() if stamps.get(k) != v)
            print(
                f"second run, nothing changed: {wall:.2f} s, {again.stats}, "
                f"cases rows written: {written}, logins: {sim_stats(sim_url)['logins'] - logins}"
            )
            with db.session() as session:
                count = session.execute(select(func.count()).select_from(Case)).scalar_one()
                # Leave a shared PostgreSQL as it was found (the clinic's rows cascade).
                session.execute(delete(Clinic).where(Clinic.id == clinic.id))
            assert count == CONSULTATIONS
        finally:
            pool.stop()
            db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args()
    run(args.latency_ms, args.database_url)


if __name__ == "__main__":
    main()
