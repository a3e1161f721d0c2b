"""The simulator's live data: a seeded scenario that tests may then edit while it is served."""

from __future__ import annotations

import copy
import threading
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from providers.idexx_neo.simulator import scenarios
from providers.idexx_neo.simulator.walltime import format_wall, parse_event_time


def default_today(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


class Dataset:
    """Raw IDEXX-shaped events and consultations for one (scenario, today, timezone).

    ``events`` holds snake_case events keyed by ``str(appointment_id)``; ``consultations`` holds
    page-data bodies keyed by ``str(consultation id)``. Both are live: the server reads them on
    every request. Edit them through the helpers, which take the lock the server reads under
    (the server runs in another thread).
    """

    def __init__(
        self,
        scenario: str = "default",
        today: date | None = None,
        timezone: str = "America/Los_Angeles",
    ) -> None:
        try:
            ZoneInfo(timezone)  # fail early on an unknown zone
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {timezone!r}") from exc
        self.scenario = scenario
        self.timezone = timezone
        self.today = today if today is not None else default_today(timezone)
        built = scenarios.build(scenario, self.today, timezone)
        self._lock = threading.RLock()
        self._original = built
        self.events: dict[str, dict[str, Any]] = {}
        self.consultations: dict[str, dict[str, Any]] = {}
        self.schedule_config: dict[str, Any] = {}
        self.reset()

    # -- reading (used by the server) ---------------------------------------------------------

    def snapshot_events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(event) for event in self.events.values()]

    def get_consultation(self, consultation_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.consultations.get(consultation_id)
            return copy.deepcopy(found) if found is not None else None

    def get_schedule_config(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.schedule_config)

    # -- editing ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the scenario's original data."""
        # In place, so that anyone holding ``dataset.events`` keeps seeing the live data.
        with self._lock:
            for live, original in (
                (self.events, self._original.events),
                (self.consultations, self._original.consultations),
                (self.schedule_config, self._original.schedule_config),
            ):
                live.clear()
                live.update(copy.deepcopy(original))

    def upsert_event(self, raw: dict[str, Any]) -> str:
        """Insert or replace an event by its ``appointment_id`` (or ``id``); returns the key."""
        if not isinstance(raw, dict):
            raise ValueError("an event must be a JSON object")
        key = raw.get("appointment_id", raw.get("id"))
        if key is None or isinstance(key, bool) or str(key).strip() == "":
            raise ValueError("an event needs appointment_id")
        for name in ("start", "end"):
            parse_event_time(raw.get(name))  # the feed filters on these, so they must parse
        with self._lock:
            self.events[str(key)] = dict(raw)
        return str(key)

    def remove_event(self, appointment_id: str | int) -> bool:
        """Make the event vanish from the feed (how a deleted appointment looks)."""
        with self._lock:
            return self.events.pop(str(appointment_id), None) is not None

    def move_event(self, appointment_id: str | int, minutes: int) -> dict[str, Any]:
        """Shift an event's start and end by ``minutes`` (negative moves it earlier)."""
        with self._lock:
            event = self._event(appointment_id)
            shift = timedelta(minutes=minutes)
            for name in ("start", "end"):
                event[name] = format_wall(parse_event_time(event[name]) + shift)
            return dict(event)

    def set_status(self, appointment_id: str | int, status_label: str) -> dict[str, Any]:
        """Set both status fields, since ``current_status`` would otherwise win."""
        with self._lock:
            event = self._event(appointment_id)
            event["current_status"] = status_label
            event["status_label"] = status_label
            return dict(event)

    def upsert_consultation(self, consultation_id: str | int, raw: dict[str, Any]) -> None:
        if not isinstance(raw, dict):
            raise ValueError("page data must be a JSON object")
        with self._lock:
            self.consultations[str(consultation_id)] = copy.deepcopy(raw)

    def _event(self, appointment_id: str | int) -> dict[str, Any]:
        event = self.events.get(str(appointment_id))
        if event is None:
            raise KeyError(f"no event {appointment_id}")
        return event
