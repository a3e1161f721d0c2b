"""The lease statements on PostgreSQL, the fence every sync write goes through, the cron tick's
unique row on both databases, and the replica settings."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from daemon.config import ConfigError, Settings
from daemon.store import Database, Store
from daemon.store.fencing import Fence, LeaseLost, fenced, unfenced
from daemon.store.leases import LeaseStore
from daemon.store.syncs import SyncInProgress, TickTaken

TTL = 30.0


@pytest.fixture
def pg(postgres_template_url: str) -> Iterator[Database]:
    from tests.conftest import _truncate_all

    _truncate_all(postgres_template_url)
    database = Database(postgres_template_url)
    yield database
    database.dispose()


def add_clinics(db: Database, count: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    now = datetime.now(UTC)
    with db.engine.begin() as connection:
        for index, clinic_id in enumerate(ids):
            connection.execute(
                text(
                    "INSERT INTO clinics (id, name, timezone, pims_provider, is_active,"
                    " created_at, updated_at) VALUES (:id, :name, 'UTC', 'idexx-neo', true,"
                    " :now, :now)"
                ),
                {"id": clinic_id, "name": f"Clinic {index}", "now": now},
            )
    return ids


def expire(db: Database, owner: str) -> None:
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE clinic_leases SET expires_at = now() - interval '1 second'"
                " WHERE owner_id = :o"
            ),
            {"o": owner},
        )


def test_claims_split_clinics_and_tokens_grow_on_every_change_of_owner(pg: Database) -> None:
    clinics = add_clinics(pg, 6)
    a, b = LeaseStore(pg, "a", TTL), LeaseStore(pg, "b", TTL)
    first = a.renew(draining=False)
    assert (first.active, first.missing, first.held) == (6, 6, {})
    a.ensure_rows()
    taken_a = a.claim(3)
    taken_b = b.claim(10)
    assert len(taken_a) == 3 and len(taken_b) == 3
    assert set(taken_a).isdisjoint(taken_b) and set(taken_a) | set(taken_b) == set(clinics)
    assert all(token == 1 and previous is None for token, previous in taken_a.values())
    # Nothing left to claim while the leases are live.
    assert b.claim(5) == {}
    # a stops renewing: b takes a's clinics over with a larger token, naming a.
    expire(pg, "a")
    over = b.claim(5)
    assert set(over) == set(taken_a)
    assert all(token == 2 and previous == "a" for token, previous in over.values())
    # a's renewal no longer returns them: lost.
    assert a.renew(draining=False).held == {}
    assert set(b.renew(draining=False).held) == set(clinics)


def test_one_renewal_statement_renews_every_lease_and_counts_the_live(pg: Database) -> None:
    add_clinics(pg, 50)
    a = LeaseStore(pg, "a", TTL)
    a.renew(draining=False)
    a.ensure_rows()
    a.claim(50)
    LeaseStore(pg, "b", TTL).renew(draining=False)
    LeaseStore(pg, "c", TTL).renew(draining=True)  # draining: counts for nobody's share
    before = a.statements
    renewal = a.renew(draining=False)
    assert a.statements == before + 1
    assert len(renewal.held) == 50 and renewal.live == 2 and renewal.active == 50
    assert (renewal.missing, renewal.claimable) == (0, 0)


def test_concurrent_claims_never_take_the_same_clinic(pg: Database) -> None:
    add_clinics(pg, 40)
    stores = [LeaseStore(pg, f"r{i}", TTL) for i in range(4)]
    stores[0].ensure_rows()
    results: list[dict[uuid.UUID, tuple[int, str | None]]] = []
    barrier = threading.Barrier(len(stores))

    def claim(store: LeaseStore) -> None:
        barrier.wait()
        results.append(store.claim(40))

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    claimed = [c for result in results for c in result]
    assert len(claimed) == len(set(claimed)) == 40


def test_release_frees_leases_at_once_and_start_up_sweep_spares_live_replicas(
    pg: Database, store_pg: Store
) -> None:
    clinics = add_clinics(pg, 2)
    a, b = LeaseStore(pg, "a", TTL), LeaseStore(pg, "b", TTL)
    a.renew(draining=False)
    a.ensure_rows()
    a.claim(2)
    assert a.release([clinics[0]]) == [clinics[0]]
    assert set(b.claim(2)) == {clinics[0]}
    # A running row of live replica a, and one of a replica that is gone.
    live_row = store_pg.syncs.enqueue(clinics[1], "inbound", "api")
    dead_row = store_pg.syncs.enqueue(clinics[0], "inbound", "api")
    with pg.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE schedule_syncs SET status = 'running', started_at = now(),"
                " replica_id = CASE WHEN id = :live THEN 'a' ELSE 'gone' END"
            ),
            {"live": live_row.id},
        )
    swept = b.sweep_dead(heartbeat_older_than=timedelta(minutes=2))
    assert swept == [dead_row.id]
    assert store_pg.syncs.get(live_row.id).status == "running"  # type: ignore[union-attr]


def test_taking_a_clinic_over_closes_the_previous_owners_running_sync(
    pg: Database, store_pg: Store
) -> None:
    (clinic,) = add_clinics(pg, 1)
    a, b = LeaseStore(pg, "a", TTL), LeaseStore(pg, "b", TTL)
    a.ensure_rows()
    a.claim(1)
    record = store_pg.syncs.enqueue(clinic, "cases", "api")
    queued = store_pg.syncs.enqueue(clinic, "inbound", "api")
    with pg.engine.begin() as connection:
        connection.execute(
            text("UPDATE schedule_syncs SET status='running', replica_id='a' WHERE id = :i"),
            {"i": record.id},
        )
    from daemon.store.audits import AuditRepository

    audits = AuditRepository(pg)
    audit = audits.start(
        clinic_id=clinic,
        sync_id=record.id,
        sync_type="full",
        start_date=datetime(2026, 3, 3).date(),
        end_date=datetime(2026, 3, 4).date(),
    )
    expire(pg, "a")
    b.claim(1)
    assert b.close_previous_runs([clinic]) == [record.id]
    with pg.engine.connect() as connection:
        audit_status = connection.execute(
            text("SELECT status FROM case_sync_audits WHERE id = :i"), {"i": audit}
        ).scalar()
    assert audit_status == "interrupted"
    closed = store_pg.syncs.get(record.id)
    assert closed is not None and (closed.status, closed.error_code) == (
        "interrupted",
        "lease_lost",
    )
    assert store_pg.syncs.get(queued.id).status == "queued"  # type: ignore[union-attr]


def test_fenced_writes_stop_once_the_lease_changes_owner(pg: Database, store_pg: Store) -> None:
    (clinic,) = add_clinics(pg, 1)
    a, b = LeaseStore(pg, "a", TTL), LeaseStore(pg, "b", TTL)
    a.ensure_rows()
    ((token, _),) = a.claim(1).values()
    record = store_pg.syncs.enqueue(clinic, "inbound", "api")
    with fenced(Fence(clinic, "a", token, TTL)):
        store_pg.syncs.set_range(
            record.id, datetime(2026, 3, 4).date(), datetime(2026, 3, 5).date()
        )
        expire(pg, "a")
        b.claim(1)
        with pytest.raises(LeaseLost):
            store_pg.syncs.heartbeat(record.id)
        with unfenced():  # the one write left: closing its own row
            store_pg.syncs.interrupt(record.id, "lease lost")
    assert store_pg.syncs.get(record.id).status == "interrupted"  # type: ignore[union-attr]


def test_a_new_owner_waits_for_a_fenced_transaction_in_flight(pg: Database) -> None:
    (clinic,) = add_clinics(pg, 1)
    a, b = LeaseStore(pg, "a", TTL), LeaseStore(pg, "b", TTL)
    a.ensure_rows()
    ((token, _),) = a.claim(1).values()
    expire(pg, "a")
    inside = threading.Event()
    finish = threading.Event()

    def write() -> None:
        with fenced(Fence(clinic, "a", token, TTL)), pg.session() as session:
            inside.set()
            finish.wait(10)
            session.execute(text("SELECT 1"))

    writer = threading.Thread(target=write)
    writer.start()
    assert inside.wait(10)
    # The lease row is share-locked by the write: the claim skips it instead of taking over
    # under a write that already passed its check.
    assert b.claim(1) == {}
    finish.set()
    writer.join(10)
    assert len(b.claim(1)) == 1


@pytest.fixture
def store_pg(pg: Database) -> Store:
    from daemon.store import SecretBox
    from tests.conftest import TEST_KEY

    return Store(pg, SecretBox(TEST_KEY))


def test_a_cron_tick_is_queued_once(store: Store) -> None:
    clinic = store.clinics.add(name="Tick", timezone="UTC", provider="idexx-neo", base_url=None)
    tick = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    first = store.syncs.enqueue(clinic.id, "inbound", "schedule", scheduled_for=tick)
    with pytest.raises(TickTaken):
        store.syncs.enqueue(clinic.id, "inbound", "schedule", scheduled_for=tick)
    store.syncs.interrupt(first.id, "done")
    # Finished, the tick still cannot run again; the next tick can.
    with pytest.raises(TickTaken):
        store.syncs.enqueue(clinic.id, "inbound", "schedule", scheduled_for=tick)
    store.syncs.enqueue(clinic.id, "inbound", "schedule", scheduled_for=tick + timedelta(minutes=1))
    with pytest.raises(SyncInProgress):
        store.syncs.enqueue(clinic.id, "inbound", "api")


def test_replica_settings() -> None:
    pg_url = "postgresql://u@h/d"
    settings = Settings.from_env({"DATABASE_URL": pg_url, "RAILWAY_REPLICA_ID": "rw-1"})
    assert (settings.enable_leases, settings.replica_id, settings.lease_ttl_s) == (True, "rw-1", 30)
    settings = Settings.from_env(
        {"DATABASE_URL": pg_url, "REPLICA_ID": "x", "LEASE_TTL_S": "5", "ENABLE_LEASES": "false"}
    )
    assert (settings.enable_leases, settings.replica_id, settings.lease_ttl_s) == (False, "x", 5)
    assert Settings.from_env({}).enable_leases is False
    assert "-" in Settings.from_env({}).replica_id  # host name + pid
    with pytest.raises(ConfigError, match="ENABLE_LEASES: leases need PostgreSQL"):
        Settings.from_env({"ENABLE_LEASES": "true"})
    with pytest.raises(ConfigError, match="LEASE_TTL_S"):
        Settings.from_env({"DATABASE_URL": pg_url, "LEASE_TTL_S": "0.5"})


def test_keeper_takes_its_share_gives_up_surplus_and_deactivated_clinics(pg: Database) -> None:
    from actors.directory import ClinicDirectory
    from actors.lease_keeper import LeaseKeeper

    clinics = add_clinics(pg, 4)
    directory = ClinicDirectory()
    changes: list[int] = []
    directory.use_leases("k", TTL, lambda _c, _s: None)
    keeper = LeaseKeeper(
        leases=LeaseStore(pg, "k", TTL),
        directory=directory,
        on_change=lambda: changes.append(1),
    )  # driven by hand: not started as an actor
    assert directory.lease_loop_fresh() == (False, "leases not renewed yet")
    assert keeper.tick()["acquired"] == 4
    assert directory.held() == set(clinics) and changes
    fresh = directory.lease_loop_fresh()
    assert fresh is not None and fresh[0]
    # A second replica appears: the share is 2, two clinics are withdrawn, then released.
    LeaseStore(pg, "other", TTL).renew(draining=False)
    keeper.tick()
    assert len(directory.held() or ()) == 2
    assert keeper.tick()["released"] == 2
    assert len(LeaseStore(pg, "other", TTL).claim(4)) == 2
    # A deactivated clinic is given up too (between syncs), without counting as lost.
    mine = sorted(directory.held() or ())
    with pg.engine.begin() as connection:
        connection.execute(
            text("UPDATE clinics SET is_active = false WHERE id = :c"), {"c": mine[0]}
        )
    first = keeper.tick()
    assert first["lost"] == 0 and directory.held() == {mine[1]}
    assert keeper.tick()["released"] == 1
    with pg.engine.connect() as connection:
        owner = connection.execute(
            text("SELECT owner_id FROM clinic_leases WHERE clinic_id = :c"), {"c": mine[0]}
        ).scalar()
    assert owner is None
