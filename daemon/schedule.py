"""Cron arithmetic in a clinic's timezone (contract §5.5), free of clocks and threads.

- A wall time skipped by a spring-forward change runs once, at the next valid minute (croniter
  already yields 03:00 for ``30 2 * * *`` on such a day).
- A wall time repeated by a fall-back change runs once: the second occurrence is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

MISFIRE_GRACE = timedelta(minutes=10)


def _is_repeat(moment: datetime) -> bool:
    """True for the second occurrence of a wall time repeated by a fall-back change."""
    wall = moment.replace(tzinfo=None)
    zone = moment.tzinfo
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return False
    return moment.utcoffset() == second.utcoffset()


def fire_times(cron: str, timezone: str, after: datetime) -> Iterator[datetime]:
    """Fire times strictly after ``after`` (aware), as aware UTC datetimes, deduplicated."""
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    zone = ZoneInfo(timezone)
    iterator = croniter(cron, after.astimezone(zone))
    last_wall: datetime | None = None
    while True:
        moment = iterator.get_next(datetime)
        if moment.tzinfo is None:  # defensive: croniter keeps the zone of its start
            moment = moment.replace(tzinfo=zone)
        if _is_repeat(moment):
            continue
        wall = moment.replace(tzinfo=None)
        if wall == last_wall:
            continue
        last_wall = wall
        yield moment.astimezone(UTC)


def next_fire_time(cron: str, timezone: str, after: datetime) -> datetime:
    return next(fire_times(cron, timezone, after))


def previous_fire_time(cron: str, timezone: str, before: datetime) -> datetime | None:
    """The latest fire time at or before ``before`` (within the last 400 days)."""
    zone = ZoneInfo(timezone)
    iterator = croniter(cron, before.astimezone(zone) + timedelta(seconds=1))
    for _ in range(1000):
        moment = iterator.get_prev(datetime)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        if not _is_repeat(moment):
            found: datetime = moment.astimezone(UTC)
            return found
    return None
