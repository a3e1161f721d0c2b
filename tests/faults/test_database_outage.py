"""A PostgreSQL outage in the middle of a cases sync, against the daemon as a real process.

The database is a throwaway cluster this test starts on its own port and stops for 20 s while a
slow cases sync runs. Afterwards the clinic must be served again (triggers accepted, cron
loaded), ``/ready`` must say 503 naming the clinic for as long as it is not, and the sync row
and its audit row must end with a final status and a code, not stay ``running``.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from providers.idexx_neo.simulator import SimulatorServer
from tests.daemon_process import wait_for
from tests.faults.cluster import ThrowawayCluster
from tests.faults.process import configured_daemon, seed_clinic

OUTAGE_S = 20
ACTIVE = ("queued", "running")


@pytest.fixture
def cluster() -> Iterator[ThrowawayCluster]:
    pg = ThrowawayCluster().init()
    try:
        yield pg
    finally:
        pg.destroy()


def metric(body: str, name: str, labels: str) -> float:
    selector = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "")
    match = re.search(rf"^{selector} (\S+)$", body, re.M)
    assert match is not None, f"{name} is not in /metrics"
    return float(match.group(1))


def row_of(url: str, sync_id: str) -> dict[str, object]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            sync = connection.execute(
                text("SELECT status, error_code FROM schedule_syncs WHERE id = :id"),
                {"id": uuid.UUID(sync_id)},
            ).one()
            audits = connection.execute(
                text("SELECT status FROM case_sync_audits WHERE sync_id = :id"),
                {"id": uuid.UUID(sync_id)},
            ).scalars()
            return {"status": sync[0], "code": sync[1], "audits": list(audits)}
    finally:
        engine.dispose()


@pytest.mark.timeout(420)
def test_clinic_is_served_again_after_a_database_outage_mid_sync(
    tmp_path: Path, cluster: ThrowawayCluster
) -> None:
    simulator = SimulatorServer().start()
    daemon = configured_daemon(tmp_path, cluster.url, SHUTDOWN_GRACE_S="3")
    try:
        clinic_id, key = seed_clinic(
            cluster.url, simulator.url, "Outage Clinic", schedules=(("inbound", "0 3 * * *"),)
        )
        daemon.start()
        simulator.set_faults(latency_ms=700)
        started = daemon.post("cases", key, {"parallelBatchSize": 1}, asynchronous=True)
        assert started.status_code == 202, started.text
        sync_id = started.json()["syncId"]
        wait_for(
            lambda: daemon.get(f"/api/sync/cases/{sync_id}", key).json()["status"] == "running",
            60,
            "the cases sync to run",
        )

        cluster.stop("fast")
        time.sleep(OUTAGE_S)  # the outage itself, not a wait for work
        cluster.start()
        simulator.reset_faults()

        # Until the clinic is served again, /ready says so, naming it.
        def served() -> bool:
            ready = daemon.get("/ready")
            trigger = daemon.post("inbound", key, asynchronous=True)
            if trigger.status_code in (202, 409):
                return True
            assert trigger.status_code == 503, trigger.text
            if "database" in trigger.json()["error"]["message"]:
                # The API has not yet seen the database come back (it re-checks every second):
                # that 503 is about the database, not about this clinic's actor.
                return False
            if ready.status_code == 200:
                raise AssertionError("clinic not served while /ready says 200")
            assert any(
                clinic_id in check["name"] + check["message"] and not check["ok"]
                for check in ready.json()["checks"]
            ), ready.text
            return False

        wait_for(served, 60, "the clinic to be served again after the outage")
        wait_for(lambda: daemon.get("/ready").status_code == 200, 30, "/ready 200 again")

        final = wait_for(
            lambda: (r := row_of(cluster.url, sync_id))["status"] not in ACTIVE and r,
            60,
            "the interrupted sync's row to end",
        )
        assert final["code"], final
        assert "running" not in final["audits"], final
        metrics = daemon.get("/metrics").text
        assert metric(metrics, "pims_sync_clinics_unserved", "") == 0
        health = daemon.get("/health").json()
        assert health["clinics"] == 1 and health["scheduler"]["jobs"] == 1, health
        daemon.signal()
        assert daemon.wait(60) == 0
    finally:
        daemon.kill()
        simulator.stop()
