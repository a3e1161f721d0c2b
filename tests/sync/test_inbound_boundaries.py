"""``inbound`` at its edges: the inclusive end date, clinic-local dates, the spring-forward day
inside the default horizon, and a short range that must not touch the days around it."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from tests.support import TODAY, ZONE
from tests.sync.conftest import Harness, events_on

LA = ZoneInfo(ZONE)
SPRING_FORWARD = TODAY.replace(day=8)  # 2026-03-08: 02:00 → 03:00 in Los Angeles


def test_every_slot_and_row_is_dated_in_the_clinic_zone_across_the_dst_change(
    harness: Harness,
) -> None:
    assert TODAY <= SPRING_FORWARD <= TODAY + timedelta(days=13)
    record = harness.sync("inbound")
    assert record.status == "completed", record.errors
    end = TODAY + timedelta(days=13)
    rows = harness.repos.appointments.in_range(harness.clinic.id, TODAY, end)
    for row in rows:
        assert row.starts_at.astimezone(LA).date() == row.local_date, row
        assert row.ends_at >= row.starts_at, row
    # The inclusive end: the last day's appointments are there, the next day's are not.
    assert {r.local_date for r in rows} >= {end}
    assert not harness.repos.appointments.in_range(
        harness.clinic.id, end + timedelta(days=1), end + timedelta(days=1)
    )

    slots = harness.repos.slots.in_range(harness.clinic.id, TODAY, end)
    live = [r for r in rows if not r.is_block and r.status not in ("cancelled", "no_show")]
    blocks = [r for r in rows if r.is_block]
    for slot in slots:
        wall = slot.starts_at.astimezone(LA)
        assert (wall.date(), wall.strftime("%H:%M")) == (slot.local_date, slot.local_start)
        assert slot.ends_at - slot.starts_at == timedelta(minutes=15)
        booked = sum(1 for r in live if r.starts_at < slot.ends_at and r.ends_at > slot.starts_at)
        assert slot.booked == booked, slot
        blocked = any(b.starts_at < slot.ends_at and b.ends_at > slot.starts_at for b in blocks)
        assert slot.is_blocked == blocked, slot
    on_dst_day = [s for s in slots if s.local_date == SPRING_FORWARD]
    assert len({s.starts_at for s in on_dst_day}) == len(on_dst_day)


def test_a_one_day_range_removes_and_rebuilds_that_day_only(harness: Harness) -> None:
    harness.sync("inbound")
    day = TODAY + timedelta(days=2)
    others = {
        s.starts_at: s
        for s in harness.repos.slots.in_range(harness.clinic.id, TODAY, TODAY + timedelta(days=13))
        if s.local_date != day
    }
    for event in events_on(harness.sim, day + timedelta(days=1)):
        harness.sim.dataset.remove_event(event["appointment_id"])  # outside the range
    gone = next(e for e in events_on(harness.sim, day) if not e.get("is_block"))
    harness.sim.dataset.remove_event(gone["appointment_id"])

    record = harness.sync("inbound", start_date=day, end_date=day)
    assert record.status == "completed", record.errors
    assert record.stats["removed"] == 1
    deleted = {
        r.external_id
        for r in harness.repos.appointments.in_range(
            harness.clinic.id, TODAY, TODAY + timedelta(days=13), include_deleted=True
        )
        if r.deleted_at is not None
    }
    assert deleted == {str(gone["appointment_id"])}
    after = {
        s.starts_at: s
        for s in harness.repos.slots.in_range(harness.clinic.id, TODAY, TODAY + timedelta(days=13))
        if s.local_date != day
    }
    assert after == others
