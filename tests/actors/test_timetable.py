"""The cron rules of contract §5.5, with an injected clock (no waiting)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from actors.timetable import Timetable
from daemon.schedule import fire_times, next_fire_time
from daemon.store.clinics import ScheduleEntry

LA = "America/Los_Angeles"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_daily_entry_fires_once_at_its_local_time() -> None:
    start = utc(2026, 11, 26, 13, 59)  # 05:59 in Los Angeles (PST, UTC-8)
    table = Timetable.build((ScheduleEntry("inbound", "0 6 * * *"),), LA, start, {})
    assert table.next_wake() == utc(2026, 11, 26, 14, 0)
    assert table.due(utc(2026, 11, 26, 13, 59, 59)) == []
    due = table.due(utc(2026, 11, 26, 14, 0, 1))
    assert [d.sync_type for d in due] == ["inbound"]
    assert table.due(utc(2026, 11, 26, 14, 5)) == []
    assert table.next_wake() == utc(2026, 11, 27, 14, 0)


def test_spring_forward_gap_runs_once_at_the_next_valid_minute() -> None:
    # 2026-03-08: clocks in Los Angeles jump from 02:00 to 03:00; 02:30 does not exist.
    times = list(_take(fire_times("30 2 * * *", LA, utc(2026, 3, 7, 8)), 3))
    assert times[0] == utc(2026, 3, 7, 10, 30)  # 02:30 PST on the 7th
    assert times[1] == utc(2026, 3, 8, 10, 0)  # 03:00 PDT on the 8th (the gap)
    assert times[2] == utc(2026, 3, 9, 9, 30)  # 02:30 PDT on the 9th


def test_fall_back_repeat_runs_once() -> None:
    # 2026-11-01: 01:00-02:00 happens twice in Los Angeles.
    times = list(_take(fire_times("30 1 * * *", LA, utc(2026, 10, 31, 12)), 3))
    assert times[0] == utc(2026, 11, 1, 8, 30)  # 01:30 PDT, the first occurrence
    assert times[1] == utc(2026, 11, 2, 9, 30)  # next day 01:30 PST; the repeat was skipped
    hourly = list(_take(fire_times("0 * * * *", LA, utc(2026, 11, 1, 7, 30)), 3))
    assert hourly == [utc(2026, 11, 1, 8), utc(2026, 11, 1, 10), utc(2026, 11, 1, 11)]


def test_tick_missed_during_downtime_runs_once_within_grace() -> None:
    entry = ScheduleEntry("cases", "0 8 * * *")
    tick = utc(2026, 11, 26, 16, 0)  # 08:00 in Los Angeles
    late = Timetable.build(
        (entry,), LA, tick + timedelta(minutes=5), {"cases": tick - timedelta(days=1)}
    )
    assert [d.sync_type for d in late.due(tick + timedelta(minutes=5))] == ["cases"]
    already_ran = Timetable.build(
        (entry,), LA, tick + timedelta(minutes=5), {"cases": tick + timedelta(seconds=2)}
    )
    assert already_ran.due(tick + timedelta(minutes=5)) == []
    too_late = Timetable.build((entry,), LA, tick + timedelta(minutes=11), {"cases": None})
    assert too_late.due(tick + timedelta(minutes=11)) == []
    assert too_late.next_wake() == tick + timedelta(days=1)


def test_missed_ticks_coalesce_into_one_run() -> None:
    start = utc(2026, 11, 26, 12, 0)
    table = Timetable.build((ScheduleEntry("inbound", "*/5 * * * *"),), LA, start, {})
    due = table.due(start + timedelta(minutes=17))  # ticks at :05, :10, :15 have passed
    assert len(due) == 1 and due[0].scheduled_for == start + timedelta(minutes=15)
    assert table.next_wake() == start + timedelta(minutes=20)
    assert table.missed == []


def test_tick_later_than_grace_is_counted_missed_not_run() -> None:
    start = utc(2026, 11, 26, 12, 0)
    table = Timetable.build((ScheduleEntry("inbound", "0 * * * *"),), LA, start, {})
    assert table.due(start + timedelta(hours=1, minutes=12)) == []
    assert [m.sync_type for m in table.missed] == ["inbound"]


def test_disabled_entries_have_no_job() -> None:
    table = Timetable.build(
        (ScheduleEntry("inbound", "0 6 * * *", enabled=False),), LA, utc(2026, 11, 26), {}
    )
    assert table.jobs == [] and table.next_wake() is None


def test_next_fire_time_ignores_the_server_zone() -> None:
    import os
    import time

    before = os.environ.get("TZ")
    try:
        results = []
        for zone in ("UTC", "Pacific/Kiritimati"):
            os.environ["TZ"] = zone
            time.tzset()
            results.append(next_fire_time("0 18 * * *", LA, utc(2026, 11, 26, 12)))
        assert results == [utc(2026, 11, 27, 2, 0)] * 2
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def _take(iterator: Iterator[datetime], count: int) -> Iterator[datetime]:
    for _ in range(count):
        yield next(iterator)
