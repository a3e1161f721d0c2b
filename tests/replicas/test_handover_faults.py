"""Hand-overs under faults (replicas.md promises 1, 3 and 4): a trigger sent to a replica that
does not hold the clinic while its owner drains, a queued row nobody announced, a replica cut
off from the database for longer than the TTL.

Each test starts its own small cluster (two replicas) on a throwaway database.
"""

from __future__ import annotations

import signal
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import make_url

from daemon.store import Database, SecretBox, Store
from providers.idexx_neo.simulator import SimulatorServer
from tests.daemon_process import wait_for
from tests.replicas.harness import KEY, Cluster, Replica, create_database, status_events
from tests.replicas.proxy import CuttableProxy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

TTL_S = 4.0
FINAL = ("completed", "partial", "failed", "interrupted")


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    with SimulatorServer() as server:
        yield server


@pytest.fixture
def cluster(tmp_path: Path, simulator: SimulatorServer) -> Iterator[Cluster]:
    url, drop = create_database()
    cluster = Cluster(url, simulator.url, tmp_path, ttl_s=TTL_S)
    try:
        cluster.seed(2)
        yield cluster
    finally:
        cluster.close()
        drop()


def faults(simulator: SimulatorServer, **knobs: Any) -> None:
    reply = requests.post(f"{simulator.url}/_sim/faults", json=knobs, timeout=10)
    assert reply.status_code == 200, reply.text


def one_each(cluster: Cluster, names: set[str]) -> dict[str, uuid.UUID]:
    """Wait until each replica holds one clinic; replica → its clinic."""

    def spread() -> dict[str, uuid.UUID] | None:
        owners = cluster.owners()
        if sorted(o for o in owners.values() if o) != sorted(names):
            return None
        return {o: c for c, o in owners.items() if o is not None}

    found: dict[str, uuid.UUID] = wait_for(spread, 4 * TTL_S, f"one clinic each on {names}")
    return found


def serves_what_it_holds(replica: Replica, count: int) -> bool:
    health = replica.health()
    return bool(health["clinics"] == health["clinicsHeld"] == count)


def test_a_trigger_sent_to_a_non_owner_while_the_owner_drains_runs_once_on_the_next_owner(
    cluster: Cluster, simulator: SimulatorServer
) -> None:
    """The owner is busy with a sync when SIGTERM comes; a trigger for the same clinic lands on
    the other replica meanwhile. The draining owner must leave it queued (it starts nothing
    new), and the replica that takes the clinic over runs it: the waiting caller and a stream
    opened on the receiving replica see it complete."""
    cluster.start("a", "b", SHUTDOWN_GRACE_S="15")
    clinic = one_each(cluster, {"a", "b"})["b"]
    key = cluster.keys[clinic]
    owner, receiver = cluster.replicas["b"], cluster.replicas["a"]

    faults(simulator, hang=["calendar"])  # the owner's sync stays running into its drain
    busy = owner.post("cases", key, asynchronous=True)
    assert busy.status_code == 202, busy.text
    busy_id = busy.json()["syncId"]
    wait_for(lambda: cluster.sync_row(busy_id).status == "running", 30, "b's cases sync running")

    owner.signal(signal.SIGTERM)
    answers: list[requests.Response] = []
    waiting = threading.Thread(target=lambda: answers.append(receiver.post("inbound", key)))
    waiting.start()
    try:
        row = wait_for(
            lambda: cluster.query(
                "SELECT id FROM schedule_syncs WHERE clinic_id = :c AND sync_type = 'inbound'",
                c=clinic,
            ),
            10,
            "the trigger queued by a",
        )
        sync_id = str(row[0].id)
        # b's sync now ends within its grace; b then starts nothing more and hands over.
        faults(simulator, hang=[])
        assert owner.wait(30) == 0
        busy_final = cluster.sync_row(busy_id)
        assert busy_final.status == "completed"
    finally:
        faults(simulator, hang=[])
        waiting.join(60)
    assert answers, "the waiting trigger never answered"
    body = answers[0].json()
    assert answers[0].status_code == 200, body
    assert body["syncId"] == sync_id
    assert body["status"] == "completed", body
    final = cluster.sync_row(sync_id)
    assert (final.status, final.replica_id) == ("completed", "a")
    inbound = cluster.query(
        "SELECT id FROM schedule_syncs WHERE clinic_id = :c AND sync_type = 'inbound'", c=clinic
    )
    assert len(inbound) == 1  # exactly once
    stream = receiver.get(f"/api/sync/inbound/{sync_id}/stream", key, stream=True, timeout=30)
    events = status_events(stream)
    assert events[-1][0] == "completed"


