"""The ``reconciliation`` sync against the simulator: repairs, restores and its guard."""

from __future__ import annotations

from datetime import timedelta

from tests.support import TODAY
from tests.sync.conftest import YESTERDAY, Harness, finalized_with_consultation


def live_cases(harness: Harness) -> set[str]:
    return {k for k, c in harness.cases().items() if c.deleted_at is None}


def synced(harness: Harness) -> set[str]:
    """Cases for the whole lookback window (cases syncs over the last eight days)."""
    record = harness.sync("cases", start_date=TODAY - timedelta(days=7), end_date=TODAY)
    assert record.status == "completed", record.errors
    cases = live_cases(harness)
    assert len(cases) >= 20
    return cases


def test_clean_window_changes_nothing(harness: Harness) -> None:
    cases = synced(harness)
    stamps = harness.case_updated_at()
    record = harness.sync("reconciliation")
    assert record.status == "completed"
    assert record.stats["total"] == len(cases)
    assert record.stats["skipped"] == len(cases)
    assert (record.start_date, record.end_date) == (TODAY - timedelta(days=7), TODAY)
    assert harness.case_updated_at() == stamps
    audit = harness.audit(record.id)
    assert (audit.sync_type, audit.status, audit.appointments_found) == (
        "reconciliation",
        "completed",
        len(cases),
    )


def test_vanished_appointment_is_soft_deleted_then_restored_when_it_returns(
    harness: Harness,
) -> None:
    synced(harness)
    event = finalized_with_consultation(harness.sim, YESTERDAY)[0]
    appointment_id = str(event["appointment_id"])
    harness.sim.dataset.remove_event(appointment_id)

    gone = harness.sync("reconciliation")
    assert gone.status == "completed"
    assert gone.stats["deleted"] == 1
    case = harness.case_of(appointment_id)
    assert case.deleted_at is not None
    assert case.meta["pimsRemoval"]["reason"] == "removed_from_pims"
    assert harness.audit(gone.id).cases_deleted == 1

    again = harness.sync("reconciliation")  # already deleted: nothing more to do
    assert again.stats["deleted"] == 0 and again.stats["updated"] == 0

    harness.sim.dataset.upsert_event(event)
    back = harness.sync("reconciliation")
    assert back.stats["updated"] == 1
    restored = harness.case_of(appointment_id)
    assert restored.deleted_at is None
    assert "pimsRemoval" not in restored.meta
    # The restored case is exactly what a cases sync would write: that sync finds nothing.
    follow_up = harness.sync("cases", start_date=TODAY - timedelta(days=7), end_date=TODAY)
    assert follow_up.stats["updated"] == 0 and follow_up.stats["created"] == 0


def test_cancelled_and_moved_appointments(harness: Harness) -> None:
    synced(harness)
    cancelled, moved = finalized_with_consultation(harness.sim, YESTERDAY)[:2]
    harness.sim.dataset.set_status(cancelled["appointment_id"], "No Show")
    harness.sim.dataset.move_event(moved["appointment_id"], 3 * 24 * 60)  # three days later
    before = harness.case_of(str(moved["appointment_id"])).scheduled_at
    assert before is not None
    record = harness.sync("reconciliation")
    assert (record.stats["deleted"], record.stats["updated"]) == (1, 1)
    assert harness.case_of(str(cancelled["appointment_id"])).deleted_at is not None
    moved_case = harness.case_of(str(moved["appointment_id"]))
    assert moved_case.deleted_at is None  # found beyond today, not lost
    assert moved_case.scheduled_at == before + timedelta(days=3)


def test_empty_pims_answer_trips_the_guard_unless_forced(harness: Harness) -> None:
    cases = synced(harness)
    stamps = harness.case_updated_at()
    harness.sim.set_faults(empty_calendar=True)
    guarded = harness.sync("reconciliation")
    assert (guarded.status, guarded.error_code) == ("failed", "reconciliation_guard")
    assert guarded.stats["deleted"] == 0 and guarded.stats["skipped"] == len(cases)
    assert harness.case_updated_at() == stamps  # nothing written at all
    assert harness.audit(guarded.id).status == "failed"

    forced = harness.sync("reconciliation", force=True)
    assert forced.status == "completed"
    assert forced.stats["deleted"] == len(cases)
    assert live_cases(harness) == set()


def test_half_the_window_vanishing_trips_the_guard(harness: Harness) -> None:
    cases = synced(harness)
    events = [
        e
        for day in range(8)
        for e in finalized_with_consultation(harness.sim, TODAY - timedelta(days=day))
    ]
    for event in events[: len(events) // 2 + 1]:
        harness.sim.dataset.remove_event(event["appointment_id"])
    record = harness.sync("reconciliation")
    assert (record.status, record.error_code) == ("failed", "reconciliation_guard")
    assert live_cases(harness) == cases


def test_failed_fetch_writes_nothing_even_when_forced(harness: Harness) -> None:
    cases = synced(harness)
    stamps = harness.case_updated_at()
    harness.sim.set_faults(errors={"calendar": {"rate": 1.0, "status": 500}})
    for force in (False, True):
        record = harness.sync("reconciliation", force=force)
        assert (record.status, record.error_code) == ("failed", "pims_unavailable")
    assert harness.case_updated_at() == stamps
    assert live_cases(harness) == cases


def test_expired_session_is_renewed_and_deletes_nothing(harness: Harness) -> None:
    cases = synced(harness)
    # The module's shared session has served far more requests than this: it dies now.
    harness.sim.set_faults(session_expire_after=1, expiry_mode="401")
    logins = harness.logins()
    record = harness.sync("reconciliation")
    assert record.status == "completed", record.errors
    assert harness.logins() - logins == 1
    assert record.stats["deleted"] == 0
    assert live_cases(harness) == cases


def test_session_that_cannot_be_renewed_fails_and_deletes_nothing(harness: Harness) -> None:
    cases = synced(harness)
    # The calendar refuses every session, the one from a fresh login too.
    harness.sim.set_faults(errors={"calendar": {"rate": 1.0, "status": 401}})
    logins = harness.logins()
    record = harness.sync("reconciliation")
    assert (record.status, record.error_code) == ("failed", "pims_session_lost")
    assert harness.logins() - logins == 1
    assert live_cases(harness) == cases
