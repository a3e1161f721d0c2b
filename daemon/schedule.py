"""Cron arithmetic in a clinic's timezone (contract §5.5), free of clocks and threads.

- A wall time skipped by a spring-forward change runs once, at the next valid minute (croniter
  already yields 03:00 for ``30 2 * * *`` on such a day).
- A wall time repeated by a fall-back change runs once: the second occurrence is skipped.
- A schedule that cannot be computed never raises here: a syntactically valid cron that never
  fires (``0 0 31 2 *``: no 31 February), or a stored entry that is not a cron at all, has no
  next or previous run (``None``, an empty iterator). ``schedule set`` refuses both; these
  functions still have to cope with a row written some other way, so that one bad entry cannot
  take down a clinic's other schedules, ``schedule list`` or the HTTP API.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

# croniter is imported by the functions that compute fire times, not with this module: the
# store imports ``ScheduleEntry`` from here, and a foreground ``pims-sync sync`` never reads a
# cron, so it need not pay for loading croniter.

MISFIRE_GRACE = timedelta(minutes=10)

# croniter's errors are ValueErrors; a zone that does not exist is a KeyError.
_UNCOMPUTABLE = (ValueError, KeyError)


@dataclass(frozen=True)
class ScheduleEntry:
    """One entry of ``clinic_schedule_configs.sync_schedules`` (one per sync type)."""

    type: str
    cron: str
    enabled: bool = True

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "cron": self.cron, "enabled": self.enabled}


def _is_repeat(moment: datetime) -> bool:
    """True for the second occurrence of a wall time repeated by a fall-back change."""
    wall = moment.replace(tzinfo=None)
    zone = moment.tzinfo
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return False
    return moment.utcoffset() == second.utcoffset()


def cron_is_valid(cron: str) -> bool:
    """Five fields croniter understands (whether or not it ever fires)."""
    from croniter import croniter

    return len(cron.split()) == 5 and bool(croniter.is_valid(cron))


def cron_fires(cron: str) -> bool:
    """False for a valid cron that matches no calendar date (``0 0 30 2 *``).

    Whether a day-of-month/month pair exists does not depend on the timezone, so UTC will do.
    """
    return next_fire_time(cron, "UTC", datetime.now(UTC)) is not None


def fire_times(cron: str, timezone: str, after: datetime) -> Iterator[datetime]:
    """Fire times strictly after ``after`` (aware), as aware UTC datetimes, deduplicated.

    Ends at once (yields nothing) for a cron that never fires or cannot be parsed.
    """
    from croniter import croniter

    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    try:
        zone = ZoneInfo(timezone)
        iterator = croniter(cron, after.astimezone(zone))
    except _UNCOMPUTABLE:
        return
    last_wall: datetime | None = None
    while True:
        try:
            moment = iterator.get_next(datetime)
        except _UNCOMPUTABLE:  # CroniterBadDateError: no further date matches
            return
        if moment.tzinfo is None:  # defensive: croniter keeps the zone of its start
            moment = moment.replace(tzinfo=zone)
        if _is_repeat(moment):
            continue
        wall = moment.replace(tzinfo=None)
        if wall == last_wall:
            continue
        last_wall = wall
        yield moment.astimezone(UTC)


def next_fire_time(cron: str, timezone: str, after: datetime) -> datetime | None:
    """The first fire time after ``after``; ``None`` when the schedule never fires."""
    return next(fire_times(cron, timezone, after), None)


def previous_fire_time(cron: str, timezone: str, before: datetime) -> datetime | None:
    """The latest fire time at or before ``before`` (within the last 400 days), else ``None``."""
    from croniter import croniter

    try:
        zone = ZoneInfo(timezone)
        iterator = croniter(cron, before.astimezone(zone) + timedelta(seconds=1))
        for _ in range(1000):
            moment = iterator.get_prev(datetime)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
            if not _is_repeat(moment):
                found: datetime = moment.astimezone(UTC)
                return found
    except _UNCOMPUTABLE:
        return None
    return None
