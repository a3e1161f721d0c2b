"""Availability slots from opening hours and the PIMS calendar (contract §5.2). Pure functions.

Slots are laid in clinic wall time (09:00, 09:15, …) and stored as real instants. A slot whose
wall time does not exist (the spring-forward gap) is left out; an appointment or block counts
for every slot it overlaps, whatever day it started on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from daemon.store.slots import Slot
from daemon.sync.ranges import DateRange
from providers.base import Appointment, ScheduleConfig

log = logging.getLogger("pims_sync.schedule")  # slots are the inbound (schedule) sync's

DEFAULT_SLOT_MINUTES = 15
MINUTES_PER_DAY = 24 * 60
BLOCK_REASON_FALLBACK = "Blocked"

#: Opening intervals per weekday (0 = Sunday … 6 = Saturday), in minutes after midnight.
Hours = dict[int, list[tuple[int, int]]]


def weekday_sunday0(day: date) -> int:
    return (day.weekday() + 1) % 7


def _minutes(text: Any) -> int | None:
    if not isinstance(text, str):
        return None
    if text.strip() in ("24:00", "24:00:00"):
        return MINUTES_PER_DAY
    try:
        clock = time.fromisoformat(text.strip())
    except ValueError:
        return None
    return clock.hour * 60 + clock.minute


def hours_from_daily(daily_hours: Mapping[str, Any]) -> Hours:
    """``clinic_schedule_configs.daily_hours``: ``{"0".."6": {enabled, open, close}}``."""
    hours: Hours = {}
    for key, day in daily_hours.items():
        if key not in {str(d) for d in range(7)} or not isinstance(day, Mapping):
            log.warning("ignoring a malformed daily_hours entry", extra={"weekday": str(key)})
            continue
        if not day.get("enabled"):
            continue
        opens, closes = _minutes(day.get("open")), _minutes(day.get("close"))
        if opens is None or closes is None or opens >= closes:
            log.warning("ignoring a malformed daily_hours entry", extra={"weekday": key})
            continue
        hours.setdefault(int(key), []).append((opens, closes))
    return hours


def hours_from_pims(config: ScheduleConfig) -> Hours:
    hours: Hours = {}
    for entry in config.business_hours:
        opens = entry.opens.hour * 60 + entry.opens.minute
        closes = (
            MINUTES_PER_DAY
            if entry.closes == time.max
            else entry.closes.hour * 60 + entry.closes.minute
        )
        if opens < closes:
            hours.setdefault(entry.day_of_week, []).append((opens, closes))
    for intervals in hours.values():
        intervals.sort()
    return hours


def has_hours(hours: Hours) -> bool:
    return any(intervals for intervals in hours.values())


def slot_minutes(configured: int | None, config: ScheduleConfig | None) -> int:
    """The clinic's slot length, else the PIMS's slot interval, else 15."""
    if configured:
        return configured
    if config is not None and config.slot_interval_minutes and config.slot_interval_minutes > 0:
        return config.slot_interval_minutes
    return DEFAULT_SLOT_MINUTES


def _instant(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a clinic wall time, or None when that wall time does not exist."""
    aware = wall.replace(tzinfo=zone, fold=0)
    as_utc = aware.astimezone(UTC)
    if as_utc.astimezone(zone).replace(tzinfo=None) != wall:
        return None  # in the spring-forward gap
    return as_utc


@dataclass(frozen=True)
class _Busy:
    start: datetime
    end: datetime
    is_block: bool
    reason: str

    def overlaps(self, start: datetime, end: datetime) -> bool:
        if self.end <= self.start:  # zero length: lives at its instant
            return start <= self.start < end
        return self.start < end and self.end > start


def _busy(appointments: Iterable[Appointment]) -> list[_Busy]:
    result: list[_Busy] = []
    for appointment in appointments:
        if not appointment.is_block and appointment.status.is_dead:
            continue  # cancelled and no-show appointments occupy no time
        reason = appointment.title or appointment.reason or BLOCK_REASON_FALLBACK
        result.append(
            _Busy(
                start=appointment.starts_at.astimezone(UTC),
                end=appointment.ends_at.astimezone(UTC),
                is_block=appointment.is_block,
                reason=reason,
            )
        )
    result.sort(key=lambda b: (b.start, b.end))
    return result


def build_slots(
    date_range: DateRange,
    zone: ZoneInfo,
    hours: Hours,
    length_minutes: int,
    capacity: int,
    appointments: Sequence[Appointment],
) -> list[Slot]:
    """Every slot of the range: from opening time, every ``length_minutes``, while the slot
    ends by closing time; booked = overlapping live appointments; a block closes the slot."""
    if length_minutes <= 0:
        raise ValueError("slot length must be positive")
    busy = _busy(appointments)
    slots: list[Slot] = []
    seen: set[datetime] = set()
    for day in date_range.dates():
        midnight = datetime.combine(day, time(0, 0))
        for opens, closes in sorted(hours.get(weekday_sunday0(day), [])):
            minute = opens
            while minute + length_minutes <= closes:
                wall_start = midnight + timedelta(minutes=minute)
                minute += length_minutes
                start = _instant(wall_start, zone)
                if start is None or start in seen:
                    continue
                # Real minutes, not wall minutes: a slot that runs into a DST change still
                # lasts its length.
                end = start + timedelta(minutes=length_minutes)
                seen.add(start)
                slots.append(_slot(day, wall_start, start, end, capacity, busy))
    return slots


def recount_slots(
    published: Sequence[Slot], capacity: int, appointments: Sequence[Appointment]
) -> list[Slot]:
    """The slots already published, their bookings and blocks counted again from a fresh
    calendar: what the slots can still say when the opening hours cannot be read. Their times
    are kept; a slot booked since the last run must not go on looking free."""
    busy = _busy(appointments)
    return [
        _slot(
            slot.local_date,
            datetime.combine(slot.local_date, time.fromisoformat(slot.local_start)),
            slot.starts_at,
            slot.ends_at,
            capacity,
            busy,
        )
        for slot in published
    ]


def _slot(
    day: date,
    wall_start: datetime,
    start: datetime,
    end: datetime,
    capacity: int,
    busy: Sequence[_Busy],
) -> Slot:
    booked = 0
    block: _Busy | None = None
    for item in busy:
        if item.start >= end:
            break  # sorted by start: nothing later can overlap
        if not item.overlaps(start, end):
            continue
        if item.is_block:
            block = block or item
        else:
            booked += 1
    return Slot(
        starts_at=start,
        ends_at=end,
        local_date=day,
        local_start=wall_start.strftime("%H:%M"),
        capacity=0 if block is not None else capacity,
        booked=booked,
        is_blocked=block is not None,
        block_reason=block.reason if block is not None else None,
    )
