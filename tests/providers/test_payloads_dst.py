"""IDEXX Neo wall times around a fall-back change: events that cross the repeated hour.

Neo sends clinic wall time without an offset, so an event that starts in the first pass of the
repeated hour and ends in the second reads as ending "before" it starts. It is a real event with
a real duration (contract §5.2: an appointment crossing a DST change keeps its real start and
end); refusing it would fail the whole calendar, and with it every sync of that week.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest

from providers.base import UnexpectedPayload
from providers.idexx_neo import payloads
from tests.providers.test_payloads import snake_event

LA = ZoneInfo("America/Los_Angeles")


def test_event_ending_in_the_second_pass_of_the_repeated_hour_keeps_its_real_length() -> None:
    # 01:45 daylight time, then 30 real minutes later the clock reads 01:15 standard time.
    event = snake_event(start="2026-11-01 01:45:00", end="2026-11-01 01:15:00")
    (appointment,) = payloads.parse_calendar([event], LA)
    assert appointment.starts_at.utcoffset() == timedelta(hours=-7)
    assert appointment.ends_at.utcoffset() == timedelta(hours=-8)
    elapsed = appointment.ends_at.astimezone(UTC) - appointment.starts_at.astimezone(UTC)
    assert elapsed == timedelta(minutes=30)
    assert appointment.duration_minutes == 30


def test_the_rest_of_the_calendar_is_read_around_such_an_event() -> None:
    events = [
        snake_event(appointment_id=1, id=1),
        snake_event(appointment_id=2, id=2, start="2026-11-01 01:50:00", end="2026-11-01 01:05:00"),
        snake_event(appointment_id=3, id=3, start="2026-11-01 09:00:00", end="2026-11-01 09:30:00"),
    ]
    assert [a.id for a in payloads.parse_calendar(events, LA)] == ["1", "2", "3"]


def test_an_end_truly_before_the_start_is_still_refused() -> None:
    # Outside any repeated hour, a wall end before the wall start is a broken event.
    with pytest.raises(UnexpectedPayload, match="'end' is before 'start'"):
        payloads.parse_calendar(
            [snake_event(start="2026-03-02 10:00:00", end="2026-03-02 09:30:00")], LA
        )
    # In the repeated hour, an end that is before the start even on its second pass too.
    with pytest.raises(UnexpectedPayload, match="'end' is before 'start'"):
        payloads.parse_calendar(
            [snake_event(start="2026-11-01 01:45:00", end="2026-11-01 00:30:00")], LA
        )
