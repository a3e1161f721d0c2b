"""Clinic-local dates: "today", the default ranges of contract §3.2, and their UTC bounds.

Every date a sync works on is a wall-calendar date in the clinic's zone, derived from an
injectable clock. The process's own ``TZ`` never enters: ``datetime.now`` is only ever called
with an explicit zone, and local midnights are built with ``ZoneInfo``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]

#: At most 62 dates per range (end − start ≤ 61 days), contract §3.2.
MAX_RANGE_DATES = 62
LOOKBACK_LIMITS = (1, 90)
PARALLEL_LIMITS = (1, 20)


def utc_clock() -> datetime:
    return datetime.now(UTC)


class InvalidRange(ValueError):
    """A requested range breaks a rule of contract §3.2 (names the field and the rule)."""


@dataclass(frozen=True)
class DateRange:
    """Local dates ``start`` … ``end``, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InvalidRange(f"end: {self.end} is before start {self.start}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> Iterator[date]:
        for offset in range(self.days):
            yield self.start + timedelta(days=offset)

    def utc_bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The instants of the first local midnight and of the midnight after the last date."""
        return local_midnight(self.start, zone), local_midnight(self.end + timedelta(days=1), zone)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``zone``, as UTC (midnight itself may not exist in a
    zone that switches at 00:00; ``fold=0`` and the UTC round trip land on the day's start)."""
    return datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)


def clinic_today(clock: Clock, zone: ZoneInfo) -> date:
    now = clock()
    if now.tzinfo is None:
        raise ValueError("the clock must return timezone-aware datetimes")
    return now.astimezone(zone).date()


def check_range(
    start: date, end: date, *, start_field: str = "start", end_field: str = "end"
) -> DateRange:
    if end < start:
        raise InvalidRange(f"{end_field}: must not be before {start_field} ({start} > {end})")
    if (end - start).days + 1 > MAX_RANGE_DATES:
        raise InvalidRange(
            f"{end_field}: a range holds at most {MAX_RANGE_DATES} dates "
            f"({start} … {end} holds {(end - start).days + 1})"
        )
    return DateRange(start, end)


def resolve_range(
    requested_start: date | None,
    requested_end: date | None,
    default: DateRange,
) -> DateRange:
    """The request's dates with the defaults filling what it left out.

    A lone start after the default end (or a lone end before the default start) makes a
    one-sided range collapse onto the given date rather than fail.
    """
    start = requested_start or default.start
    end = requested_end or default.end
    if requested_end is None and end < start:
        end = start
    if requested_start is None and end < start:
        start = end
    return check_range(start, end)


def inbound_default(today: date, horizon_days: int) -> DateRange:
    """today … today + horizon − 1."""
    return DateRange(today, today + timedelta(days=max(1, horizon_days) - 1))


def cases_default(today: date) -> DateRange:
    """yesterday … today."""
    return DateRange(today - timedelta(days=1), today)


def reconciliation_window(today: date, lookback_days: int) -> DateRange:
    """today − lookback … today (8 dates for the default 7)."""
    low, high = LOOKBACK_LIMITS
    if not low <= lookback_days <= high:
        raise InvalidRange(f"lookbackDays: must be an integer from {low} to {high}")
    return DateRange(today - timedelta(days=lookback_days), today)
