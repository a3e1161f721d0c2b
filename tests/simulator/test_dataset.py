"""The seeded dataset: deterministic, and carrying every oddity the provider must survive."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from providers.idexx_neo.simulator import Dataset
from providers.idexx_neo.simulator.walltime import parse_event_time
from tests.simulator.conftest import TODAY


def _appointments(ds: Dataset) -> list[dict[str, Any]]:
    return [e for e in ds.events.values() if not e["is_block"] and not e["is_roster"]]


def _status(event: dict[str, Any]) -> str:
    return str(event.get("current_status") or event.get("status_label") or "Scheduled")


def test_same_inputs_give_the_same_data() -> None:
    first = Dataset("default", TODAY, "America/Los_Angeles")
    second = Dataset("default", TODAY, "America/Los_Angeles")
    assert first.events == second.events
    assert first.consultations == second.consultations
    assert first.schedule_config == second.schedule_config


def test_another_day_gives_other_data() -> None:
    first = Dataset("default", TODAY)
    other = Dataset("default", TODAY + timedelta(days=1))
    assert {e["start"] for e in first.events.values()} != {
        e["start"] for e in other.events.values()
    }


def test_unknown_scenario_and_zone_are_refused() -> None:
    with pytest.raises(ValueError, match="scenario"):
        Dataset("nope", TODAY)
    with pytest.raises(ValueError, match="timezone"):
        Dataset("default", TODAY, "Mars/Olympus_Mons")


@pytest.mark.parametrize("offset", range(7))
def test_default_scenario_shape_for_every_weekday(offset: int) -> None:
    today = TODAY + timedelta(days=offset)
    ds = Dataset("default", today)
    appointments = _appointments(ds)
    assert 85 <= len(appointments) <= 110
    ids = sorted(int(e["appointment_id"]) for e in appointments)
    assert ids == list(range(500101, 500101 + len(appointments)))
    for event in ds.events.values():
        start, end = parse_event_time(event["start"]), parse_event_time(event["end"])
        assert start < end
        assert today - timedelta(days=8) <= start.date() <= today + timedelta(days=14)

    past = [e for e in appointments if parse_event_time(e["start"]).date() < today]
    finalized_past = [e for e in past if _status(e) in ("Finalized", "Completed", "Ready to Pay")]
    assert len(finalized_past) >= 25
    assert all(str(e["consultation_id"]) in ds.consultations for e in finalized_past)
    future = [e for e in appointments if parse_event_time(e["start"]).date() > today]
    assert len(future) >= 40
    assert all(e["consultation_id"] is None for e in future)
    assert {_status(e) for e in future} >= {"Scheduled", "Confirmed", "Cancelled", "Canceled"}


def test_default_scenario_has_every_feature() -> None:
    ds = Dataset("default", TODAY)
    events = list(ds.events.values())
    statuses = [_status(e) for e in _appointments(ds)]
    assert sum(s.lower() == "no show" for s in statuses) >= 3
    assert "Cancelled" in statuses and "Canceled" in statuses

    blocks = [e for e in events if e["is_block"]]
    assert any("resourceId" in b for b in blocks) and any("resourceId" not in b for b in blocks)
    all_day = [
        b for b in blocks if b["start"].endswith("00:00:00") and b["end"].endswith("00:00:00")
    ]
    assert len(all_day) == 1
    assert not any(
        parse_event_time(e["start"]).date() == parse_event_time(all_day[0]["start"]).date()
        for e in _appointments(ds)
    )
    assert any(e["is_roster"] for e in events)

    crossing = [e for e in _appointments(ds) if e["start"][:10] != e["end"][:10]]
    assert len(crossing) == 1
    assert crossing[0]["start"][:10] == (TODAY - timedelta(days=1)).isoformat()

    names = {e.get("patient_name") for e in events} | {e.get("last_name") for e in events}
    names |= {e.get("first_name") for e in events} | {e.get("provider") for e in events}
    for accented in ("Zoë", "Müller", "Peña"):
        assert any(accented in (n or "") for n in names), accented

    # One finalized visit carries its status only in status_label.
    assert any(e.get("current_status") == "" and e.get("status_label") for e in _appointments(ds))
    # Some future visits carry no status field at all.
    assert any("current_status" not in e and "status_label" not in e for e in events)


def test_consultations_cover_every_page_data_variant() -> None:
    ds = Dataset("default", TODAY)
    pages = list(ds.consultations.values())
    ids = sorted(int(cid) for cid in ds.consultations)
    assert ids[0] == 880201 and ids == list(range(880201, 880201 + len(ids)))
    assert all(str(p["consultation"]["id"]) in ds.consultations for p in pages)
    lines = [line for p in pages for line in p["consultationLines"]]
    assert any(line.get("isDeclined") for line in lines)
    assert any(line["quantity"] != 1 for line in lines if not line.get("isDeclined"))
    only_notes = [
        p
        for p in pages
        if "dischargeSummary" not in p["consultation"]
        and p.get("consultationNotes", {}).get("notes")
    ]
    assert only_notes
    assert any(p["consultation"].get("dischargeSummary") for p in pages)
    assert any(p["consultation"]["notes"] == "" for p in pages)
    for page in pages:
        assert {"patient", "client", "pageData", "clientBranch"} <= page.keys()
        assert page["pageData"]["providers"][0]["name"].startswith("Dr. ")


def test_scale_scenario() -> None:
    ds = Dataset("scale", TODAY)
    assert len(ds.events) == 300
    assert len(ds.consultations) == 150
    days = {parse_event_time(e["start"]).date() for e in ds.events.values()}
    assert min(days) >= TODAY - timedelta(days=13) and max(days) <= TODAY
    finalized = [e for e in ds.events.values() if e["current_status"] == "Finalized"]
    assert len(finalized) == 150
    assert all(str(e["consultation_id"]) in ds.consultations for e in finalized)


def test_schedule_config() -> None:
    config = Dataset("default", TODAY).schedule_config
    assert config["slotInterval"] == 15
    assert {"daysOfWeek": [1, 2, 3, 4, 5], "startTime": "08:00", "endTime": "18:00"} in config[
        "businessHours"
    ]
    assert {"daysOfWeek": [6], "startTime": "09:00", "endTime": "13:00"} in config["businessHours"]
    assert {t["name"] for t in config["appointmentTypes"]} >= {"Exam", "Vaccines", "Surgery"}
    assert config["appointmentRooms"] and config["providers"]


def test_appointments_sit_in_business_hours_on_the_slot_grid() -> None:
    ds = Dataset("default", TODAY)
    for event in _appointments(ds):
        start = parse_event_time(event["start"])
        if event["start"][:10] != event["end"][:10]:
            continue  # the overnight emergency
        assert start.minute % 15 == 0
        assert start.weekday() != 6
        opening = 9 if start.weekday() == 5 else 8
        assert start.hour >= opening


def test_editing_helpers_and_reset() -> None:
    ds = Dataset("default", TODAY)
    first = next(iter(ds.events))
    original = dict(ds.events[first])

    moved = ds.move_event(first, 30)
    assert parse_event_time(moved["start"]) - parse_event_time(original["start"]) == timedelta(
        minutes=30
    )
    assert ds.set_status(first, "No Show")["current_status"] == "No Show"
    assert ds.events[first]["status_label"] == "No Show"

    key = ds.upsert_event({**original, "appointment_id": 599999, "id": 599999})
    assert key == "599999" and "599999" in ds.events
    with pytest.raises(ValueError):
        ds.upsert_event({"appointment_id": 1, "start": "tomorrow", "end": "later"})
    with pytest.raises(ValueError):
        ds.upsert_event({"start": "2026-03-04 09:00:00", "end": "2026-03-04 09:15:00"})

    assert ds.remove_event(first) is True
    assert ds.remove_event(first) is False
    with pytest.raises(KeyError):
        ds.move_event(first, 15)

    ds.upsert_consultation(123, {})
    assert ds.get_consultation("123") == {}

    ds.reset()
    assert ds.events[first] == original
    assert "599999" not in ds.events and "123" not in ds.consultations


def test_default_today_follows_the_zone() -> None:
    ds = Dataset("default", None, "Pacific/Kiritimati")
    ds_west = Dataset("default", None, "Pacific/Pago_Pago")
    # UTC+14 and UTC-11 are always a calendar day or two apart.
    assert ds.today > ds_west.today
    assert isinstance(ds.today, date)
