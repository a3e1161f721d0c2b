"""Parsing Neo's JSON into neutral value objects, from literal bodies (no server)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from providers.base import AppointmentStatus, UnexpectedPayload
from providers.idexx_neo import payloads

LA = ZoneInfo("America/Los_Angeles")


def snake_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "appointment_id": 500101,
        "id": 500101,
        "consultation_id": 880201,
        "start": "2026-03-02 09:15:00",
        "end": "2026-03-02 09:30:00",
        "patient_id": 40001,
        "patient_name": "BISCUIT",
        "client_id": 20001,
        "first_name": "ALEX",
        "last_name": "DOE",
        "email": "alex@example.test",
        "phone_number": "555-010-0001",
        "provider": "DR. SAMPLE",
        "resourceId": "9",
        "title": "BISCUIT; DOE, ALEX",
        "type_description": "Exam",
        "reason": "Limping",
        "current_status": "Finalized",
        "status_label": "Finalized",
        "is_block": False,
        "is_roster": False,
    }
    event.update(overrides)
    return event


def camel_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": 500101,
        "title": "BISCUIT; DOE, ALEX",
        "start": "2026-03-02T09:15:00",
        "end": "2026-03-02T09:30:00",
        "resourceId": "9",
        "className": "finalized",
        "patientName": "BISCUIT",
        "clientName": "ALEX DOE",
        "clientPhone": "555-010-0001",
        "providerName": "DR. SAMPLE",
        "appointmentType": "Exam",
        "status": "Finalized",
        "consultationId": 880201,
        "patientId": 40001,
        "clientId": 20001,
        "clientEmail": "alex@example.test",
        "reason": "Limping",
    }
    event.update(overrides)
    return event


def test_snake_event_maps_every_field() -> None:
    (appointment,) = payloads.parse_calendar([snake_event()], LA)
    assert appointment.id == "500101"
    assert appointment.starts_at == datetime(2026, 3, 2, 9, 15, tzinfo=LA)
    assert appointment.starts_at.utcoffset() == timedelta(hours=-8)
    assert appointment.duration_minutes == 15
    assert appointment.local_date == date(2026, 3, 2)
    assert appointment.status is AppointmentStatus.FINALIZED
    assert appointment.raw_status == "Finalized"
    assert appointment.consultation_id == "880201"
    assert appointment.patient.id == "40001" and appointment.patient.name == "BISCUIT"
    assert appointment.client.name == "ALEX DOE"
    assert appointment.client.phone == "555-010-0001"
    assert appointment.client.email == "alex@example.test"
    assert appointment.provider.name == "DR. SAMPLE"
    assert appointment.room_id == "9"
    assert (appointment.type, appointment.reason) == ("Exam", "Limping")
    assert appointment.is_block is False


def test_camel_variant_gives_the_same_appointment() -> None:
    (snake,) = payloads.parse_calendar([snake_event()], LA)
    (camel,) = payloads.parse_calendar([camel_event()], LA)
    assert camel == snake


@pytest.mark.parametrize("envelope", ["appointments", "data", "events"])
def test_every_envelope_is_unwrapped(envelope: str) -> None:
    bare = payloads.parse_calendar([snake_event(), snake_event(appointment_id=7, id=7)], LA)
    wrapped = payloads.parse_calendar(
        {envelope: [snake_event(), snake_event(appointment_id=7)]}, LA
    )
    assert [a.id for a in wrapped] == [a.id for a in bare] == ["500101", "7"]


@pytest.mark.parametrize(
    "body",
    [{"results": []}, {"data": None}, {"events": {"a": 1}}, "not a list", 42, None],
)
def test_unknown_shapes_are_errors_not_empty(body: Any) -> None:
    with pytest.raises(UnexpectedPayload):
        payloads.parse_calendar(body, LA)


def test_empty_list_is_an_empty_calendar() -> None:
    assert payloads.parse_calendar({"appointments": []}, LA) == []


def test_rosters_are_dropped_and_blocks_kept() -> None:
    body = [
        snake_event(),
        snake_event(appointment_id=9001, is_roster=True, title="Dr. Sample on shift"),
        snake_event(appointment_id=9002, is_block=True, title="Lunch", patient_name=None),
    ]
    appointments = payloads.parse_calendar(body, LA)
    assert [a.id for a in appointments] == ["500101", "9002"]
    assert appointments[1].is_block and appointments[1].title == "Lunch"


def test_block_without_resource_id() -> None:
    event = snake_event(appointment_id=9003, is_block=True)
    del event["resourceId"]
    (block,) = payloads.parse_calendar([event], LA)
    assert block.room_id is None and block.is_block


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"current_status": "In Progress", "status_label": "Scheduled"}, "in_progress"),
        ({"current_status": "", "status_label": "No Show"}, "no_show"),
        ({"current_status": None, "status_label": None}, "scheduled"),
        ({"current_status": "Canceled"}, "cancelled"),
    ],
)
def test_status_precedence(fields: dict[str, Any], expected: str) -> None:
    (appointment,) = payloads.parse_calendar([snake_event(**fields)], LA)
    assert appointment.status == expected


def test_event_crossing_midnight_keeps_its_real_end() -> None:
    event = snake_event(start="2026-03-02 23:30:00", end="2026-03-03 01:15:00")
    (appointment,) = payloads.parse_calendar([event], LA)
    assert appointment.local_date == date(2026, 3, 2)
    assert appointment.ends_at == datetime(2026, 3, 3, 1, 15, tzinfo=LA)
    assert appointment.duration_minutes == 105


def test_all_day_block_lasts_24_hours() -> None:
    event = snake_event(is_block=True, start="2026-03-02 00:00:00", end="2026-03-03 00:00:00")
    (block,) = payloads.parse_calendar([event], LA)
    assert block.duration_minutes == 24 * 60


def test_nonexistent_wall_time_moves_forward() -> None:
    # 2026-03-08 02:30 does not exist in Los Angeles (clocks jump from 02:00 to 03:00).
    event = snake_event(start="2026-03-08 02:30:00", end="2026-03-08 03:30:00")
    (appointment,) = payloads.parse_calendar([event], LA)
    assert appointment.starts_at.replace(tzinfo=None) == datetime(2026, 3, 8, 3, 30)
    assert appointment.starts_at.utcoffset() == timedelta(hours=-7)
    assert appointment.ends_at == appointment.starts_at  # the event lost its hour to the gap


def test_ambiguous_wall_time_takes_the_first_occurrence() -> None:
    # 2026-11-01 01:30 happens twice in Los Angeles; the first one is still daylight time.
    event = snake_event(start="2026-11-01 01:30:00", end="2026-11-01 02:00:00")
    (appointment,) = payloads.parse_calendar([event], LA)
    assert appointment.starts_at.utcoffset() == timedelta(hours=-7)
    assert appointment.ends_at.utcoffset() == timedelta(hours=-8)
    # 01:30 PDT → 02:00 PST is 90 real minutes (Python's same-zone subtraction says 30).
    elapsed = appointment.ends_at.astimezone(UTC) - appointment.starts_at.astimezone(UTC)
    assert elapsed == timedelta(minutes=90)


def test_instants_across_the_fold_are_compared_as_instants() -> None:
    # 01:50 daylight time, then 01:10 standard time: 20 real minutes later, though the wall
    # clock reads earlier.
    event = camel_event(start="2026-11-01T01:50:00-07:00", end="2026-11-01T01:10:00-08:00")
    (appointment,) = payloads.parse_calendar([event], LA)
    elapsed = appointment.ends_at.astimezone(UTC) - appointment.starts_at.astimezone(UTC)
    assert elapsed == timedelta(minutes=20)


def test_iso_time_with_offset_is_an_instant() -> None:
    event = camel_event(start="2026-03-02T17:15:00Z", end="2026-03-02T17:30:00+00:00")
    (appointment,) = payloads.parse_calendar([event], LA)
    assert appointment.starts_at.replace(tzinfo=None) == datetime(2026, 3, 2, 9, 15)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"start": "yesterday"}, "start"),
        ({"start": None}, "start"),
        ({"end": 1700000000}, "end"),
        ({"end": "2026-03-02 09:00:00"}, "end"),  # before the start
        ({"appointment_id": None, "id": None}, "appointment_id"),
        ({"patient_name": {"first": "x"}}, "patient_name"),
        ({"is_block": "maybe"}, "is_block"),
    ],
)
def test_malformed_event_names_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(UnexpectedPayload, match=field):
        payloads.parse_calendar([snake_event(), snake_event(**overrides)], LA)


def test_error_messages_carry_no_personal_data() -> None:
    with pytest.raises(UnexpectedPayload) as caught:
        payloads.parse_calendar([snake_event(patient_name=["BISCUIT"])], LA)
    assert "BISCUIT" not in str(caught.value)
    assert "500101" in str(caught.value)


# -- consultations -----------------------------------------------------------------------------


def page_data(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "consultation": {
            "id": 880201,
            "reason": "Limping",
            "notes": "Grade 2 lameness.",
            "dischargeSummary": "Rest for a week.",
            "date": "2026-03-02 09:15:00",
            "status": "completed",
        },
        "consultationNotes": {"notes": "From the notes tab."},
        "consultationLines": [
            {"id": 1, "productService": "Exam", "quantity": 1, "isDeclined": False},
            {"id": 2, "productService": "Carprofen 75 mg", "quantity": 14, "isDeclined": False},
            {"id": 3, "productService": "Nail trim", "quantity": 1, "isDeclined": True},
            {"id": 4, "productService": "X-ray", "quantity": 2.0, "isDeclined": True},
            {"id": 5, "productService": "Gauze", "quantity": 0.5},
        ],
        "patient": {"id": 40001, "name": "BISCUIT", "species": "Canine", "breed": "Beagle"},
        "client": {"id": 20001, "firstName": "ALEX", "lastName": "DOE"},
        "pageData": {"providers": [{"id": 1, "name": "DR. SAMPLE"}]},
        "clientBranch": {"id": 1, "name": "Main"},
    }
    body.update(overrides)
    return body


def test_consultation_mapping() -> None:
    consultation = payloads.parse_consultation(page_data(), "880201")
    assert consultation.id == "880201"
    assert consultation.status == "completed"
    assert consultation.notes == "Grade 2 lameness."
    assert consultation.discharge_summary == "Rest for a week."
    assert consultation.products_services == "Exam; Carprofen 75 mg (Qty: 14); Gauze (Qty: 0.5)"
    assert consultation.declined_products_services == "Nail trim; X-ray (Qty: 2)"
    assert (consultation.reason, consultation.date) == ("Limping", "2026-03-02 09:15:00")
    assert (consultation.species, consultation.breed) == ("Canine", "Beagle")


def test_discharge_summary_falls_back_to_consultation_notes() -> None:
    body = page_data()
    del body["consultation"]["dischargeSummary"]
    assert payloads.parse_consultation(body, "1").discharge_summary == "From the notes tab."
    body["consultation"]["dischargeSummary"] = ""
    assert payloads.parse_consultation(body, "1").discharge_summary == "From the notes tab."


def test_consultation_without_lines_or_notes() -> None:
    body = {"consultation": {"id": 5, "notes": ""}}
    consultation = payloads.parse_consultation(body, "5")
    assert consultation.status == "unknown"
    assert consultation.notes is None and consultation.discharge_summary is None
    assert consultation.products_services is None
    assert consultation.declined_products_services is None


@pytest.mark.parametrize("body", [{}, {"pageData": {"consultation": {"id": 1}}}, [], "x"])
def test_consultation_missing_is_unexpected_payload(body: Any) -> None:
    with pytest.raises(UnexpectedPayload, match="consultation"):
        payloads.parse_consultation(body, "1")


def test_species_given_as_objects() -> None:
    body = page_data(patient={"species": {"id": 1, "name": "Feline"}, "breed": {"name": "Manx"}})
    consultation = payloads.parse_consultation(body, "1")
    assert (consultation.species, consultation.breed) == ("Feline", "Manx")


# -- schedule configuration ----------------------------------------------------------------------


def test_schedule_config() -> None:
    body = {
        "slotInterval": 15,
        "businessHours": [
            {"daysOfWeek": [1, 2], "startTime": "08:00", "endTime": "18:00"},
            {"daysOfWeek": [6], "startTime": "09:00", "endTime": "24:00"},
        ],
        "appointmentTypes": [{"id": 1, "name": "Exam", "duration": 15, "color": "#fff"}],
        "appointmentRooms": [{"id": 9, "name": "Room 1", "position": 1}],
        "providers": [{"id": 101, "name": "Dr. Sample", "provider": True}],
        "deputyEnabled": False,
    }
    config = payloads.parse_schedule_config(body)
    assert config.slot_interval_minutes == 15
    assert [(h.day_of_week, h.opens, h.closes) for h in config.business_hours] == [
        (1, time(8), time(18)),
        (2, time(8), time(18)),
        (6, time(9), time.max),
    ]
    assert config.appointment_types[0].id == "1" and config.rooms[0].name == "Room 1"
    assert config.providers[0].name == "Dr. Sample"


@pytest.mark.parametrize(
    "body",
    [
        {"businessHours": [{"daysOfWeek": [7], "startTime": "08:00", "endTime": "18:00"}]},
        {"businessHours": [{"daysOfWeek": [1], "startTime": "8am", "endTime": "18:00"}]},
        {"slotInterval": "often"},
        {"providers": [{"name": "no id"}]},
        [],
    ],
)
def test_bad_schedule_config(body: Any) -> None:
    with pytest.raises(UnexpectedPayload):
        payloads.parse_schedule_config(body)


def test_query_bounds_are_wall_time_strings() -> None:
    assert payloads.format_wall_time(date(2026, 3, 2), time(23, 59, 59)) == "2026-03-02 23:59:59"
