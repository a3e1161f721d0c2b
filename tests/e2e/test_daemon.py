"""End to end: `pims-sync run` as a real process, the simulator, real Chromium, real HTTP."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests  # schemathesis brings it; plain blocking HTTP keeps these tests simple

from providers.browsers import procfs
from providers.idexx_neo.simulator import SimulatorServer
from tests.daemon_process import wait_for
from tests.e2e.deployment import KEY, PASSWORD, Deployment, e2e_env, pool_browsers, pool_groups


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("e2e")
    simulator = SimulatorServer().start()
    env = e2e_env(
        tmp,
        SHUTDOWN_GRACE_S="3",
        CONFIG_POLL_INTERVAL_S="3600",
        BROWSER_POOL_SIZE="1",
        SYNC_WAIT_MAX_S="20",
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        API_RATE_LIMIT_PER_MIN="1000",
    )
    d = Deployment(tmp, simulator, env)
    assert d.cli("migrate").returncode == 0
    d.clinic_id, d.keys["main"] = d.add_clinic("E2E Clinic")
    read_only = d.cli(
        "key",
        "create",
        "--clinic",
        d.clinic_id,
        "--name",
        "reader",
        "--permission",
        "sync:read",
        "--json",
    )
    d.keys["reader"] = json.loads(read_only.stdout)["key"]
    d.start()
    yield d
    d.stop()
    simulator.stop()


def test_triggers_run_syncs_end_to_end(deployment: Deployment) -> None:
    key = deployment.keys["main"]
    inbound = deployment.post("inbound", key)
    assert inbound.status_code == 200, inbound.text
    body = inbound.json()
    assert body["success"] is True and body["status"] == "completed"
    assert body["stats"]["appointments"] > 0 and body["stats"]["slots"] > 0
    assert inbound.headers["X-Request-Id"]
    cases = deployment.post("cases", key)
    assert cases.status_code == 200 and cases.json()["stats"]["created"] > 0, cases.text
    status = deployment.get(f"/api/sync/cases/{cases.json()['syncId']}", key)
    assert status.status_code == 200 and status.json()["status"] == "completed"
    again = deployment.post("cases", key).json()
    assert (again["stats"]["created"], again["stats"]["updated"]) == (0, 0)
    reconcile = deployment.post("reconcile", key)
    assert reconcile.status_code == 200 and reconcile.json()["status"] == "completed"


def test_async_trigger_409_and_sse_to_the_final_event(deployment: Deployment) -> None:
    key = deployment.keys["main"]
    deployment.simulator.set_faults(latency_ms=400)
    try:
        started = deployment.post(
            "cases",
            key,
            {"forceFullSync": True, "parallelBatchSize": 1},
            headers={"Prefer": "respond-async"},
        )
        assert started.status_code == 202, started.text
        sync_id = started.json()["syncId"]
        assert started.json()["streamUrl"] == f"/api/sync/cases/{sync_id}/stream"
        busy = deployment.post("cases", key)
        assert busy.status_code == 409
        assert busy.json()["syncId"] == sync_id
        assert busy.json()["error"]["code"] == "sync_in_progress"
        with requests.get(
            f"{deployment.base}/api/sync/cases/{sync_id}/stream",
            headers={"X-API-Key": key},
            stream=True,
            timeout=120,
        ) as stream:
            lines: list[str] = [
                line.decode() if isinstance(line, bytes) else line for line in stream.iter_lines()
            ]
            events = [line.split(":", 1)[1].strip() for line in lines if line.startswith("event:")]
        assert events[-1] in ("completed", "partial")
        assert set(events[:-1]) <= {"progress"}
    finally:
        deployment.simulator.reset_faults()


def test_authentication_matrix(deployment: Deployment) -> None:
    key, reader = deployment.keys["main"], deployment.keys["reader"]
    assert deployment.post("inbound").status_code == 401
    assert deployment.post("inbound", "pims_sk_" + "x" * 40).status_code == 401
    assert deployment.post("inbound", reader).status_code == 403
    _other_id, other_key = deployment.add_clinic("Other Clinic")
    sync_id = deployment.post("inbound", key, headers={"Prefer": "respond-async"}).json()
    assert deployment.get(f"/api/sync/inbound/{sync_id['syncId']}", reader).status_code == 200
    assert deployment.get(f"/api/sync/inbound/{sync_id['syncId']}", other_key).status_code == 404
    assert deployment.get(f"/api/sync/inbound/{uuid.uuid4()}", key).status_code == 404
    created = json.loads(
        deployment.cli(
            "key", "create", "--clinic", deployment.clinic_id, "--name", "short-lived", "--json"
        ).stdout
    )
    assert deployment.cli("key", "revoke", created["id"]).returncode == 0
    assert deployment.get("/api/schedules", created["key"]).status_code == 401
    wait_for(
        lambda: (
            deployment.get(f"/api/sync/inbound/{sync_id['syncId']}", key).json()["status"]
            in ("completed", "partial", "failed")
        ),
        60,
        "the inbound sync to end",
    )


def test_sighup_loads_a_new_clinic(deployment: Deployment) -> None:
    _clinic_id, key = deployment.add_clinic("Added Later")
    before = deployment.post("inbound", key, headers={"Prefer": "respond-async"})
    assert before.status_code == 503, before.text
    deployment.signal(signal.SIGHUP)
    accepted = wait_for(
        lambda: (
            (r := deployment.post("inbound", key, headers={"Prefer": "respond-async"})).status_code
            == 202
            and r
        ),
        30,
        "the new clinic to be served",
    )
    sync_id = accepted.json()["syncId"]
    wait_for(
        lambda: deployment.get(f"/api/sync/inbound/{sync_id}", key).json()["status"] == "completed",
        90,
        "the new clinic's sync",
    )


def test_health_ready_metrics_schedules(deployment: Deployment) -> None:
    health = deployment.get("/health").json()
    assert health["status"] == "ok" and health["clinics"] >= 1
    assert health["memory"]["rssBytes"] > 0
    ready = deployment.get("/ready")
    assert ready.status_code == 200 and all(c["ok"] for c in ready.json()["checks"])
    metrics = deployment.get("/metrics").text
    for name in (
        "pims_sync_syncs_total",
        "pims_sync_browser_pool_size",
        "pims_sync_http_requests_total",
        "pims_sync_pims_requests_total",
    ):
        assert name in metrics
    assert (
        deployment.cli(
            "schedule",
            "set",
            "--clinic",
            deployment.clinic_id,
            "--type",
            "cases",
            "--cron",
            "0 8 * * *",
        ).returncode
        == 0
    )
    schedules = deployment.get("/api/schedules", deployment.keys["main"]).json()["schedules"]
    assert schedules[0]["type"] == "cases" and schedules[0]["nextRunAt"].endswith("Z")


def test_sigusr1_logs_every_thread_stack(deployment: Deployment) -> None:
    deployment.signal(signal.SIGUSR1)
    # Stacks are logged one thread after another: wait for the main thread's, not the first.
    stacks = wait_for(
        lambda: [
            line
            for line in deployment.output().splitlines()
            if '"message": "thread MainThread' in line and "stack:" in line
        ],
        30,
        "the main thread's stack in the log",
    )
    assert stacks
    assert deployment.alive()  # still serving
    assert deployment.get("/health").status_code == 200


def test_nothing_secret_in_what_the_process_printed(deployment: Deployment) -> None:
    printed = deployment.output()
    assert printed, "the daemon printed nothing at all"
    for secret in (PASSWORD, KEY, *deployment.keys.values()):
        assert secret not in printed


def test_sigterm_during_a_slow_sync_drains_and_marks_it(tmp_path: Path) -> None:
    simulator = SimulatorServer().start()
    env = e2e_env(tmp_path, SHUTDOWN_GRACE_S="2", BROWSER_POOL_SIZE="1", LOG_FORMAT="json")
    d = Deployment(tmp_path, simulator, env)
    try:
        assert d.cli("migrate").returncode == 0
        _clinic_id, key = d.add_clinic("Slow Clinic")
        d.start()
        daemon_pid = d.pid
        groups = wait_for(lambda: pool_groups(daemon_pid), 30, "the pool's Chromium")
        simulator.set_faults(latency_ms=1500)
        started = d.post(
            "cases", key, {"parallelBatchSize": 1}, headers={"Prefer": "respond-async"}
        )
        assert started.status_code == 202, started.text
        sync_id = started.json()["syncId"]
        wait_for(
            lambda: d.get(f"/api/sync/cases/{sync_id}", key).json()["status"] == "running",
            30,
            "the sync to run",
        )
        assert d.stop(signal.SIGTERM, timeout=60) == 0
        from sqlalchemy import create_engine, text

        engine = create_engine(env["DATABASE_URL"])
        with engine.connect() as connection:
            row = connection.execute(
                text("SELECT status FROM schedule_syncs WHERE id = :id"),
                {"id": uuid.UUID(sync_id).hex},
            ).scalar()
        engine.dispose()
        assert row in ("interrupted", "completed", "partial")
        # Only this daemon's browsers count: other programs may run Chromium meanwhile.
        wait_for(
            lambda: not pool_browsers(daemon_pid) and not any(map(procfs.group_pids, groups)),
            15,
            "the daemon's Chromium to be gone",
        )
        assert PASSWORD not in d.output() and key not in d.output()
    finally:
        d.kill()
        simulator.stop()


@pytest.mark.timeout(400)
def test_schemathesis_against_the_real_daemon(tmp_path: Path) -> None:
    """The OpenAPI document against the real process: real actors, real syncs, the simulator."""
    simulator = SimulatorServer().start()
    env = e2e_env(
        tmp_path,
        SYNC_WAIT_MAX_S="1",
        API_RATE_LIMIT_PER_MIN="1000000",
        BROWSER_POOL_SIZE="1",
        LOG_LEVEL="WARNING",
    )
    d = Deployment(tmp_path, simulator, env)
    try:
        assert d.cli("migrate").returncode == 0
        _clinic_id, key = d.add_clinic("Fuzzed Clinic")
        d.start()
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"{d.base}/openapi.json",
                "--header",
                f"X-API-Key: {key}",
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
                "--max-examples",
                "25",
                "--seed",
                "20261126",
                "--request-timeout",
                "60",
            ],
            capture_output=True,
            text=True,
            timeout=380,
            cwd=tmp_path,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-20000:]
        assert " 500 " not in output
    finally:
        d.stop()
        simulator.stop()


def test_logs_reach_axiom_and_a_hanging_axiom_never_stalls_a_sync(tmp_path: Path) -> None:
    from tests.observability.fake_axiom import FakeAxiom

    axiom = FakeAxiom().start()
    simulator = SimulatorServer().start()
    env = e2e_env(
        tmp_path,
        BROWSER_POOL_SIZE="1",
        AXIOM_API_TOKEN=axiom.token,
        AXIOM_URL=axiom.url,
        AXIOM_DATASET="e2e",
        SHUTDOWN_GRACE_S="2",
    )
    d = Deployment(tmp_path, simulator, env)
    try:
        assert d.cli("migrate").returncode == 0
        _clinic_id, key = d.add_clinic("Logged Clinic")
        d.start()
        first = d.post("inbound", key).json()
        assert first["status"] == "completed"
        shipped = wait_for(
            lambda: [
                e
                for e in axiom.events
                if e.get("message") == "sync finished" and e.get("sync_id") == first["syncId"]
            ],
            30,
            "the sync's last log line in Axiom",
        )
        assert shipped[0]["sync_type"] == "inbound" and shipped[0]["_time"].endswith("Z")
        for secret in (PASSWORD, KEY, key):
            assert all(secret not in json.dumps(event) for event in axiom.events)

        axiom.mode = "hang"
        stalled_from = len(axiom.attempts)
        second = d.post("cases", key)
        assert second.status_code == 200 and second.json()["status"] == "completed"
        wait_for(lambda: len(axiom.attempts) > stalled_from, 30, "a request Axiom leaves hanging")
        assert d.stop(signal.SIGTERM, timeout=60) == 0  # the final flush is bounded
    finally:
        d.kill()
        simulator.stop()
        axiom.stop()
