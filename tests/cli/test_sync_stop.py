"""``pims-sync sync`` stopped by the operator, or standing behind a run whose process died.

A real process against the ezyVet simulator (no browser needed), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from daemon.store import Store
from daemon.store.models import ScheduleSync
from daemon.store.syncs import SyncRecord
from daemon.store.types import utcnow
from providers.ezyvet.simulator import EzyVetSimulator
from tests.cli.conftest import Cli

ZONE = "Pacific/Auckland"
DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def sim() -> Iterator[EzyVetSimulator]:
    """The CLI has no clock to inject: the simulator's "today" is the real one."""
    with EzyVetSimulator(timezone=ZONE) as server:
        yield server


@pytest.fixture
def clinic_id(store: Store, sim: EzyVetSimulator) -> uuid.UUID:
    sim.reset()
    clinic = store.clinics.add(name="Stop Clinic", timezone=ZONE, provider="ezyvet",
                               base_url=sim.url)  # fmt: skip
    store.credentials.set(
        clinic.id,
        provider="ezyvet",
        fields={
            "partner_id": sim.partner_id,
            "client_id": sim.client_id,
            "client_secret": sim.client_secret,
        },
    )
    return clinic.id


def _running(store: Store, clinic_id: uuid.UUID, sync_type: str) -> SyncRecord:
    """A run of ``sync_type`` as a live process leaves it: ``running``, heartbeat now."""
    row = store.syncs.enqueue(clinic_id, sync_type, "api")
    assert store.syncs.start(row.id)
    found = store.syncs.get(row.id)
    assert found is not None and found.status == "running"
    return found


def _heartbeat_ago(store: Store, sync_id: uuid.UUID, age: timedelta) -> None:
    with store.db.session() as session:
        session.execute(
            update(ScheduleSync)
            .where(ScheduleSync.id == sync_id)
            .values(heartbeat_at=utcnow() - age)
        )


def _until(what: str, found: Callable[[], SyncRecord | None]) -> SyncRecord:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        row = found()
        if row is not None:
            return row
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {DEADLINE_S} s")


def _cli_row(store: Store, clinic_id: uuid.UUID, sync_type: str) -> SyncRecord | None:
    rows = [r for r in store.syncs.active(clinic_id) if r.trigger == "cli"]
    return next((r for r in rows if r.sync_type == sync_type), None)


def _start(cli: Cli, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "daemon", "sync", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env,
    )


def test_ctrl_c_while_waiting_interrupts_the_sync_and_says_so(
    cli: Cli, store: Store, clinic_id: uuid.UUID
) -> None:
    """Ctrl-C on a sync waiting behind the clinic's running one: its row ends ``interrupted``
    (not left ``queued`` for the next run to trip over), and the output says so."""
    blocker = _running(store, clinic_id, "reconciliation")
    process = _start(cli, "inbound", "--clinic", str(clinic_id), "--json")
    try:
        waiting = _until("queued CLI sync", lambda: _cli_row(store, clinic_id, "inbound"))
        assert waiting.status == "queued"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=DEADLINE_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    row = store.syncs.get(waiting.id)
    assert row is not None and row.status == "interrupted", (row, err)
    assert process.returncode == 1, err
    result = json.loads(out)
    assert result["syncId"] == str(waiting.id) and result["status"] == "interrupted"
    still = store.syncs.get(blocker.id)
    assert still is not None and still.status == "running"  # the other run is not ours to stop


def test_ctrl_c_while_running_interrupts_the_sync(
    cli: Cli, store: Store, clinic_id: uuid.UUID, sim: EzyVetSimulator
) -> None:
    """Ctrl-C on a running sync stuck in a PIMS call: the row ends ``interrupted`` before the
    command exits, so the next ``pims-sync sync`` is not refused as already running."""
    sim.set_faults(latency_ms=60_000)  # every ezyVet request hangs for a minute
    process = _start(cli, "cases", "--clinic", str(clinic_id), "--json")
    try:
        running = _until(
            "running CLI sync",
            lambda: next(
                (
                    r
                    for r in [_cli_row(store, clinic_id, "cases")]
                    if r is not None and r.status == "running"
                ),
                None,
            ),
        )
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=DEADLINE_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        sim.reset_faults()
    row = store.syncs.get(running.id)
    assert row is not None and row.status == "interrupted", (row, err)
    assert process.returncode == 1
    assert json.loads(out)["status"] == "interrupted"
    again = cli("sync", "cases", "--clinic", str(clinic_id), "--json")
    assert again.code == 0, again.stderr
    assert json.loads(again.stdout)["status"] == "completed"


def test_a_dead_run_does_not_block_the_next_sync_when_no_daemon_sweeps(
    cli: Cli, store: Store, clinic_id: uuid.UUID
) -> None:
    """A ``running`` row whose process died (heartbeat stopped over 2 minutes ago) is marked
    ``interrupted`` by the CLI as the daemon's sweeper would, instead of a 409 for good."""
    dead = _running(store, clinic_id, "reconciliation")
    _heartbeat_ago(store, dead.id, timedelta(minutes=3))
    done = cli("sync", "reconciliation", "--clinic", str(clinic_id), "--json")
    assert done.code == 0, (done.stdout, done.stderr)
    result = json.loads(done.stdout)
    assert result["status"] == "completed" and result["syncId"] != str(dead.id)
    swept = store.syncs.get(dead.id)
    assert swept is not None and swept.status == "interrupted"
    assert str(dead.id) in done.stderr  # the operator is told which run was closed


def test_a_live_run_still_refuses_a_second_sync_of_its_type(
    cli: Cli, store: Store, clinic_id: uuid.UUID
) -> None:
    live = _running(store, clinic_id, "reconciliation")
    _heartbeat_ago(store, live.id, timedelta(seconds=30))
    done = cli("sync", "reconciliation", "--clinic", str(clinic_id), "--json")
    assert done.code == 1
    assert json.loads(done.stdout)["error"]["code"] == "sync_in_progress"
    row = store.syncs.get(live.id)
    assert row is not None and row.status == "running"


def test_a_sync_waiting_behind_a_run_that_dies_goes_ahead(
    cli: Cli, store: Store, clinic_id: uuid.UUID
) -> None:
    """The run ahead stops beating while this sync waits for it: once its heartbeat is past
    the limit, it is marked ``interrupted`` and this sync runs."""
    dying = _running(store, clinic_id, "reconciliation")
    # Two seconds short of the limit: it is alive when the command starts, dead soon after.
    _heartbeat_ago(store, dying.id, timedelta(minutes=2) - timedelta(seconds=2))
    done = cli("sync", "inbound", "--clinic", str(clinic_id), "--json")
    result = json.loads(done.stdout)
    swept = store.syncs.get(dying.id)
    assert swept is not None and swept.status == "interrupted"
    assert result["status"] in ("completed", "partial"), done.stderr  # ezyVet: no hours → partial
    assert result["syncId"] != str(dying.id)
