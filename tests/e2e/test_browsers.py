"""The daemon's browsers end to end: started only when a clinic needs them, repaired when the
Playwright driver dies, and honest in `/ready` and the metrics meanwhile."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import playwright
import pytest

from providers.browsers import procfs
from providers.idexx_neo.simulator import SimulatorServer
from tests.daemon_process import wait_for
from tests.e2e.deployment import (
    KEY,
    PASSWORD,
    Deployment,
    driver_pids,
    e2e_env,
    pool_groups,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def base_env(tmp: Path) -> dict[str, str]:
    return e2e_env(
        tmp,
        SHUTDOWN_GRACE_S="2",
        CONFIG_POLL_INTERVAL_S="3600",
        BROWSER_POOL_SIZE="1",
        SYNC_WAIT_MAX_S="20",
        LOG_FORMAT="json",
        API_RATE_LIMIT_PER_MIN="1000",
    )


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    server = SimulatorServer().start()
    yield server
    server.stop()


def browser_check(d: Deployment) -> tuple[int, dict[str, Any]]:
    reply = d.get("/ready")
    (check,) = [c for c in reply.json()["checks"] if c["name"] == "browser_pool"]
    return reply.status_code, check


def metric(d: Deployment, line_start: str) -> float | None:
    for line in d.get("/metrics").text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    return None


def wait_for_sync(d: Deployment, key: str, sync_type: str, sync_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = d.get(f"/api/sync/{sync_type}/{sync_id}", key).json()
        return body if body["status"] not in ("queued", "running") else None

    result: dict[str, Any] = wait_for(finished, 120, f"the {sync_type} sync to end")
    return result


def test_no_clinic_needing_a_browser_starts_no_chromium_until_one_is_added(
    tmp_path: Path, simulator: SimulatorServer
) -> None:
    d = Deployment(tmp_path, simulator, base_env(tmp_path))
    assert d.cli("migrate").returncode == 0
    clinic_id, key = d.add_clinic("Dormant Clinic")
    assert d.cli("clinic", "set", clinic_id, "--inactive").returncode == 0
    try:
        d.start()  # waits for /ready 200
        pid = d.pid
        status, check = browser_check(d)
        assert status == 200 and check["ok"] and "not needed" in check["message"]
        assert pool_groups(pid) == [] and driver_pids(pid) == []  # no Chromium, no Playwright
        assert metric(d, "pims_sync_browser_pool_up") == 1.0

        # The clinic comes back (an IDEXX Neo clinic: it logs in through a browser).
        assert d.cli("clinic", "set", clinic_id, "--active").returncode == 0
        d.signal(signal.SIGHUP)
        wait_for(lambda: pool_groups(pid), 60, "the pool to launch Chromium")
        _status, check = wait_for(
            lambda: (r := browser_check(d))[0] == 200 and "not needed" not in r[1]["message"] and r,
            60,
            "/ready to count the browser check",
        )
        assert check["ok"] and "browser(s)" in check["message"]
        synced = d.post("inbound", key)
        assert synced.status_code == 200 and synced.json()["status"] == "completed", synced.text
    finally:
        d.stop()


@pytest.fixture
def switchable_node(tmp_path: Path) -> tuple[Path, Path]:
    """Playwright's Node.js behind a switch: while the switch file exists no new driver can
    start; otherwise the real node is exec'd (so the driver's pid is the script's)."""
    real_node = Path(playwright.__file__).parent / "driver" / "node"
    switch = tmp_path / "driver-broken"
    wrapper = tmp_path / "node"
    wrapper.write_text(f'#!/bin/sh\n[ -e "{switch}" ] && exit 1\nexec "{real_node}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, switch


def test_killed_driver_is_replaced_and_ready_reports_the_outage_meanwhile(
    tmp_path: Path, simulator: SimulatorServer, switchable_node: tuple[Path, Path]
) -> None:
    wrapper, switch = switchable_node
    env = {**base_env(tmp_path), "PLAYWRIGHT_NODEJS_PATH": str(wrapper)}
    d = Deployment(tmp_path, simulator, env)
    assert d.cli("migrate").returncode == 0
    clinic_id, key = d.add_clinic("Driver Clinic")
    try:
        d.start()
        pid = d.pid
        first = d.post("inbound", key)
        assert first.status_code == 200 and first.json()["status"] == "completed", first.text
        logins = simulator.stats()["logins"]
        assert logins >= 1
        (driver,) = wait_for(lambda: driver_pids(pid), 30, "the Playwright driver")
        groups = pool_groups(pid)
        assert groups

        switch.touch()  # keeps the outage going until the test ends it
        os.kill(driver, signal.SIGKILL)
        _status, check = wait_for(
            lambda: (r := browser_check(d))[0] == 503 and r, 30, "/ready to report the outage"
        )
        assert not check["ok"] and "driver" in check["message"]
        assert metric(d, "pims_sync_browser_pool_up") == 0.0
        wait_for(lambda: not any(map(procfs.group_pids, groups)), 30, "its Chromium to be gone")

        # New credentials drop the cached session: the next sync has to log in again.
        d.set_credentials(clinic_id)
        started = d.post("inbound", key, headers={"Prefer": "respond-async"})
        assert started.status_code == 202, started.text
        switch.unlink()  # the next repair attempt succeeds

        result = wait_for_sync(d, key, "inbound", started.json()["syncId"])
        assert result["status"] == "completed", json.dumps(result)
        assert simulator.stats()["logins"] > logins  # it really logged in, on the new driver
        _status, check = wait_for(
            lambda: (r := browser_check(d))[0] == 200 and r, 30, "/ready to recover"
        )
        assert check["ok"]
        assert metric(d, "pims_sync_browser_pool_up") == 1.0
        assert metric(d, 'pims_sync_actor_restarts_total{actor="browser_driver"}') == 1.0
        assert driver_pids(pid) not in ([], [driver])
        printed = d.output()
        assert "browser pool cannot serve logins" in printed
        assert "browser pool serving logins again" in printed
        assert PASSWORD not in printed and KEY not in printed
    finally:
        d.stop()
