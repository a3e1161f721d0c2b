"""The pure parts of the engine, with literal value objects: no PIMS, no database."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from daemon.store.cases import StoredCase
from daemon.sync.case_rules import (
    appointment_id_of,
    case_type,
    is_sync_managed,
    plan_soft_delete,
    plan_upsert,
)
from daemon.sync.guard import guard_trips
from daemon.sync.neutral import appointment_json, case_hash, consultation_json
from daemon.sync.ranges import (
    DateRange,
    InvalidRange,
    cases_default,
    check_range,
    clinic_today,
    inbound_default,
    reconciliation_window,
    resolve_range,
)
from daemon.sync.report import SyncReport, error_code_of
from daemon.sync.slots import build_slots, hours_from_daily, hours_from_pims, slot_minutes
from providers.base import (
    Appointment,
    AppointmentStatus,
    BusinessHours,
    Consultation,
    PimsUnavailable,
    ScheduleConfig,
    SessionLost,
)

LA = ZoneInfo("America/Los_Angeles")
CLINIC = uuid.uuid4()
NOW = datetime(2026, 3, 4, 22, 0, tzinfo=UTC)


def appt(
    ident: str = "1",
    start: tuple[int, int] = (9, 0),
    minutes: int = 30,
    day: date = date(2026, 3, 4),
    status: AppointmentStatus = AppointmentStatus.FINALIZED,
    **extra: Any,
) -> Appointment:
    starts = datetime.combine(day, time(*start), tzinfo=LA)
    return Appointment(
        id=ident,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=minutes),
        local_date=day,
        status=status,
        consultation_id=extra.pop("consultation_id", "c" + ident),
        **extra,
    )


CONSULT = Consultation(id="c1", status="completed", notes="Bright and alert.")


# -- case type ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Exam", "checkup"),
        ("Annual Wellness Exam", "checkup"),
        ("Vaccines", "checkup"),
        ("vaccination booster", "checkup"),
        ("Diagnostic imaging", "checkup"),
        ("Surgery", "surgery"),
        ("DENTAL cleaning", "surgery"),
        ("Emergency", "emergency"),
        ("Urgent care", "emergency"),
        ("Follow-up", "follow_up"),
        ("follow up", "follow_up"),
        ("Recheck", "follow_up"),
        ("Sick", "checkup"),
        (None, "checkup"),
        ("", "checkup"),
        # The contract's order decides between two words: "exam" comes before "recheck".
        ("Recheck exam", "checkup"),
        ("Surgery follow-up", "surgery"),
        # Words, not fragments.
        ("Example visit", "checkup"),
        ("Dentalgia", "checkup"),
    ],
)
def test_case_type_follows_the_contract_word_list(text: str | None, expected: str) -> None:
    assert case_type(text) == expected


def test_examination_counts_as_exam() -> None:
    assert case_type("Emergency examination") == "checkup"


# -- hashes and documents -------------------------------------------------------------------


def test_case_hash_changes_with_time_and_consultation_but_not_with_object_identity() -> None:
    base = appointment_json(appt())
    same = appointment_json(appt())
    moved = appointment_json(appt(start=(9, 30)))
    consult = consultation_json(CONSULT)
    assert case_hash(base, consult) == case_hash(same, consult)
    assert case_hash(base, consult) != case_hash(moved, consult)
    edited = consultation_json(Consultation(id="c1", status="completed", notes="Edited."))
    assert case_hash(base, consult) != case_hash(base, edited)
    assert case_hash(base, None) != case_hash(base, consult)


def test_appointment_document_stores_utc_instants_and_the_local_date() -> None:
    document = appointment_json(appt(start=(18, 0)))
    assert document["startTime"] == "2026-03-05T02:00:00Z"
    assert document["date"] == "2026-03-04"
    assert document["duration"] == 30


# -- case rows ------------------------------------------------------------------------------


def stored(**changes: Any) -> StoredCase:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "clinic_id": CLINIC,
        "external_id": "pims-appt-idexx-neo-1",
        "source": "pims:idexx-neo",
        "status": "completed",
        "type": "checkup",
        "scheduled_at": NOW,
        "meta": {"syncedStatus": "completed", "callNotes": "keep me"},
        "sync_hash": "old",
        "created_at": NOW,
        "updated_at": NOW,
        "deleted_at": None,
    }
    values.update(changes)
    return StoredCase(**values)


def plan(existing: StoredCase | None, force: bool = False) -> Any:
    a = appt(type="Surgery")
    return plan_upsert(
        existing,
        a,
        appointment_json(a),
        consultation_json(CONSULT),
        clinic_id=CLINIC,
        provider="idexx-neo",
        now=NOW,
        force=force,
    )


def test_new_case_is_completed_with_our_ids() -> None:
    planned = plan(None)
    assert planned.outcome == "created"
    row = planned.write.row
    assert row["external_id"] == "pims-appt-idexx-neo-1"
    assert row["source"] == "pims:idexx-neo"
    assert row["status"] == "completed"
    assert row["type"] == "surgery"
    assert row["metadata"]["syncedStatus"] == "completed"
    assert row["metadata"]["syncedAt"] == "2026-03-04T22:00:00Z"


def test_unchanged_case_is_skipped_and_force_rewrites_it() -> None:
    digest = plan(None).write.row["sync_hash"]
    assert plan(stored(sync_hash=digest)).outcome == "skipped"
    assert plan(stored(sync_hash=digest), force=True).outcome == "updated"


def test_staff_status_survives_and_other_keys_are_kept() -> None:
    planned = plan(stored(status="reviewed"))
    row = planned.write.row
    assert planned.outcome == "updated"
    assert row["status"] == "reviewed"
    assert row["metadata"]["syncedStatus"] == "completed"
    assert row["metadata"]["callNotes"] == "keep me"


def test_status_still_ours_is_rewritten() -> None:
    planned = plan(stored(status="draft", meta={"syncedStatus": "draft"}))
    assert planned.write.row["status"] == "completed"
    assert planned.write.row["metadata"]["syncedStatus"] == "completed"


def test_extension_case_is_adopted_in_place() -> None:
    theirs = stored(
        external_id="idexx-appt-1",
        source="idexx_extension",
        status="draft",
        meta={"ingestedBy": "extension"},
        sync_hash=None,
    )
    planned = plan(theirs)
    row = planned.write.row
    assert planned.outcome == "updated"
    assert (row["id"], row["external_id"], row["source"]) == (
        theirs.id,
        "idexx-appt-1",
        "idexx_extension",
    )
    assert row["status"] == "draft"
    assert row["metadata"]["adoptedBy"] == "pims:idexx-neo"
    assert row["metadata"]["ingestedBy"] == "extension"
    assert is_sync_managed(StoredCase(**{**theirs.__dict__, "meta": row["metadata"]}))
    assert not is_sync_managed(theirs)


def test_soft_delete_and_restore() -> None:
    live = stored()
    deleted = plan_soft_delete(live, reason="cancelled", now=NOW)
    assert deleted.outcome == "deleted" and deleted.write is not None
    assert deleted.write.row["deleted_at"] == NOW
    assert deleted.write.row["metadata"]["pimsRemoval"]["reason"] == "cancelled"
    gone = stored(deleted_at=NOW, meta=deleted.write.row["metadata"])
    assert plan_soft_delete(gone, reason="cancelled", now=NOW).outcome == "skipped"
    assert plan_soft_delete(None, reason="cancelled", now=NOW).outcome == "skipped"
    restored = plan(gone)
    assert restored.outcome == "updated"
    assert restored.write.row["deleted_at"] is None
    assert "pimsRemoval" not in restored.write.row["metadata"]


def test_appointment_id_of_case() -> None:
    assert appointment_id_of(stored(meta={}), "idexx-neo") == "1"
    assert appointment_id_of(stored(meta={"pimsAppointment": {"id": "77"}}), "idexx-neo") == "77"
    assert appointment_id_of(stored(external_id="other", meta={}), "idexx-neo") is None


# -- slots ----------------------------------------------------------------------------------

WEEKDAYS_9_TO_11 = {
    str(d): {"enabled": d in (1, 2, 3, 4, 5), "open": "09:00", "close": "11:00"} for d in range(7)
}


def test_slots_follow_daily_hours_and_count_overlaps() -> None:
    day = date(2026, 3, 4)  # a Wednesday
    appointments = [
        appt("a", start=(9, 0), minutes=30),  # 09:00 and 09:15
        appt("b", start=(9, 10), minutes=10),  # 09:00 and 09:15
        appt("c", start=(10, 0), status=AppointmentStatus.CANCELLED),  # occupies nothing
        appt("d", start=(10, 0), status=AppointmentStatus.NO_SHOW),
        appt("blk", start=(10, 30), minutes=60, is_block=True, title="Meeting"),
    ]
    slots = build_slots(
        DateRange(day, day), LA, hours_from_daily(WEEKDAYS_9_TO_11), 15, 2, appointments
    )
    by_time = {s.local_start: s for s in slots}
    assert list(by_time) == ["09:00", "09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45"]
    assert by_time["09:00"].booked == 2 and by_time["09:15"].booked == 2
    assert by_time["09:30"].booked == 0
    assert by_time["10:00"].booked == 0
    assert by_time["10:30"].is_blocked and by_time["10:30"].capacity == 0
    assert by_time["10:30"].block_reason == "Meeting"
    assert by_time["10:15"].capacity == 2 and not by_time["10:15"].is_blocked
    assert by_time["09:00"].starts_at == datetime(2026, 3, 4, 17, 0, tzinfo=UTC)


def test_a_slot_must_end_by_closing_time_and_closed_days_have_none() -> None:
    hours = hours_from_daily(
        {
            "3": {"enabled": True, "open": "09:00", "close": "10:00"},
            "4": {"enabled": False, "open": "09:00", "close": "10:00"},
        }
    )
    slots = build_slots(DateRange(date(2026, 3, 4), date(2026, 3, 5)), LA, hours, 25, 1, [])
    assert [s.local_start for s in slots] == ["09:00", "09:25"]


def test_slots_across_the_spring_forward_gap_are_real_instants() -> None:
    sunday = date(2026, 3, 8)  # 02:00 → 03:00 in Los Angeles
    hours = hours_from_daily({"0": {"enabled": True, "open": "01:00", "close": "04:00"}})
    slots = build_slots(DateRange(sunday, sunday), LA, hours, 30, 1, [])
    starts = [s.local_start for s in slots]
    assert "02:00" not in starts and "02:30" not in starts
    assert starts == ["01:00", "01:30", "03:00", "03:30"]
    assert slots[1].ends_at - slots[1].starts_at == timedelta(minutes=30)
    assert slots[2].starts_at == datetime(2026, 3, 8, 10, 0, tzinfo=UTC)


def test_an_appointment_crossing_midnight_books_both_days() -> None:
    late = appt("x", start=(23, 30), minutes=60, day=date(2026, 3, 3))
    hours = hours_from_daily(
        {str(d): {"enabled": True, "open": "00:00", "close": "24:00"} for d in range(7)}
    )
    slots = build_slots(DateRange(date(2026, 3, 3), date(2026, 3, 4)), LA, hours, 30, 2, [late])
    booked = {(s.local_date.isoformat(), s.local_start) for s in slots if s.booked}
    assert booked == {("2026-03-03", "23:30"), ("2026-03-04", "00:00")}


def test_pims_hours_and_slot_length_fallbacks() -> None:
    config = ScheduleConfig(
        slot_interval_minutes=20,
        business_hours=(BusinessHours(3, time(8, 0), time(9, 0)),),
    )
    assert hours_from_pims(config) == {3: [(480, 540)]}
    assert slot_minutes(None, config) == 20
    assert slot_minutes(30, config) == 30
    assert slot_minutes(None, None) == 15
    assert slot_minutes(None, ScheduleConfig()) == 15


# -- ranges ---------------------------------------------------------------------------------


def test_today_is_the_clinic_s_date_whatever_the_server_zone() -> None:
    late_evening = datetime(2026, 3, 5, 6, 30, tzinfo=UTC)  # 22:30 on the 4th in Los Angeles
    assert clinic_today(lambda: late_evening, LA) == date(2026, 3, 4)
    assert clinic_today(lambda: late_evening, ZoneInfo("Pacific/Kiritimati")) == date(2026, 3, 5)


def test_default_ranges() -> None:
    today = date(2026, 3, 4)
    assert inbound_default(today, 14) == DateRange(today, date(2026, 3, 17))
    assert cases_default(today) == DateRange(date(2026, 3, 3), today)
    assert reconciliation_window(today, 7).days == 8
    with pytest.raises(InvalidRange):
        reconciliation_window(today, 91)


def test_range_rules() -> None:
    start = date(2026, 1, 1)
    assert check_range(start, start + timedelta(days=61)).days == 62
    with pytest.raises(InvalidRange, match="at most 62"):
        check_range(start, start + timedelta(days=62))
    with pytest.raises(InvalidRange, match="before"):
        check_range(start, start - timedelta(days=1))
    default = DateRange(date(2026, 3, 3), date(2026, 3, 4))
    assert resolve_range(None, None, default) == default
    assert resolve_range(date(2026, 3, 10), None, default) == DateRange(
        date(2026, 3, 10), date(2026, 3, 10)
    )
    local = DateRange(date(2026, 3, 8), date(2026, 3, 8))
    assert local.utc_bounds(LA) == (
        datetime(2026, 3, 8, 8, 0, tzinfo=UTC),
        datetime(2026, 3, 9, 7, 0, tzinfo=UTC),
    )


# -- guard and report -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("live", "deleting", "empty", "trips"),
    [
        (3, 3, True, True),
        (2, 2, True, False),
        (4, 3, False, True),
        (4, 2, False, False),
        (3, 3, False, False),
        (10, 6, False, True),
        (0, 0, True, False),
    ],
)
def test_guard(live: int, deleting: int, empty: bool, trips: bool) -> None:
    assert guard_trips(live, deleting, empty) is trips


def test_report_keeps_fifty_errors_and_the_first_code() -> None:
    report = SyncReport.for_type("cases")
    for n in range(60):
        report.error("pims_unavailable", f"item {n}", item_id=str(n))
    assert len(report.errors) == 50 and report.error_count == 60
    assert report.status() == "partial"
    report.fail("pims_session_lost", "gone")
    assert report.status() == "failed"
    assert report.error_code == "pims_session_lost"
    assert len(report.errors) == 50


def test_error_codes() -> None:
    assert error_code_of(PimsUnavailable("x")) == "pims_unavailable"
    assert error_code_of(SessionLost("x")) == "pims_session_lost"
    assert error_code_of(RuntimeError("x")) == "internal"
