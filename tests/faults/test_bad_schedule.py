"""A stored cron that never fires (``0 0 31 2 *``, written straight into the database as an
older release or a hand edit would) beside a good one, against the daemon as a real process:
the clinic is served, its good schedule fires, the schedules route answers, the bad one is
logged once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from daemon.store import Database
from daemon.store.models import ClinicScheduleConfig
from providers.idexx_neo.simulator import SimulatorServer
from tests.daemon_process import wait_for
from tests.faults.process import configured_daemon, seed_clinic


def store_bad_cron(url: str) -> None:
    db = Database(url)
    try:
        with db.session() as session:
            config = session.execute(select(ClinicScheduleConfig)).scalar_one()
            config.sync_schedules = [
                *config.sync_schedules,
                {"type": "cases", "cron": "0 0 31 2 *", "enabled": True},
            ]
    finally:
        db.dispose()


@pytest.mark.timeout(240)
def test_a_cron_that_never_fires_leaves_the_clinic_and_its_other_schedules_alone(
    tmp_path: Path,
) -> None:
    simulator = SimulatorServer().start()
    url = f"sqlite:///{tmp_path / 'daemon.db'}"
    _clinic_id, key = seed_clinic(
        url, simulator.url, "Odd Cron Clinic", schedules=(("inbound", "* * * * *"),)
    )
    store_bad_cron(url)
    daemon = configured_daemon(tmp_path, url, SHUTDOWN_GRACE_S="2")
    try:
        daemon.start()
        schedules = daemon.get("/api/schedules", key)
        assert schedules.status_code == 200, schedules.text
        by_type = {s["type"]: s for s in schedules.json()["schedules"]}
        assert by_type["cases"]["nextRunAt"] is None
        assert by_type["inbound"]["nextRunAt"] is not None
        assert daemon.get("/health").json()["scheduler"]["jobs"] == 1
        accepted = daemon.post("reconcile", key, asynchronous=True)
        assert accepted.status_code == 202, accepted.text  # the clinic is served

        def fired() -> bool:
            listed = daemon.get("/api/schedules", key).json()["schedules"]
            last = {s["type"]: s["lastRun"] for s in listed}["inbound"]
            return last is not None and last["status"] in ("completed", "partial")

        wait_for(fired, 150, "the inbound schedule to fire and finish")
        daemon.signal()
        assert daemon.wait(60) == 0
        said = [
            line
            for line in daemon.log_lines()
            if str(line.get("message", "")).startswith("schedule left out")
        ]
        assert len(said) == 1 and "0 0 31 2 *" in said[0]["message"], said
    finally:
        daemon.kill()
        simulator.stop()
