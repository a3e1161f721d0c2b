"""Several `pims-sync run` replicas on one PostgreSQL (replicas.md): every clinic served by
exactly one replica, fail-over after kill -9 and SIGSTOP, hand-over on SIGTERM and when a
replica joins, triggers from any replica, and cron ticks run once across all of it.

One scenario over one cluster (the tests run in file order and share it), so that the whole
file stays within two minutes: starting replicas is what costs. The clinics' cron runs a
reconciliation every minute throughout; the last test checks that no tick ran twice and none
was lost.
"""

from __future__ import annotations

import signal
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from providers.idexx_neo.simulator import SimulatorServer
from tests.daemon_process import wait_for
from tests.replicas.harness import Cluster, create_database, status_events

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

TTL_S = 4.0
CLINICS = 12
#: Promise 1: a dead replica's clinics are served again within LEASE_TTL_S + 5 s.
FAILOVER_S = TTL_S + 5


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    with SimulatorServer() as server:
        yield server


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, simulator: SimulatorServer
) -> Iterator[Cluster]:
    url, drop = create_database()
    tmp: Path = tmp_path_factory.mktemp("replicas")
    cluster = Cluster(url, simulator.url, tmp, ttl_s=TTL_S)
    try:
        cluster.seed(CLINICS, cron="* * * * *")
        cluster.started_at = datetime.now(UTC)  # type: ignore[attr-defined]
        cluster.start("a", "b", "c")
        yield cluster
    finally:
        cluster.close()
        drop()


def latency(simulator: SimulatorServer, ms: int) -> None:
    reply = requests.post(f"{simulator.url}/_sim/faults", json={"latency_ms": ms}, timeout=10)
    assert reply.status_code == 200, reply.text


