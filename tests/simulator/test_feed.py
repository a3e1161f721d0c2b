"""Range selection and dialects of the calendar feed, without a server."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from providers.idexx_neo.simulator import feed


def _event(event_id: int, start: str, end: str, **extra: Any) -> dict[str, Any]:
    return {"appointment_id": event_id, "start": start, "end": end, **extra}


EVENTS = [
    _event(1, "2026-03-03 23:15:00", "2026-03-04 00:45:00"),  # crosses midnight
    _event(2, "2026-03-04 09:00:00", "2026-03-04 09:30:00"),
    _event(3, "2026-03-03 17:00:00", "2026-03-04 00:00:00"),  # ends exactly at midnight
    _event(4, "2026-03-05 00:00:00", "2026-03-05 00:15:00"),  # starts on the next day
    _event(5, "2026-03-04T10:00:00", "2026-03-04T10:15:00"),  # injected in ISO form
]


def _ids(start: str, end: str) -> list[Any]:
    selected = feed.overlapping(EVENTS, datetime.fromisoformat(start), datetime.fromisoformat(end))
    return [e["appointment_id"] for e in selected]


def test_a_day_returns_every_overlapping_event_in_start_order() -> None:
    assert _ids("2026-03-04 00:00:00", "2026-03-04 23:59:59") == [1, 2, 5]


def test_a_midnight_crossing_event_shows_for_both_days() -> None:
    assert 1 in _ids("2026-03-03 00:00:00", "2026-03-03 23:59:59")
    assert 1 in _ids("2026-03-04 00:00:00", "2026-03-04 23:59:59")


def test_touching_the_range_is_not_overlapping() -> None:
    assert 3 not in _ids("2026-03-04 00:00:00", "2026-03-04 23:59:59")
    assert 3 in _ids("2026-03-03 00:00:00", "2026-03-03 23:59:59")
    assert _ids("2026-03-04 09:30:00", "2026-03-04 09:59:59") == []


def test_camel_variant() -> None:
    raw = _event(
        500101,
        "2026-03-02 09:15:00",
        "2026-03-02 09:30:00",
        patient_name="Zoë",
        first_name="José",
        last_name="Peña",
        phone_number="555-010-0003",
        provider="Dr. Inés Peña",
        type_description="Exam",
        current_status="",
        status_label="Ready to Pay",
        resourceId="9",
        title="Zoë; Peña, José",
        is_block=False,
        is_roster=True,
    )
    camel = feed.to_camel(raw)
    assert camel["id"] == 500101
    assert camel["start"] == "2026-03-02T09:15:00" and camel["end"] == "2026-03-02T09:30:00"
    assert camel["patientName"] == "Zoë"
    assert camel["clientName"] == "José Peña"
    assert camel["clientPhone"] == "555-010-0003"
    assert camel["providerName"] == "Dr. Inés Peña"
    assert camel["appointmentType"] == "Exam"
    assert camel["status"] == "Ready to Pay" and camel["className"] == "ready-to-pay"
    assert camel["isRoster"] is True and camel["resourceId"] == "9"
    assert not any("_" in key for key in camel)


def test_envelopes() -> None:
    events = [_event(1, "2026-03-04 09:00:00", "2026-03-04 09:15:00")]
    assert feed.render(events, variant="snake", envelope="array") == events
    for key in ("appointments", "data", "events"):
        assert feed.render(events, variant="snake", envelope=key) == {key: events}
