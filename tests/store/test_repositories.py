from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from daemon.store import Store
from daemon.store.apikeys import KEY_PATTERN, hash_key
from daemon.store.clinics import ClinicNotFound, ScheduleEntry
from daemon.store.models import PimsAppointment, PimsSession
from daemon.store.syncs import SyncInProgress
from daemon.store.types import utcnow
from daemon.store.upsert import upsert
from providers.base import Credentials


def _clinic(store: Store, name: str = "Alum Rock") -> uuid.UUID:
    return store.clinics.add(
        name=name, timezone="America/Los_Angeles", provider="idexx-neo", base_url=None
    ).id


def test_clinic_add_creates_its_schedule_config_with_defaults(store: Store) -> None:
    clinic = store.clinics.get(_clinic(store))
    assert (clinic.horizon_days, clinic.default_capacity, clinic.slot_minutes) == (14, 2, None)
    assert clinic.schedules == ()


def test_clinic_update_and_unknown_clinic(store: Store) -> None:
    clinic_id = _clinic(store)
    updated = store.clinics.update(clinic_id, name="Renamed", is_active=False, horizon_days=21)
    assert (updated.name, updated.is_active, updated.horizon_days) == ("Renamed", False, 21)
    assert [c.id for c in store.clinics.list(active_only=True)] == []
    with pytest.raises(ClinicNotFound):
        store.clinics.update(uuid.uuid4(), name="x")


def test_schedule_entries_one_per_type(store: Store) -> None:
    clinic_id = _clinic(store)
    store.clinics.set_schedule(clinic_id, ScheduleEntry("cases", "0 8 * * *"))
    store.clinics.set_schedule(clinic_id, ScheduleEntry("inbound", "0 6 * * *"))
    clinic = store.clinics.set_schedule(clinic_id, ScheduleEntry("cases", "0 9 * * *", False))
    assert [(e.type, e.cron, e.enabled) for e in clinic.schedules] == [
        ("inbound", "0 6 * * *", True),
        ("cases", "0 9 * * *", False),
    ]
    clinic = store.clinics.remove_schedule(clinic_id, "inbound")
    assert [e.type for e in clinic.schedules] == ["cases"]


def test_credentials_round_trip_and_replacing_drops_session(store: Store) -> None:
    clinic_id = _clinic(store)
    store.credentials.set(
        clinic_id,
        provider="idexx-neo",
        fields={"username": "vet", "password": "pw-1", "company_id": "acme"},
    )
    sessions = store.session_store(clinic_id)
    sessions.save('{"cookies": []}', utcnow() + timedelta(hours=1))
    assert sessions.load() == '{"cookies": []}'
    store.credentials.set(
        clinic_id, provider="idexx-neo", fields={"username": "vet", "password": "pw-2"}
    )
    creds = store.credentials.get(clinic_id)
    assert creds == Credentials.of(username="vet", password="pw-2")
    assert sessions.load() is None
    with store.db.session() as session:
        assert session.scalar(select(func.count()).select_from(PimsSession)) == 0


def test_expired_session_is_not_returned(store: Store) -> None:
    clinic_id = _clinic(store)
    sessions = store.session_store(clinic_id)
    sessions.save("state", utcnow() - timedelta(seconds=1))
    assert sessions.load() is None


def test_api_keys_are_stored_as_hash_and_prefix(store: Store) -> None:
    clinic_id = _clinic(store)
    view, key = store.keys.create(clinic_id, name="phone agent", expires_in_days=30)
    assert KEY_PATTERN.fullmatch(key)
    assert view.prefix == key[:12] and len(view.prefix) == 12
    assert set(view.permissions) == {
        "sync:inbound",
        "sync:cases",
        "sync:reconciliation",
        "sync:read",
    }
    owner = store.keys.lookup(key)
    assert owner is not None and owner.clinic_id == clinic_id and owner.is_active
    assert store.keys.lookup(key[:-1] + ("x" if key[-1] != "x" else "y")) is None
    revoked = store.keys.revoke(view.id)
    assert revoked is not None and not revoked.is_active
    owner = store.keys.lookup(key)
    assert owner is not None and not owner.is_active
    from daemon.store.models import ClinicApiKey

    with store.db.session() as session:
        row = session.get(ClinicApiKey, view.id)
        assert row is not None and row.key_hash == hash_key(key) and key not in row.key_hash


def test_one_active_sync_per_type_and_one_running_per_clinic(store: Store) -> None:
    clinic_id = _clinic(store)
    first = store.syncs.enqueue(clinic_id, "cases", "api")
    with pytest.raises(SyncInProgress) as caught:
        store.syncs.enqueue(clinic_id, "cases", "schedule")
    assert caught.value.sync_id == first.id
    other = store.syncs.enqueue(clinic_id, "inbound", "api")
    assert store.syncs.start(first.id)
    assert not store.syncs.start(other.id)  # the clinic already runs one sync
    store.syncs.finish(first.id, status="completed", stats={"total": 0}, errors=[], error_code=None)
    assert store.syncs.start(other.id)
    again = store.syncs.enqueue(clinic_id, "cases", "cli")
    assert again.status == "queued"


def test_stale_running_and_leftover_queued_syncs_are_interrupted(store: Store) -> None:
    clinic_id = _clinic(store)
    running = store.syncs.enqueue(clinic_id, "cases", "api")
    store.syncs.start(running.id)
    queued = store.syncs.enqueue(clinic_id, "inbound", "api")
    later = utcnow() + timedelta(minutes=3)
    ids = store.syncs.interrupt_stale(
        heartbeat_older_than=timedelta(minutes=2), include_queued=True, now=later
    )
    assert set(ids) == {running.id, queued.id}
    record = store.syncs.get(running.id)
    assert record is not None and record.status == "interrupted"
    assert record.errors[0]["code"] == "interrupted"


def test_upsert_is_batched_and_idempotent(store: Store) -> None:
    clinic_id = _clinic(store)
    now = utcnow()
    rows = [
        dict(
            id=uuid.uuid4(),
            clinic_id=clinic_id,
            external_id=str(500000 + i),
            starts_at=now,
            ends_at=now + timedelta(minutes=15),
            local_date=now.date(),
            status="scheduled",
            is_block=False,
            last_synced_at=now,
            created_at=now,
            updated_at=now,
        )
        for i in range(1200)
    ]
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT"):
            statements.append(statement)

    event.listen(store.db.engine, "before_cursor_execute", count)
    try:
        for _ in range(2):
            with store.db.session() as session:
                upsert(
                    session,
                    PimsAppointment.__table__,  # type: ignore[arg-type]
                    rows,
                    conflict_columns=["clinic_id", "external_id"],
                    update_columns=["starts_at", "status"],
                    batch_size=500,
                )
    finally:
        event.remove(store.db.engine, "before_cursor_execute", count)
    assert len(statements) == 6  # 3 batches, twice: never one statement per row
    with store.db.session() as session:
        assert session.scalar(select(func.count()).select_from(PimsAppointment)) == 1200