def balanced(cluster: Cluster, names: set[str]) -> bool:
    spread = cluster.spread()
    share = -(-CLINICS // len(names))
    return (
        set(spread) == names
        and sum(spread.values()) == CLINICS
        and all(count <= share for count in spread.values())
    )


def held_by_health(cluster: Cluster, names: set[str]) -> dict[str, int]:
    """Clinics each replica holds and serves (its clinic actors are up), per /health."""
    counts = {}
    for name in names:
        health = cluster.replicas[name].health()
        if health["clinics"] != health["clinicsHeld"]:
            return {}
        counts[name] = int(health["clinicsHeld"])
    return counts


def test_each_clinic_has_one_owner_and_the_spread_is_even(cluster: Cluster) -> None:
    live = {"a", "b", "c"}
    wait_for(lambda: balanced(cluster, live), FAILOVER_S, "an even spread over a, b, c")
    assert sorted(cluster.spread().values()) == [4, 4, 4]
    # Each replica serves exactly the clinics it holds, and says so.
    wait_for(
        lambda: held_by_health(cluster, live) == cluster.spread(),
        10,
        "/health agrees with the leases, every held clinic served",
    )
    for name in live:
        health = cluster.replicas[name].health()
        assert health["replicaId"] == name
        assert health["clinics"] == health["clinicsHeld"] == 4
    rows = cluster.query("SELECT id FROM replicas ORDER BY id")
    assert [r.id for r in rows] == ["a", "b", "c"]
    metrics = requests.get(f"{cluster.replicas['a'].base}/metrics", timeout=10).text
    assert "pims_sync_leases_held 4.0" in metrics
    assert "pims_sync_replicas_live 3.0" in metrics


def test_trigger_on_a_non_owner_runs_on_the_owner_and_reads_from_any(cluster: Cluster) -> None:
    clinic = cluster.clinics[0]
    key = cluster.keys[clinic]
    owner = cluster.owner_of(clinic)
    others = sorted({"a", "b", "c"} - {owner})
    answer = cluster.replicas[others[0]].post("inbound", key)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "completed" and body["stats"]["appointments"] > 0
    row = cluster.sync_row(body["syncId"])
    assert row.replica_id == owner  # queued by one replica, run by the owner
    # Status and the stream from a third replica give the same answer.
    status = cluster.replicas[others[1]].get(f"/api/sync/inbound/{body['syncId']}", key)
    assert status.status_code == 200
    assert status.json()["status"] == "completed"
    stream = cluster.replicas[others[1]].get(
        f"/api/sync/inbound/{body['syncId']}/stream", key, stream=True
    )
    events = status_events(stream)
    assert events[-1][0] == "completed"
    assert events[-1][1]["syncId"] == body["syncId"]


def test_concurrent_triggers_on_two_replicas_one_runs_one_409(
    cluster: Cluster, simulator: SimulatorServer
) -> None:
    clinic = cluster.clinics[1]
    key = cluster.keys[clinic]
    answers: list[requests.Response] = []
    latency(simulator, 400)  # the sync lasts long enough for both requests to meet it
    try:
        threads = [
            threading.Thread(
                target=lambda n=n: answers.append(cluster.replicas[n].post("cases", key))
            )
            for n in ("a", "b")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        latency(simulator, 0)
    codes = sorted(a.status_code for a in answers)
    assert codes[1] == 409, [a.text for a in answers]
    assert codes[0] in (200, 202)
    winner = next(a for a in answers if a.status_code != 409).json()
    loser = next(a for a in answers if a.status_code == 409).json()
    assert loser["error"]["code"] == "sync_in_progress"
    assert loser["syncId"] == winner["syncId"]


def test_kill_9_moves_its_clinics_within_the_ttl(cluster: Cluster) -> None:
    victim = cluster.replicas["b"]
    theirs = {c for c, o in cluster.owners().items() if o == "b"}
    assert theirs
    cluster.killed_at = datetime.now(UTC)  # type: ignore[attr-defined]
    victim.kill()
    wait_for(
        lambda: all(cluster.owner_of(c) in ("a", "c") for c in theirs),
        FAILOVER_S,
        "b's clinics taken over by a or c",
    )
    wait_for(lambda: balanced(cluster, {"a", "c"}), FAILOVER_S, "6 / 6 over a and c")
    # The survivors serve them: a trigger for one of b's clinics completes.
    clinic = sorted(theirs)[0]
    answer = cluster.replicas["a"].post("inbound", cluster.keys[clinic])
    assert answer.status_code == 200 and answer.json()["status"] == "completed", answer.text


def test_a_joining_replica_gets_its_share_between_syncs(cluster: Cluster) -> None:
    joined_at = datetime.now(UTC)
    cluster.start("d")
    wait_for(lambda: balanced(cluster, {"a", "c", "d"}), 4 * TTL_S, "an even spread with d")
    assert sorted(cluster.spread().values()) == [4, 4, 4]
    interrupted = cluster.query(
        "SELECT id FROM schedule_syncs WHERE status = 'interrupted' AND completed_at > :t",
        t=joined_at,
    )
    assert interrupted == []


def test_a_frozen_replica_writes_nothing_for_clinics_it_lost(
    cluster: Cluster, simulator: SimulatorServer
) -> None:
    frozen_name = "a"
    frozen = cluster.replicas[frozen_name]
    fresh = [
        c
        for c, o in cluster.owners().items()
        if o == frozen_name
        and not cluster.query("SELECT 1 FROM pims_appointments WHERE clinic_id = :c", c=c)
    ]
    assert fresh, "a clinic of the frozen replica that was never synced"
    clinic = fresh[0]
    latency(simulator, 3000)  # the sync waits on the PIMS while the replica is frozen
    try:
        answer = frozen.post("inbound", cluster.keys[clinic], asynchronous=True)
        assert answer.status_code == 202, answer.text
        sync_id = answer.json()["syncId"]
        wait_for(lambda: cluster.sync_row(sync_id).status == "running", 30, "the sync running")
        frozen.signal(signal.SIGSTOP)
        try:
            wait_for(
                lambda: cluster.owner_of(clinic) in ("c", "d"), FAILOVER_S, "the clinic taken over"
            )
            # The new owner closes the frozen replica's row at once.
            row = wait_for(
                lambda: (r := cluster.sync_row(sync_id)).status == "interrupted" and r,
                5,
                "the frozen sync closed by the new owner",
            )
            assert row.error_code == "lease_lost"
        finally:
            latency(simulator, 0)
            frozen.signal(signal.SIGCONT)
        # Woken up, the frozen replica notices, stops the sync, and writes nothing for it.
        wait_for(lambda: "lease lost" in cluster.log_of(frozen_name), 15, "a notices the loss")
        wait_for(lambda: frozen.health()["runningSyncs"] == 0, 30, "a's sync stopped")
    finally:
        latency(simulator, 0)
    assert cluster.query("SELECT 1 FROM pims_appointments WHERE clinic_id = :c", c=clinic) == []
    assert cluster.query("SELECT 1 FROM schedule_slots WHERE clinic_id = :c", c=clinic) == []
    row = cluster.sync_row(sync_id)
    assert (row.status, row.error_code) == ("interrupted", "lease_lost")
    wait_for(lambda: balanced(cluster, {"a", "c", "d"}), 6 * TTL_S, "a rejoins the spread")


def test_sigterm_hands_leases_over_in_seconds(cluster: Cluster) -> None:
    leaving = cluster.replicas["c"]
    theirs = {c for c, o in cluster.owners().items() if o == "c"}
    assert theirs
    leaving.signal(signal.SIGTERM)
    # Well before the TTL would let them expire: released at once and claimed on NOTIFY.
    wait_for(
        lambda: all(cluster.owner_of(c) in ("a", "d") for c in theirs),
        TTL_S - 1,
        "c's clinics handed to a and d",
    )
    assert leaving.wait(30) == 0
    assert cluster.query("SELECT id FROM replicas WHERE id = 'c'") == []
    wait_for(lambda: balanced(cluster, {"a", "d"}), FAILOVER_S, "6 / 6 over a and d")


def _ticks(start: datetime, end: datetime) -> list[datetime]:
    first = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    ticks = []
    while first <= end:
        ticks.append(first)
        first += timedelta(minutes=1)
    return ticks


def test_cron_ticks_ran_once_across_all_of_it(cluster: Cluster) -> None:
    started: datetime = cluster.started_at  # type: ignore[attr-defined]
    killed: datetime = cluster.killed_at  # type: ignore[attr-defined]
    # Every tick of the scenario, up to and including the first one after the kill -9.
    last_tick = _ticks(killed + timedelta(seconds=1), killed + timedelta(minutes=2))[0]

    def ran(tick: datetime) -> bool:
        return (
            len(
                cluster.query(
                    "SELECT DISTINCT clinic_id FROM schedule_syncs"
                    " WHERE trigger = 'schedule' AND scheduled_for = :t",
                    t=tick,
                )
            )
            == CLINICS
        )

    wait_for(
        lambda: datetime.now(UTC) > last_tick and ran(last_tick),
        (last_tick - datetime.now(UTC)).total_seconds() + 30,
        "every clinic ran the last tick",
    )
    rows: list[Any] = cluster.query(
        "SELECT clinic_id, scheduled_for, count(*) AS n FROM schedule_syncs"
        " WHERE trigger = 'schedule' GROUP BY clinic_id, scheduled_for"
    )
    assert all(r.n == 1 for r in rows), "a tick ran twice"
    seen = {(r.clinic_id, r.scheduled_for) for r in rows}
    for tick in _ticks(started + timedelta(seconds=30), last_tick):
        missing = [c for c in cluster.clinics if (c, tick) not in seen]
        assert missing == [], f"tick {tick} lost for {len(missing)} clinic(s)"
    assert all(isinstance(c, uuid.UUID) for c, _ in seen)
