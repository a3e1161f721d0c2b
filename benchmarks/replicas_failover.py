"""Replicas on one PostgreSQL: how fast clinics move, what a trigger to a non-owner costs, what
the lease loop costs the database, and how fast a joining replica gets its share.

    .venv/bin/python benchmarks/replicas_failover.py [--ttl 5] [--kills 10] [--triggers 30]

Prints:
- fail-over time after kill -9 (from the kill until every clinic of the dead replica has a
  live owner in ``clinic_leases``), median and worst over ``--kills`` kills, against the TTL;
- trigger latency (from the request until the row is final, read from the database every few
  milliseconds) sent to the clinic's owner and to a non-owner, p50 and p90, and the extra;
- statements per second the lease loop of one replica holding 1,000 clinics costs, measured
  at a short TTL and scaled to the default (30 s);
- time for a joining replica to reach an even spread (from its /ready).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actors.directory import ClinicDirectory  # noqa: E402
from actors.lease_keeper import LeaseKeeper  # noqa: E402
from actors.messages import LeaseTick  # noqa: E402
from daemon.store import Database  # noqa: E402
from daemon.store.leases import LeaseStore  # noqa: E402
from daemon.store.migrate import upgrade  # noqa: E402
from providers.idexx_neo.simulator import SimulatorServer  # noqa: E402
from tests.daemon_process import wait_for  # noqa: E402
from tests.replicas.harness import Cluster, create_database  # noqa: E402

CLINICS = 12


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def failover(cluster: Cluster, kills: int, ttl: float) -> None:
    names = iter(f"r{i}" for i in range(100))
    live = [next(names), next(names)]
    cluster.start(*live)
    wait_for(lambda: sum(cluster.spread().values()) == CLINICS, 4 * ttl, "all clinics held")
    times: list[float] = []
    for _ in range(kills):
        victim = max(live, key=lambda n: cluster.spread().get(n, 0))
        theirs = {c for c, o in cluster.owners().items() if o == victim}
        killed = time.monotonic()
        cluster.replicas[victim].kill()
        survivors = {n for n in live if n != victim}

        def moved(theirs: set[uuid.UUID], survivors: set[str]) -> bool:
            owners = cluster.owners()
            return all(owners.get(c) in survivors for c in theirs)

        deadline = killed + ttl * 3 + 10
        while not moved(theirs, survivors):
            if time.monotonic() > deadline:
                raise RuntimeError("clinics did not move")
            time.sleep(0.01)
        times.append(time.monotonic() - killed)
        live.remove(victim)
        replacement = next(names)
        cluster.start(replacement)
        live.append(replacement)
        wait_for(
            lambda: sorted(cluster.spread().values()) == [CLINICS // 2, CLINICS // 2],
            6 * ttl,
            "even again",
        )
    print(
        f"fail-over after kill -9 ({kills} kills, LEASE_TTL_S={ttl:g}): "
        f"median {statistics.median(times):.2f} s, worst {max(times):.2f} s "
        f"(promise: within TTL + 5 s = {ttl + 5:g} s)"
    )
    for name in live:
        cluster.replicas[name].close()


def trigger_latency(cluster: Cluster, rounds: int) -> None:
    names = ["t1", "t2"]
    cluster.start(*names)
    wait_for(lambda: sorted(cluster.spread().values()) == [6, 6], 30, "even spread")

    def once(via_owner: bool, clinic: uuid.UUID) -> float:
        owner = cluster.owner_of(clinic)
        target = owner if via_owner else next(n for n in names if n != owner)
        began = time.monotonic()
        answer = cluster.replicas[str(target)].post(
            "reconciliation", cluster.keys[clinic], asynchronous=True
        )
        sync_id = answer.json()["syncId"]
        while cluster.sync_row(sync_id).status not in ("completed", "partial", "failed"):
            time.sleep(0.003)
        return time.monotonic() - began

    def waited(via_owner: bool, clinic: uuid.UUID) -> float:
        """A synchronous trigger: the request waits for the end (woken by NOTIFY there)."""
        owner = cluster.owner_of(clinic)
        target = owner if via_owner else next(n for n in names if n != owner)
        began = time.monotonic()
        answer = cluster.replicas[str(target)].post("reconciliation", cluster.keys[clinic])
        assert answer.status_code == 200, answer.text
        return time.monotonic() - began

    owner_times: list[float] = []
    other_times: list[float] = []
    for index in range(rounds):
        clinic = cluster.clinics[index % CLINICS]
        # Alternate which goes first, so a warm cache favours neither.
        if index % 2:
            other_times.append(once(False, clinic))
            owner_times.append(once(True, clinic))
        else:
            owner_times.append(once(True, clinic))
            other_times.append(once(False, clinic))
    waited_owner: list[float] = []
    waited_other: list[float] = []
    for index in range(rounds):
        clinic = cluster.clinics[index % CLINICS]
        if index % 2:
            waited_other.append(waited(False, clinic))
            waited_owner.append(waited(True, clinic))
        else:
            waited_owner.append(waited(True, clinic))
            waited_other.append(waited(False, clinic))
    w_owner, w_other = percentile(waited_owner, 0.5), percentile(waited_other, 0.5)
    print(
        f"synchronous trigger, request to answer ({rounds} each): via owner p50"
        f" {w_owner * 1000:.0f} ms, via non-owner p50 {w_other * 1000:.0f} ms;"
        f" extra at p50 {(w_other - w_owner) * 1000:.0f} ms (target <= 50 ms)"
    )
    p50_owner, p50_other = percentile(owner_times, 0.5), percentile(other_times, 0.5)
    print(
        f"trigger to the end of the sync ({rounds} each): via owner p50 {p50_owner * 1000:.0f} ms"
        f" p90 {percentile(owner_times, 0.9) * 1000:.0f} ms; via non-owner p50"
        f" {p50_other * 1000:.0f} ms p90 {percentile(other_times, 0.9) * 1000:.0f} ms;"
        f" extra at p50 {(p50_other - p50_owner) * 1000:.0f} ms (target <= 50 ms)"
    )
    for name in names:
        cluster.replicas[name].close()


def joining(cluster: Cluster, ttl: float) -> None:
    cluster.start("j1", "j2")
    wait_for(lambda: sorted(cluster.spread().values()) == [6, 6], 30, "even over two")
    (joiner,) = cluster.start("j3")
    ready = time.monotonic()
    while sorted(cluster.spread().values()) != [4, 4, 4]:
        if time.monotonic() - ready > 10 * ttl:
            raise RuntimeError(f"never even: {cluster.spread()}")
        time.sleep(0.01)
    print(
        f"joining replica: even spread (4/4/4 of {CLINICS}) {time.monotonic() - ready:.2f} s "
        f"after its /ready (renewal period {ttl / 3:.2f} s)"
    )
    for name in ("j1", "j2", "j3"):
        cluster.replicas[name].close()
    del joiner


def loop_cost(url: str, clinics: int, ttl: float, seconds: float) -> None:
    from sqlalchemy import text

    db = Database(url)
    upgrade(db.engine)
    with db.engine.begin() as connection:
        connection.execute(text("TRUNCATE clinics CASCADE"))
        connection.execute(
            text(
                "INSERT INTO clinics (id, name, timezone, pims_provider, is_active, created_at,"
                " updated_at) SELECT gen_random_uuid(), 'c' || g, 'UTC', 'idexx-neo', true,"
                " now(), now() FROM generate_series(1, :n) g"
            ),
            {"n": clinics},
        )
    leases = LeaseStore(db, "loop", ttl)
    directory = ClinicDirectory()
    directory.use_leases("loop", ttl, lambda _c, _s: None)
    keeper = LeaseKeeper.start(leases=leases, directory=directory, on_change=lambda: None)
    try:
        keeper.ask(LeaseTick())
        wait_for(lambda: len(directory.held() or ()) == clinics, 30, "all leases held")
        start_count, began = leases.statements, time.monotonic()
        durations: list[float] = []
        stop = threading.Event()
        stop.wait(seconds)
        rate = (leases.statements - start_count) / (time.monotonic() - began)
        for _ in range(5):
            t0 = time.monotonic()
            leases.renew(draining=False)
            durations.append(time.monotonic() - t0)
    finally:
        keeper.stop()
        db.dispose()
    scaled = rate * ttl / 30.0
    print(
        f"lease loop, one replica holding {clinics} clinics: {rate:.2f} statements/s at "
        f"LEASE_TTL_S={ttl:g} → {scaled:.2f} statements/s at the default 30 s (target <= 1); "
        f"one renewal of all {clinics} leases takes {statistics.median(durations) * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ttl", type=float, default=5.0)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--triggers", type=int, default=30)
    parser.add_argument("--loop-seconds", type=float, default=20.0)
    args = parser.parse_args()

    url, drop = create_database()
    try:
        loop_cost(url, 1000, 6.0, args.loop_seconds)
    finally:
        drop()
    with tempfile.TemporaryDirectory() as tmp, SimulatorServer() as simulator:
        url, drop = create_database()
        cluster = Cluster(url, simulator.url, Path(tmp), ttl_s=args.ttl)
        cluster.env["LOG_LEVEL"] = "WARNING"
        try:
            cluster.seed(CLINICS)
            trigger_latency(cluster, args.triggers)
            joining(cluster, args.ttl)
            failover(cluster, args.kills, args.ttl)
        finally:
            cluster.close()
            drop()


if __name__ == "__main__":
    main()
