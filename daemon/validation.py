"""Value rules shared by the CLI, the HTTP API and the stored configuration.

Every failure is a :class:`InvalidValue` that names the field and the rule.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from daemon.names import PERMISSIONS, SYNC_TYPES

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class InvalidValue(ValueError):
    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


def timezone_name(value: str, field: str = "timezone") -> str:
    # ZoneInfo also accepts file paths and odd spellings; insist on a real IANA name.
    if value not in available_timezones():
        raise InvalidValue(
            field, f"must be an IANA timezone name such as America/Los_Angeles (got {value!r})"
        )
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue(field, f"must be an IANA timezone name (got {value!r})") from None
    return value


def cron_expression(value: str, field: str = "cron") -> str:
    fields = value.split()
    if len(fields) != 5:
        raise InvalidValue(
            field,
            f"must have 5 fields (minute hour day month weekday), got {len(fields)} in {value!r}",
        )
    # Imported here: argument parsing (``--help``) must not pay for it.
    from daemon.schedule import cron_fires, cron_is_valid

    cron = " ".join(fields)
    if not cron_is_valid(cron):
        raise InvalidValue(field, f"is not a valid cron expression: {value!r}")
    if not cron_fires(cron):
        raise InvalidValue(
            field,
            f"never fires: no calendar date matches its day and month fields ({value!r})",
        )
    return cron


def sync_type(value: str, field: str = "type") -> str:
    if value not in SYNC_TYPES:
        raise InvalidValue(field, f"must be one of {', '.join(SYNC_TYPES)} (got {value!r})")
    return value


def permission(value: str, field: str = "permission") -> str:
    if value not in PERMISSIONS:
        raise InvalidValue(field, f"must be one of {', '.join(PERMISSIONS)} (got {value!r})")
    return value


#: Dates outside this window are typing mistakes (a year 0202, a year 2205), never a sync: the
#: HTTP API and the CLI refuse them alike.
DATE_FLOOR = date(2000, 1, 1)
DATE_HORIZON_YEARS = 5


def latest_sane_date(today: date) -> date:
    """``today`` + :data:`DATE_HORIZON_YEARS` years (28 February for a 29 February)."""
    try:
        return today.replace(year=today.year + DATE_HORIZON_YEARS)
    except ValueError:
        return today.replace(year=today.year + DATE_HORIZON_YEARS, day=28)


def sane_date(day: date, field: str, today: date) -> date:
    """``day`` when it lies from :data:`DATE_FLOOR` to :func:`latest_sane_date`, else
    :class:`InvalidValue` naming ``field`` and the window."""
    latest = latest_sane_date(today)
    if not DATE_FLOOR <= day <= latest:
        raise InvalidValue(
            field,
            f"must be from {DATE_FLOOR.isoformat()} to {latest.isoformat()} "
            f"(today + {DATE_HORIZON_YEARS} years)",
        )
    return day


def local_date(value: str, field: str) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise InvalidValue(field, "must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidValue(field, f"is not a calendar date: {value!r}") from None


def wall_time(value: str, field: str) -> str:
    if not isinstance(value, str) or not _HHMM.fullmatch(value):
        raise InvalidValue(field, "must be a time HH:MM (24-hour)")
    return value


def parse_uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise InvalidValue(field, f"must be a UUID (got {value!r})") from None


def http_url(value: str, field: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise InvalidValue(field, f"must be an http:// or https:// URL (got {value!r})")
    return value.rstrip("/")


def daily_hours(value: object, field: str = "daily_hours") -> dict[str, dict[str, object]]:
    """``{"0".."6": {enabled, open, close}}`` with Sunday = 0 (contract §4)."""
    if not isinstance(value, dict):
        raise InvalidValue(field, "must be an object keyed by weekday 0-6 (Sunday = 0)")
    result: dict[str, dict[str, object]] = {}
    for key, day in value.items():
        if key not in {str(d) for d in range(7)}:
            raise InvalidValue(f"{field}.{key}", "weekday keys must be '0' to '6' (Sunday = 0)")
        if not isinstance(day, dict) or not isinstance(day.get("enabled"), bool):
            raise InvalidValue(
                f"{field}.{key}", "must be {enabled: bool, open: HH:MM, close: HH:MM}"
            )
        opens = wall_time(str(day.get("open")), f"{field}.{key}.open")
        closes = wall_time(str(day.get("close")), f"{field}.{key}.close")
        if day["enabled"] and opens >= closes:
            raise InvalidValue(f"{field}.{key}", "open must be before close")
        result[key] = {"enabled": day["enabled"], "open": opens, "close": closes}
    return result
