"""On SQLite exactly one `pims-sync run` serves a database: a second one refuses to start with
one clear line, while one-off commands keep working beside the daemon."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.store import Database, SecretBox, Store
from daemon.store.leases import RunLock
from daemon.store.migrate import upgrade
from providers.idexx_neo.simulator import SimulatorServer
from tests.replicas.harness import KEY, ROOT, free_port, simulator_session, wait_for

pytestmark = pytest.mark.timeout(180)


def test_a_second_run_on_one_sqlite_database_refuses_to_start(tmp_path: Path) -> None:
    database = tmp_path / "one.db"
    url = f"sqlite:///{database}"
    with SimulatorServer() as simulator:
        db = Database(url)
        upgrade(db.engine)
        store = Store(db, SecretBox(KEY))
        clinic = store.clinics.add(
            name="Only",
            timezone="America/Los_Angeles",
            provider="idexx-neo",
            base_url=simulator.url,
        )
        store.credentials.set(
            clinic.id,
            provider="idexx-neo",
            fields={"username": "demo", "password": "demo-password", "company_id": "demo-clinic"},
        )
        store.session_store(clinic.id).save(
            simulator_session(simulator.url), datetime.now(UTC) + timedelta(hours=1)
        )
        db.dispose()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "PIMS_ENCRYPTION_KEY": KEY,
            "HOST": "127.0.0.1",
            "SHUTDOWN_GRACE_S": "2",
            "BROWSER_POOL_SIZE": "1",
            "LOG_LEVEL": "WARNING",
        }

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "daemon", *args],
                env={**env, "PORT": str(free_port())},
                cwd=ROOT,
                text=True,
                capture_output=True,
                timeout=120,
            )

        lock_file = database.with_name("one.db.run.lock")
        with (tmp_path / "first.log").open("w") as log:
            first = subprocess.Popen(
                [sys.executable, "-m", "daemon", "run"],
                env={**env, "PORT": str(free_port())},
                cwd=ROOT,
                stdout=log,
                stderr=log,
            )
        try:
            wait_for(
                lambda: lock_file.exists() and f"pid {first.pid}" in lock_file.read_text(),
                60,
                "the first daemon holds the run lock",
            )
            second = cli("run")
            assert second.returncode == 1
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1, second.stderr
            assert "another `pims-sync run`" in lines[0] and "SQLite" in lines[0]
            # One-off commands still work beside the daemon.
            listed = cli("clinic", "list", "--json")
            assert (
                listed.returncode == 0 and json.loads(listed.stdout)["clinics"][0]["name"] == "Only"
            )
            status = cli("status", "--json")
            assert status.returncode == 0, status.stderr[-2000:]
            assert json.loads(status.stdout)
            synced = cli("sync", "inbound", "--clinic", str(clinic.id), "--json")
            assert synced.returncode == 0, synced.stderr[-2000:]
            assert json.loads(synced.stdout)["status"] == "completed"
        finally:
            first.send_signal(signal.SIGTERM)
            assert first.wait(60) == 0
        # The lock goes with the process: a later daemon may start.
        lock = RunLock(database)
        lock.acquire()
        lock.release()
