"""The sync engine's repositories on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from daemon.store import Store
from daemon.store.appointments import AppointmentRepository
from daemon.store.audits import AuditRepository
from daemon.store.cases import COPY_THRESHOLD, CaseRepository, CaseWrite, StoredCase
from daemon.store.slots import Slot, SlotRepository

T0 = datetime(2026, 3, 4, 17, 0, tzinfo=UTC)


def clinic_id(store: Store) -> uuid.UUID:
    return store.clinics.add(name="Store", timezone="UTC", provider="idexx-neo", base_url=None).id


def case_row(clinic: uuid.UUID, n: int, generation: int = 1) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "clinic_id": clinic,
        "external_id": f"pims-appt-idexx-neo-{n}",
        "source": "pims:idexx-neo",
        "status": "completed",
        "type": "checkup",
        "scheduled_at": T0 + timedelta(minutes=n),
        "metadata": {
            "pimsAppointment": {"id": str(n), "patient": {"name": "Søren"}},
            "generation": generation,
            "note": None,
        },
        "sync_hash": f"{generation:064d}",
        "created_at": T0,
        "updated_at": T0 + timedelta(seconds=generation),
        "deleted_at": None,
    }


@pytest.mark.parametrize("count", [3, COPY_THRESHOLD + 20])
def test_case_writes_insert_then_update_on_both_paths(store: Store, count: int) -> None:
    clinic = clinic_id(store)
    repo = CaseRepository(store.db)
    repo.write([CaseWrite(case_row(clinic, n)) for n in range(count)])
    first = {c.external_id: c for c in repo.all_for_clinic(clinic)}
    assert len(first) == count
    repo.write([CaseWrite(case_row(clinic, n, generation=2)) for n in range(count)])
    second = {c.external_id: c for c in repo.all_for_clinic(clinic)}
    assert len(second) == count
    sample = second["pims-appt-idexx-neo-2"]
    assert sample.id == first["pims-appt-idexx-neo-2"].id  # updated in place, id kept
    assert sample.meta == {
        "pimsAppointment": {"id": "2", "patient": {"name": "Søren"}},
        "generation": 2,
        "note": None,
    }
    assert sample.scheduled_at == T0 + timedelta(minutes=2)
    assert sample.updated_at == T0 + timedelta(seconds=2)
    assert sample.created_at == T0
    found = repo.by_external_ids(clinic, ["pims-appt-idexx-neo-1", "missing"])
    assert set(found) == {"pims-appt-idexx-neo-1"}


def test_duplicate_keys_in_one_write_keep_the_last(store: Store) -> None:
    clinic = clinic_id(store)
    repo = CaseRepository(store.db)
    repo.write([CaseWrite(case_row(clinic, 1)), CaseWrite(case_row(clinic, 1, generation=5))])
    (only,) = repo.all_for_clinic(clinic)
    assert only.meta["generation"] == 5


def test_naive_timestamps_are_refused(store: Store) -> None:
    clinic = clinic_id(store)
    row = case_row(clinic, 1)
    row["scheduled_at"] = datetime(2026, 3, 4, 9, 0)
    with pytest.raises(Exception, match="timezone-aware"):
        CaseRepository(store.db).write([CaseWrite(row)])


def test_a_row_edited_since_it_was_read_is_rebased(store: Store) -> None:
    clinic = clinic_id(store)
    repo = CaseRepository(store.db)
    repo.write([CaseWrite(case_row(clinic, 1))])
    (seen,) = repo.all_for_clinic(clinic)
    # Staff change the status after the sync read the row.
    edited = seen.row()
    edited.update(status="reviewed", updated_at=T0 + timedelta(hours=1))
    repo.write([CaseWrite(edited)])

    ours = seen.row()
    ours.update(metadata={**seen.meta, "generation": 9}, updated_at=T0 + timedelta(hours=2))
    calls: list[StoredCase] = []

    def rebase(write: CaseWrite, current: StoredCase) -> CaseWrite:
        calls.append(current)
        row = current.row()
        row.update(metadata=write.row["metadata"], updated_at=write.row["updated_at"])
        return CaseWrite(row, based_on=current)

    written = repo.write([CaseWrite(ours, based_on=seen)], rebase=rebase)
    assert [c.status for c in calls] == ["reviewed"]
    assert len(written) == 1
    (now,) = repo.all_for_clinic(clinic)
    assert (now.status, now.meta["generation"]) == ("reviewed", 9)


def test_unchanged_rows_are_not_rebased(store: Store) -> None:
    clinic = clinic_id(store)
    repo = CaseRepository(store.db)
    repo.write([CaseWrite(case_row(clinic, 1))])
    (seen,) = repo.all_for_clinic(clinic)
    ours = seen.row()
    ours.update(status="ongoing")

    def never(write: CaseWrite, current: StoredCase) -> CaseWrite:
        raise AssertionError("nothing changed in between")

    repo.write([CaseWrite(ours, based_on=seen)], rebase=never)
    assert repo.all_for_clinic(clinic)[0].status == "ongoing"


def slot(hour: int, booked: int = 0, day: date = date(2026, 3, 4)) -> Slot:
    start = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return Slot(
        starts_at=start,
        ends_at=start + timedelta(minutes=15),
        local_date=day,
        local_start=f"{hour:02d}:00",
        capacity=2,
        booked=booked,
    )


def test_slots_replace_a_range_writing_only_changes(store: Store) -> None:
    clinic = clinic_id(store)
    repo = SlotRepository(store.db)
    day = date(2026, 3, 4)
    first = repo.replace_range(clinic, day, day, [slot(9), slot(10), slot(11)], now=T0)
    assert (first.written, first.removed) == (3, 0)
    again = repo.replace_range(clinic, day, day, [slot(9), slot(10), slot(11)], now=T0)
    assert (again.written, again.removed) == (0, 0)
    changed = repo.replace_range(clinic, day, day, [slot(9), slot(10, booked=1)], now=T0)
    assert (changed.written, changed.removed) == (1, 1)
    assert [(s.local_start, s.booked) for s in repo.in_range(clinic, day, day)] == [
        ("09:00", 0),
        ("10:00", 1),
    ]
    with pytest.raises(ValueError, match="outside"):
        repo.replace_range(clinic, day, day, [slot(9, day=date(2026, 3, 5))], now=T0)


def appointment_row(clinic: uuid.UUID, ident: str, hour: int) -> dict[str, Any]:
    start = datetime(2026, 3, 4, hour, tzinfo=UTC)
    return {
        "id": uuid.uuid4(), "clinic_id": clinic, "external_id": ident, "starts_at": start,
        "ends_at": start + timedelta(minutes=30), "local_date": date(2026, 3, 4),
        "patient_name": "Biscuit", "client_name": "Alex Doe", "client_phone": None,
        "provider_name": None, "room_id": None, "appointment_type": "Exam", "title": None,
        "consultation_id": None, "status": "scheduled", "is_block": False,
        "sync_hash": f"h{hour}", "last_synced_at": T0, "deleted_at": None,
        "created_at": T0, "updated_at": T0,
    }  # fmt: skip


def test_appointments_apply_upserts_touches_and_soft_deletes(store: Store) -> None:
    clinic = clinic_id(store)
    repo = AppointmentRepository(store.db)
    day = date(2026, 3, 4)
    rows = [appointment_row(clinic, "a", 9), appointment_row(clinic, "b", 10)]
    assert repo.apply(clinic, upserts=rows, unchanged=[], removed=[], at=T0) == 0
    later = T0 + timedelta(hours=1)
    assert repo.apply(clinic, upserts=[], unchanged=["a"], removed=["b"], at=later) == 1
    assert repo.apply(clinic, upserts=[], unchanged=[], removed=["b"], at=later) == 0
    known = repo.known(clinic, ["a"], day, day)
    assert set(known) == {"a", "b"}
    assert known["b"].deleted_at == later and known["a"].deleted_at is None
    assert [r.external_id for r in repo.in_range(clinic, day, day)] == ["a"]


def test_audit_rows_open_and_close(store: Store) -> None:
    clinic = clinic_id(store)
    sync = store.syncs.enqueue(clinic, "cases", "cli")
    audits = AuditRepository(store.db)
    audit_id = audits.start(
        clinic_id=clinic,
        sync_id=sync.id,
        sync_type="full",
        start_date=date(2026, 3, 3),
        end_date=date(2026, 3, 4),
    )
    running = audits.for_sync(sync.id)
    assert running is not None and running.status == "running"
    audits.finish(
        audit_id,
        status="partial",
        stats={"total": 5, "created": 2, "updated": 1, "skipped": 1, "failed": 1, "deleted": 0},
        errors=[{"code": "pims_unavailable", "message": "x", "itemId": "1"}],
    )
    done = audits.for_sync(sync.id)
    assert done is not None
    assert (done.status, done.appointments_found, done.cases_created, done.cases_failed) == (
        "partial",
        5,
        2,
        1,
    )
    assert done.completed_at is not None and done.errors[0]["itemId"] == "1"
