"""SIGTERM with a stuck sync and another queued behind it, against the daemon as a process.

Contract §2.4 and §7: running syncs get ``SHUTDOWN_GRACE_S``, nothing new starts while draining,
the rest is marked ``interrupted``, and the process exits within ``SHUTDOWN_GRACE_S + 10`` s
whatever is running or queued.
"""

from __future__ import annotations

import functools
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from providers.idexx_neo.simulator import SimulatorServer
from tests.daemon_process import DaemonProcess, wait_for
from tests.faults.process import configured_daemon, seed_clinic

GRACE_S = 3
CLINICS = 3


def rows(url: str) -> list[tuple[str, str, str, object]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [
                (str(uuid.UUID(str(r[0]))), r[1], r[2], r[3])
                for r in connection.execute(
                    text("SELECT id, sync_type, status, started_at FROM schedule_syncs")
                )
            ]
    finally:
        engine.dispose()


def is_running(daemon: DaemonProcess, key: str, sync_id: str) -> bool:
    return bool(daemon.get(f"/api/sync/cases/{sync_id}", key).json()["status"] == "running")


@pytest.mark.timeout(300)
def test_sigterm_with_stuck_and_queued_syncs_exits_within_the_bound(tmp_path: Path) -> None:
    simulator = SimulatorServer().start()
    url = f"sqlite:///{tmp_path / 'daemon.db'}"
    keys = [seed_clinic(url, simulator.url, f"Stuck Clinic {n}")[1] for n in range(CLINICS)]
    daemon = configured_daemon(tmp_path, url, SHUTDOWN_GRACE_S=str(GRACE_S))
    try:
        daemon.start()
        # Every PIMS request takes 1.5 s: the cases syncs are stuck well past the grace.
        simulator.set_faults(latency_ms=1500)
        queued_ids = []
        for key in keys:
            stuck = daemon.post("cases", key, {"parallelBatchSize": 1}, asynchronous=True)
            assert stuck.status_code == 202, stuck.text
            stuck_id = stuck.json()["syncId"]
            wait_for(functools.partial(is_running, daemon, key, stuck_id), 60, "a stuck sync")
            behind = daemon.post("inbound", key, asynchronous=True)
            assert behind.status_code == 202, behind.text
            queued_ids.append(behind.json()["syncId"])

        sent = time.monotonic()
        daemon.signal()
        try:
            code = daemon.wait(GRACE_S + 60)
        finally:
            took = time.monotonic() - sent
        assert code == 0
        assert took <= GRACE_S + 10, f"exit took {took:.1f} s"

        final = {r[0]: r for r in rows(url)}
        for sync_id in queued_ids:
            _id, _type, status, started_at = final[str(uuid.UUID(sync_id))]
            assert status == "interrupted", final
            assert started_at is None, "a queued sync was started while draining"
        assert all(r[2] not in ("queued", "running") for r in final.values()), final
    finally:
        daemon.kill()
        simulator.stop()
