"""The status table of the spec, in every spelling Neo uses."""

from __future__ import annotations

import logging

import pytest

from providers.base import AppointmentStatus
from providers.idexx_neo.statuses import normalize_status

S = AppointmentStatus


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Scheduled", S.SCHEDULED),
        ("Confirmed", S.SCHEDULED),
        ("Not Arrived", S.SCHEDULED),
        ("not_arrived", S.SCHEDULED),
        ("Booked", S.SCHEDULED),
        ("Arrived", S.IN_PROGRESS),
        ("Checked In", S.IN_PROGRESS),
        ("CHECKED_IN", S.IN_PROGRESS),
        ("In Progress", S.IN_PROGRESS),
        ("with vet", S.IN_PROGRESS),
        ("Ready to Pay", S.FINALIZED),
        ("Finalized", S.FINALIZED),
        ("Finalised", S.FINALIZED),
        ("Completed", S.FINALIZED),
        ("complete", S.FINALIZED),
        ("Discharged", S.FINALIZED),
        ("Checked Out", S.FINALIZED),
        ("Paid", S.FINALIZED),
        ("No Show", S.NO_SHOW),
        ("no-show", S.NO_SHOW),
        ("NOSHOW", S.NO_SHOW),
        ("Did not arrive", S.NO_SHOW),
        ("Cancelled", S.CANCELLED),
        ("Canceled", S.CANCELLED),
        ("  deleted ", S.CANCELLED),
        (None, S.SCHEDULED),
        ("", S.SCHEDULED),
    ],
)
def test_status_table(raw: str | None, expected: AppointmentStatus) -> None:
    assert normalize_status(raw) is expected


def test_unknown_status_is_scheduled_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="providers.idexx_neo.statuses")
    assert normalize_status("Waiting For Godot") is S.SCHEDULED
    assert normalize_status("waiting_for_godot") is S.SCHEDULED
    assert normalize_status("Waiting for Godot") is S.SCHEDULED
    warnings = [r for r in caplog.records if "unknown" in r.getMessage()]
    assert len(warnings) == 1
    assert normalize_status("Another Unknown") is S.SCHEDULED
    assert len([r for r in caplog.records if "unknown" in r.getMessage()]) == 2
