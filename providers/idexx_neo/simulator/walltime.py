"""Clinic wall-clock times as IDEXX Neo writes them: naive, no offset, second precision."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

WALL_FORMAT = "%Y-%m-%d %H:%M:%S"
ISO_FORMAT = "%Y-%m-%dT%H:%M:%S"

# Strict on purpose: the real endpoint rejects anything but this shape, so must we.
_WALL_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def format_wall(value: datetime) -> str:
    return value.strftime(WALL_FORMAT)


def format_iso(value: datetime) -> str:
    return value.strftime(ISO_FORMAT)


def parse_wall_strict(text: str) -> datetime:
    """Parse a query bound; ``ValueError`` for anything but ``YYYY-MM-DD HH:MM:SS``."""
    if not _WALL_RE.match(text):
        raise ValueError("expected YYYY-MM-DD HH:MM:SS")
    return datetime.strptime(text, WALL_FORMAT)


def parse_event_time(text: object) -> datetime:
    """Parse a stored event time; injected events may use the ISO ``T`` form as well."""
    if not isinstance(text, str):
        raise ValueError("event time must be a string")
    if _WALL_RE.match(text):
        return datetime.strptime(text, WALL_FORMAT)
    if _ISO_RE.match(text):
        return datetime.strptime(text, ISO_FORMAT)
    raise ValueError("expected YYYY-MM-DD HH:MM:SS")


def at(day: date, minutes: int) -> datetime:
    """The wall time ``minutes`` after midnight of ``day`` (may roll into the next day)."""
    return datetime(day.year, day.month, day.day) + timedelta(minutes=minutes)
