"""On SQLite exactly one `pims-sync run` serves a database: a second one refuses to start with
one clear line, while one-off commands keep working beside the daemon."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from daemon.store.leases import RunLock
from providers.idexx_neo.simulator import SimulatorServer
from tests.daemon_process import (
    DaemonProcess,
    daemon_env,
    free_port,
    run_cli,
    seed_clinics,
    wait_for,
)
from tests.replicas.harness import KEY, simulator_session

pytestmark = pytest.mark.timeout(180)


def test_a_second_run_on_one_sqlite_database_refuses_to_start(tmp_path: Path) -> None:
    database = tmp_path / "one.db"
    url = f"sqlite:///{database}"
    with SimulatorServer() as simulator:
        ((clinic_id, _key),) = seed_clinics(
            url,
            KEY,
            simulator.url,
            ["Only"],
            key_name="replicas",
            session=simulator_session(simulator.url),
        )
        env = daemon_env(url, KEY, SHUTDOWN_GRACE_S="2", BROWSER_POOL_SIZE="1", LOG_LEVEL="WARNING")

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return run_cli({**env, "PORT": str(free_port())}, *args)

        lock_file = database.with_name("one.db.run.lock")
        first = DaemonProcess(tmp_path, dict(env), "first").spawn()
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
            synced = cli("sync", "inbound", "--clinic", str(clinic_id), "--json")
            assert synced.returncode == 0, synced.stderr[-2000:]
            assert json.loads(synced.stdout)["status"] == "completed"
        finally:
            assert first.stop(signal.SIGTERM, 60) == 0
        # The lock goes with the process: a later daemon may start.
        lock = RunLock(database)
        lock.acquire()
        lock.release()
