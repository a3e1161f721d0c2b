"""The ``inbound`` sync (appointments and availability) against the simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from daemon.store.models import ScheduleSlot
from tests.support import TODAY
from tests.sync.conftest import Harness, events_on, finalized_with_consultation

HORIZON_END = TODAY + timedelta(days=13)


def all_day_block(harness: Harness) -> dict[str, Any]:
    return next(
        e
        for e in harness.sim.dataset.events.values()
        if e.get("is_block")
        and str(e["start"]).endswith("00:00:00")
        and str(e["end"]).endswith("00:00:00")
    )


def slot_stamps(harness: Harness) -> dict[datetime, datetime]:
    with harness.store.db.session() as session:
        rows = session.execute(
            select(ScheduleSlot.starts_at, ScheduleSlot.updated_at).where(
                ScheduleSlot.clinic_id == harness.clinic.id
            )
        ).all()
    return {start: updated for start, updated in rows}


def test_inbound_writes_the_calendar_and_availability_then_nothing(harness: Harness) -> None:
    first = harness.sync("inbound")
    assert first.status == "completed", first.errors
    assert (first.start_date, first.end_date) == (TODAY, HORIZON_END)
    stats = first.stats
    assert stats["created"] == stats["appointments"] > 40
    assert stats["slots"] > 0 and 0 < stats["blockedSlots"] < stats["slots"]

    rows = harness.repos.appointments.in_range(harness.clinic.id, TODAY, HORIZON_END)
    raw = {
        str(e["appointment_id"])
        for d in range(14)
        for e in events_on(harness.sim, TODAY + timedelta(days=d))
    }
    assert {r.external_id for r in rows} == raw  # rosters left out, blocks kept
    slots = harness.repos.slots.in_range(harness.clinic.id, TODAY, HORIZON_END)
    assert len(slots) == stats["slots"]
    assert sum(s.is_blocked for s in slots) == stats["blockedSlots"]
    assert all(s.capacity == (0 if s.is_blocked else 2) for s in slots)

    # The all-day block closes its whole day; the other days are still written.
    block = all_day_block(harness)
    closed_day = datetime.fromisoformat(block["start"]).date()
    day_slots = [s for s in slots if s.local_date == closed_day]
    assert day_slots and all(s.is_blocked and s.capacity == 0 for s in day_slots)
    assert {s.block_reason for s in day_slots} == {block["title"]}
    assert any(not s.is_blocked for s in slots if s.local_date == TODAY + timedelta(days=1))
    assert any(r.is_block and r.external_id == str(block["appointment_id"]) for r in rows)

    # Booked counts live appointments overlapping each slot (blocks and dead ones excluded).
    live = [r for r in rows if not r.is_block and r.status not in ("cancelled", "no_show")]
    for slot in slots[:80]:
        overlapping = sum(
            1 for r in live if r.starts_at < slot.ends_at and r.ends_at > slot.starts_at
        )
        assert slot.booked == overlapping, slot

    stamps = slot_stamps(harness)
    logins = harness.logins()
    second = harness.sync("inbound")
    assert second.status == "completed"
    assert (second.stats["created"], second.stats["updated"], second.stats["removed"]) == (0, 0, 0)
    assert second.stats["unchanged"] == stats["appointments"]
    assert slot_stamps(harness) == stamps
    assert harness.logins() == logins


def test_moved_appointment_moves_its_case_and_its_availability(harness: Harness) -> None:
    harness.sync("inbound")
    harness.sync("cases")
    event = finalized_with_consultation(harness.sim, TODAY)[0]
    appointment_id = str(event["appointment_id"])
    old_start = datetime.fromisoformat(event["start"]).replace(tzinfo=UTC) + timedelta(hours=8)
    slots_before = {
        s.starts_at: s.booked for s in harness.repos.slots.in_range(harness.clinic.id, TODAY, TODAY)
    }

    harness.sim.dataset.move_event(appointment_id, 30)
    inbound = harness.sync("inbound")
    assert inbound.stats["updated"] == 1 and inbound.stats["created"] == 0
    cases = harness.sync("cases")
    assert cases.stats["updated"] == 1

    new_start = old_start + timedelta(minutes=30)
    row = next(
        r
        for r in harness.repos.appointments.in_range(harness.clinic.id, TODAY, TODAY)
        if r.external_id == appointment_id
    )
    assert row.starts_at == new_start
    assert harness.case_of(appointment_id).scheduled_at == new_start
    slots_after = {
        s.starts_at: s.booked for s in harness.repos.slots.in_range(harness.clinic.id, TODAY, TODAY)
    }
    # The 15-minute slot it left has one booking less; the one it moved into, one more.
    assert slots_after[old_start] == slots_before[old_start] - 1
    end = datetime.fromisoformat(event["end"]).replace(tzinfo=UTC) + timedelta(hours=8)
    assert slots_after[end - timedelta(minutes=15)] == slots_before[end - timedelta(minutes=15)] + 1


def test_vanished_appointment_is_soft_deleted_and_restored(harness: Harness) -> None:
    harness.sync("inbound")
    event = next(
        e for e in events_on(harness.sim, TODAY + timedelta(days=1)) if not e.get("is_block")
    )
    harness.sim.dataset.remove_event(event["appointment_id"])
    gone = harness.sync("inbound")
    assert gone.stats["removed"] == 1
    rows = harness.repos.appointments.in_range(
        harness.clinic.id, TODAY, HORIZON_END, include_deleted=True
    )
    row = next(r for r in rows if r.external_id == str(event["appointment_id"]))
    assert row.deleted_at is not None

    harness.sim.dataset.upsert_event(event)
    back = harness.sync("inbound")
    assert back.stats["updated"] == 1 and back.stats["removed"] == 0
    live = harness.repos.appointments.in_range(harness.clinic.id, TODAY, HORIZON_END)
    assert str(event["appointment_id"]) in {r.external_id for r in live}


def test_clinic_hours_and_slot_length_override_the_pims(harness: Harness) -> None:
    hours = {str(d): {"enabled": d == 3, "open": "10:00", "close": "12:00"} for d in range(7)}
    harness.store.clinics.update(
        harness.clinic.id, daily_hours=hours, slot_minutes=30, default_capacity=3
    )
    views = harness.sim.stats()["appointment_view"]
    record = harness.sync("inbound")
    assert record.status == "completed"
    slots = harness.repos.slots.in_range(harness.clinic.id, TODAY, HORIZON_END)
    assert {s.local_date.weekday() for s in slots} == {2}  # Wednesdays only
    assert [s.local_start for s in slots if s.local_date == TODAY] == [
        "10:00",
        "10:30",
        "11:00",
        "11:30",
    ]
    assert all(s.capacity == 3 for s in slots if not s.is_blocked)
    assert harness.sim.stats()["appointment_view"] == views  # the PIMS was not asked


def test_no_business_hours_anywhere_means_no_slots_and_partial(harness: Harness) -> None:
    harness.sync("inbound")
    assert harness.repos.slots.in_range(harness.clinic.id, TODAY, HORIZON_END)
    harness.sim.dataset.schedule_config["businessHours"] = []
    record = harness.sync("inbound")
    assert record.status == "partial"
    assert record.error_code == "no_business_hours"
    assert record.stats["slots"] == 0
    assert harness.repos.slots.in_range(harness.clinic.id, TODAY, HORIZON_END) == []
    assert record.stats["unchanged"] == record.stats["appointments"] > 0


def test_failed_fetch_writes_nothing(harness: Harness) -> None:
    harness.sim.set_faults(errors={"calendar": {"rate": 1.0, "status": 503}})
    record = harness.sync("inbound")
    assert (record.status, record.error_code) == ("failed", "pims_unavailable")
    assert harness.repos.appointments.in_range(harness.clinic.id, TODAY, HORIZON_END) == []
    assert harness.repos.slots.in_range(harness.clinic.id, TODAY, HORIZON_END) == []


def test_empty_calendar_trips_the_deletion_guard_and_keeps_availability(
    harness: Harness,
) -> None:
    harness.sync("inbound")
    before = harness.repos.appointments.in_range(harness.clinic.id, TODAY, HORIZON_END)
    slots_before = slot_stamps(harness)
    harness.sim.set_faults(empty_calendar=True)
    record = harness.sync("inbound")
    assert (record.status, record.error_code) == ("failed", "reconciliation_guard")
    assert record.stats["removed"] == 0
    after = harness.repos.appointments.in_range(harness.clinic.id, TODAY, HORIZON_END)
    assert {r.external_id for r in after} == {r.external_id for r in before}
    assert slot_stamps(harness) == slots_before  # availability untouched
    forced = harness.sync("inbound", force=True)
    assert forced.status == "completed" and forced.stats["removed"] == len(before)


def booked_slots(harness: Harness) -> int:
    slots = harness.repos.slots.in_range(harness.clinic.id, TODAY, HORIZON_END)
    return sum(1 for slot in slots if slot.booked > 0)


def test_force_full_sync_rewrites_rows_but_never_overrides_the_guard(harness: Harness) -> None:
    harness.sync("inbound")
    booked = booked_slots(harness)
    assert booked > 0
    harness.sim.set_faults(empty_calendar=True)
    rewrite = harness.sync("inbound", force_full_sync=True)
    assert (rewrite.status, rewrite.error_code) == ("failed", "reconciliation_guard")
    assert rewrite.stats["removed"] == 0
    assert booked_slots(harness) == booked  # not one booked slot freed
    # Only an explicit force applies the empty calendar.
    forced = harness.sync("inbound", force=True, force_full_sync=True)
    assert forced.status == "completed"
    assert booked_slots(harness) == 0


def test_unreadable_hours_keep_the_slots_but_count_new_bookings(harness: Harness) -> None:
    """The PIMS's opening hours cannot be read, its calendar can: the slots already published
    stay (nothing to lay new ones out with), and one booked since the last run is counted,
    never left looking free for the phone agent."""
    harness.sync("inbound")
    tomorrow = TODAY + timedelta(days=1)
    event = next(e for e in events_on(harness.sim, tomorrow) if not e.get("is_block"))
    starts = datetime.fromisoformat(event["start"]).replace(tzinfo=UTC) + timedelta(hours=8)
    before = {
        s.starts_at: s for s in harness.repos.slots.in_range(harness.clinic.id, TODAY, HORIZON_END)
    }
    assert starts in before

    harness.sim.dataset.upsert_event({**event, "appointment_id": "990001"})  # booked meanwhile
    harness.sim.set_faults(errors={"appointment_view": {"rate": 1.0, "status": 503}})
    record = harness.sync("inbound")
    assert (record.status, record.error_code) == ("partial", "pims_unavailable")
    assert record.stats["created"] == 1
    after = {
        s.starts_at: s for s in harness.repos.slots.in_range(harness.clinic.id, TODAY, HORIZON_END)
    }
    assert after.keys() == before.keys() and record.stats["slots"] == len(after)
    assert after[starts].booked == before[starts].booked + 1
    unchanged = [at for at in before if at != starts and after[at] == before[at]]
    assert len(unchanged) > len(before) // 2  # only what the new booking overlaps changed


def test_slots_past_the_horizon_go_when_no_run_keeps_them_true(harness: Harness) -> None:
    """Slots dated after the clinic's horizon (it was longer, or an explicit range reached
    further) are removed by the next run over the horizon; an explicit range leaves them."""
    far = (HORIZON_END + timedelta(days=1), HORIZON_END + timedelta(days=7))
    assert harness.sync("inbound").status == "completed"
    assert harness.sync("inbound", start_date=far[0], end_date=far[1]).status == "completed"
    assert harness.repos.slots.in_range(harness.clinic.id, *far)
    within = harness.repos.slots.in_range(harness.clinic.id, TODAY, HORIZON_END)

    assert harness.sync("inbound").status == "completed"
    assert harness.repos.slots.in_range(harness.clinic.id, *far) == []
    assert harness.repos.slots.in_range(harness.clinic.id, TODAY, HORIZON_END) == within

    harness.store.clinics.update(harness.clinic.id, horizon_days=7)  # the horizon shrinks
    assert harness.sync("inbound").status == "completed"
    last = TODAY + timedelta(days=6)
    assert harness.repos.slots.in_range(harness.clinic.id, last + timedelta(days=1), far[1]) == []
    assert harness.repos.slots.in_range(harness.clinic.id, TODAY, last) == [
        s for s in within if s.local_date <= last
    ]