def test_a_queued_sync_nobody_announced_is_run_by_the_owner_from_the_slow_poll(
    cluster: Cluster,
) -> None:
    """NOTIFY lost: a row queued with no notification (another process, a lost message)
    is still found by the owner's renewal round and run, once."""
    cluster.start("a", "b")
    clinic = one_each(cluster, {"a", "b"})["a"]
    db = Database(cluster.url)
    try:
        record = Store(db, SecretBox(KEY)).syncs.enqueue(clinic, "inbound", "api")
    finally:
        db.dispose()
    row = wait_for(
        lambda: (r := cluster.sync_row(str(record.id))).status in FINAL and r,
        3 * TTL_S,
        "the unannounced sync run by its clinic's owner",
    )
    assert (row.status, row.replica_id) == ("completed", "a")


def test_a_replica_cut_off_from_the_database_stops_claiming_its_clinics_and_comes_back(
    cluster: Cluster,
) -> None:
    """a's database connection drops for longer than the TTL: b serves both clinics within
    LEASE_TTL_S + 5 s, a no longer says it holds any (nor is ready), and once the database
    is back a rejoins: one clinic each again, each served where its lease is."""
    server = make_url(cluster.url)
    with CuttableProxy(server.host or "127.0.0.1", server.port or 5432) as proxy:
        through_proxy = server.set(host="127.0.0.1", port=proxy.port)
        cluster.start("a", DATABASE_URL=through_proxy.render_as_string(hide_password=False))
        cluster.start("b")
        clinics = one_each(cluster, {"a", "b"})
        a = cluster.replicas["a"]
        wait_for(lambda: a.health().get("clinicsHeld") == 1, 10, "a serving its clinic")

        proxy.cut()
        wait_for(
            lambda: cluster.owner_of(clinics["a"]) == "b",
            TTL_S + 5,
            "b serving a's clinic",
        )
        # a cannot know whether it still holds anything: past the TTL it claims nothing.
        wait_for(lambda: a.health().get("clinicsHeld") == 0, TTL_S, "a no longer holding")
        assert not a.ready()

        proxy.heal()
        a.wait_ready(30)
        back = one_each(cluster, {"a", "b"})
        wait_for(
            lambda: all(serves_what_it_holds(r, 1) for r in cluster.replicas.values()),
            10,
            "each replica serving exactly the clinic it holds",
        )
        answer = a.post("inbound", cluster.keys[back["a"]])
        assert answer.status_code == 200, answer.text
        row = cluster.sync_row(answer.json()["syncId"])
        assert (row.status, row.replica_id) == ("completed", "a")
        # Nothing ran on two replicas at once: no sync was cut short by a lost lease.
        assert cluster.query("SELECT id FROM schedule_syncs WHERE error_code = 'lease_lost'") == []


def test_a_replica_restarted_under_the_same_name_closes_its_previous_runs_at_once(
    cluster: Cluster, simulator: SimulatorServer
) -> None:
    """kill -9 mid-sync, then the same REPLICA_ID back within the TTL (a container restarted
    in place: same host name, same pid): it keeps its leases, so no other replica takes the
    clinic and closes the dead run. The new process ran nothing yet, so a `running` row under
    its name is its previous life's: the start-up sweep closes it, and the clinic is not
    blocked until the two-minute heartbeat rule."""
    cluster.env["LEASE_TTL_S"] = "30"  # the restart is well within the lease
    cluster.start("a", "b")
    clinic = one_each(cluster, {"a", "b"})["a"]
    key = cluster.keys[clinic]
    faults(simulator, hang=["calendar"])
    try:
        busy = cluster.replicas["a"].post("cases", key, asynchronous=True)
        assert busy.status_code == 202, busy.text
        busy_id = busy.json()["syncId"]
        wait_for(lambda: cluster.sync_row(busy_id).status == "running", 30, "a's sync running")
        cluster.replicas["a"].kill()
    finally:
        faults(simulator, hang=[])
    restarted = cluster.start("a")[0]
    assert cluster.owner_of(clinic) == "a"  # the lease never changed hands
    row = wait_for(
        lambda: (r := cluster.sync_row(busy_id)).status != "running" and r,
        10,
        "the dead process's run closed",
    )
    assert row.status == "interrupted"
    answer = restarted.post("inbound", key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "completed", answer.text
