"""What ezyVet's records mean (``ezyvet.md`` §4), read from the simulator's default site."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from providers.base import (
    Appointment,
    AppointmentStatus,
    Consultation,
    NotFound,
    ProviderSettings,
)
from providers.ezyvet.simulator import EzyVetSimulator
from providers.ezyvet.statuses import is_block_type, status_of
from tests.ezyvet.conftest import TODAY, ZONE, by_id, fetch_all, make, run

S = AppointmentStatus
Site = tuple[list[Appointment], dict[str, Any], dict[str, int]]
WEEK = TODAY - timedelta(days=7)
AHEAD = TODAY + timedelta(days=13)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Cancelled by Client", S.CANCELLED),
        ("CANCELED", S.CANCELLED),
        ("No Show", S.NO_SHOW),
        ("no-show", S.NO_SHOW),
        ("Did not arrive", S.NO_SHOW),
        ("DNA", S.NO_SHOW),
        ("Consult Complete", S.FINALIZED),
        ("Checked  Out", S.FINALIZED),
        ("Discharged", S.FINALIZED),
        ("Finished", S.FINALIZED),
        ("Invoiced", S.FINALIZED),
        ("Closed", S.FINALIZED),
        ("Arrived", S.IN_PROGRESS),
        ("Checked in", S.IN_PROGRESS),
        ("In progress", S.IN_PROGRESS),
        ("In Consult", S.IN_PROGRESS),
        ("With Vet", S.IN_PROGRESS),
        ("Admitted", S.IN_PROGRESS),
        ("Waiting Room", S.IN_PROGRESS),
        ("Arrival Pending", S.SCHEDULED),  # not "arrived"
        ("DNase screen", S.SCHEDULED),  # "dna" only as a word
        ("Booked", S.SCHEDULED),
        ("Ready for Pickup", S.SCHEDULED),
        (None, S.SCHEDULED),
    ],
)
def test_status_word_rules(name: str | None, expected: AppointmentStatus) -> None:
    assert status_of(name, True, {}) is expected


def test_overrides_win_over_the_rules_but_not_over_inactive() -> None:
    overrides = {"ready for pickup": S.FINALIZED, "dna": S.CANCELLED}
    assert status_of("Ready  for PICKUP", True, overrides) is S.FINALIZED
    assert status_of("DNA", True, overrides) is S.CANCELLED
    assert status_of("Ready for Pickup", False, overrides) is S.CANCELLED
    assert status_of("Invoiced", False, {}) is S.CANCELLED


def test_block_types_by_word_or_by_clinic() -> None:
    for name in (
        "Lunch Break",
        "Staff Meeting",
        "Vet Unavailable",
        "Surgery block",
        "Out of Office",
    ):
        assert is_block_type(name, ())
    assert not is_block_type("Admin Time", ())
    assert is_block_type("Admin  time", ("admin time",))
    assert not is_block_type(None, ("admin time",))


@pytest.fixture(scope="module")
def site(sim: EzyVetSimulator) -> Site:
    sim.reset()
    appointments, consultations = run(fetch_all(make(sim.url), WEEK, AHEAD))
    return appointments, consultations, sim.dataset.landmarks


def test_every_status_name_of_the_site_maps(site: Site) -> None:
    appointments = site[0]
    seen = {(a.raw_status, a.status) for a in appointments if not a.is_block and a.raw_status}
    expected = {
        "Checked Out": S.FINALIZED, "Invoiced": S.FINALIZED, "Discharged": S.FINALIZED,
        "Consult Complete": S.FINALIZED, "DNA": S.NO_SHOW, "No-Show": S.NO_SHOW,
        "In Consult": S.IN_PROGRESS, "Waiting Room": S.IN_PROGRESS, "Admitted": S.IN_PROGRESS,
        "Arrival Pending": S.SCHEDULED, "Booked": S.SCHEDULED, "Confirmed": S.SCHEDULED,
        "Reminder Sent": S.SCHEDULED, "Ready for Pickup": S.SCHEDULED,
        "Cancelled by Client": S.CANCELLED,
    }  # fmt: skip
    names = {name for name, _ in seen}
    assert set(expected) <= names
    for name, status in seen:
        if name in expected:
            inactive_ok = status is S.CANCELLED  # an inactive one, whatever its name
            assert status is expected[name] or inactive_ok, name


def test_cancelled_as_inactive(site: Site) -> None:
    appointments, _, marks = site
    cancelled = by_id(appointments)[str(marks["cancelled_inactive"])]
    assert cancelled.status is S.CANCELLED and cancelled.raw_status == "Confirmed"
    assert by_id(appointments)[str(marks["cancelled_by_name"])].status is S.CANCELLED


def test_blocks_by_word_and_deleted_blocks_close_nothing(site: Site) -> None:
    appointments, _, marks = site
    found = by_id(appointments)
    blocks = [a for a in appointments if a.is_block]
    assert {a.type for a in blocks} == {"Lunch Break", "Staff Meeting", "Vet Unavailable"}
    away = found[str(marks["vet_unavailable"])]
    assert away.is_block and away.title == "Dr. Dahl out of office"
    assert not found[str(marks["admin_time"])].is_block
    deleted = found[str(marks["deleted_block"])]
    assert not deleted.is_block and deleted.status is S.CANCELLED
    meeting = next(a for a in blocks if a.type == "Staff Meeting")
    assert meeting.provider.name is None and meeting.room_id is None


def test_a_clinic_block_type_and_a_status_override(sim: EzyVetSimulator) -> None:
    marks = sim.dataset.landmarks
    settings = ProviderSettings(
        status_map={"ready for pickup": S.FINALIZED, "confirmed": S.FINALIZED},
        block_types=("admin time",),
    )
    appointments, _ = run(fetch_all(make(sim.url, provider_settings=settings), WEEK, AHEAD))
    found = by_id(appointments)
    admin = found[str(marks["admin_time"])]
    assert admin.is_block and admin.title == "Admin: clinical audits"
    assert found[str(marks["ready_for_pickup"])].status is S.FINALIZED
    # An inactive appointment stays cancelled whatever the override says.
    assert found[str(marks["cancelled_inactive"])].status is S.CANCELLED


def test_a_midnight_crossing_appointment_keeps_its_real_end(site: Site) -> None:
    appointments, _, marks = site
    night = by_id(appointments)[str(marks["midnight"])]
    zone = ZoneInfo(ZONE)
    yesterday = TODAY - timedelta(days=1)
    assert night.starts_at == datetime(
        yesterday.year, yesterday.month, yesterday.day, 23, 15, tzinfo=zone
    )
    assert night.ends_at == datetime(TODAY.year, TODAY.month, TODAY.day, 0, 45, tzinfo=zone)
    assert night.local_date == yesterday and night.duration_minutes == 90
    assert night.status is S.FINALIZED and night.raw_status == "Discharged"
    assert night.provider.name == "Surgery Theatre" and night.room_id == "5"


def test_missing_links_leave_fields_empty(site: Site) -> None:
    appointments, _, marks = site
    found = by_id(appointments)
    nobody = found[str(marks["no_animal_no_contact"])]
    assert nobody.patient.name is None and nobody.patient.id is None
    assert nobody.client.name is None and nobody.client.phone is None
    stray = found[str(marks["animal_without_contact"])]
    assert stray.patient.name and stray.patient.species and stray.client.id is None
    deleted = found[str(marks["deleted_contact"])]
    assert deleted.client.id == "2999" and deleted.client.name is None
    assert deleted.patient.name is not None


def test_patients_and_clients(site: Site) -> None:
    appointments, _, marks = site
    k9 = by_id(appointments)[str(marks["business_client"])]
    assert k9.client.name in (
        "Harbour Police K9 Unit",
        "Green Acres Farm Ltd",
        "Westside Animal Rescue",
    )
    people = [a for a in appointments if a.client.name and a.client.id]
    assert any(a.client.phone for a in people)
    assert any(a.client.phone is None for a in people)  # only an email and a fax on record
    assert all(a.client.phone != "+64 21 000 0000" for a in people)  # inactive detail
    assert all(a.patient.species for a in people if a.patient.id)
    first = people[0]
    assert " " in (first.client.name or "")


def test_finalized_with_and_without_consult(site: Site) -> None:
    appointments, consultations, marks = site
    found = by_id(appointments)
    without = found[str(marks["finalized_without_consult"])]
    assert without.status is S.FINALIZED and without.consultation_id is None
    inactive = found[str(marks["inactive_consult"])]
    assert isinstance(consultations[str(inactive.consultation_id)].error, NotFound)
    done = [a for a in appointments if a.status is S.FINALIZED and a.consultation_id]
    ok = [consultations[str(a.consultation_id)] for a in done]
    assert sum(isinstance(c, Consultation) for c in ok) == len(done) - 1


def test_notes_and_products_of_a_consultation(sim: EzyVetSimulator, site: Site) -> None:
    _, consultations, marks = site
    consult_id = str(marks["midnight_consult"])
    consultation = consultations[consult_id]
    assert isinstance(consultation, Consultation)
    records = sim.dataset.records
    notes = sorted(
        [
            (r["timestamp"], r["notes"])
            for r in records("assessment")
            if r["consult_id"] == int(consult_id) and r["active"]
        ]
        + [
            (r["date"], r["comments"])
            for r in records("history")
            if r["consult_id"] == int(consult_id)
        ]
    )
    assert len(notes) >= 3
    assert consultation.notes == "\n\n".join(text for _, text in notes)
    assert "Entered in error" not in (consultation.notes or "")
    lines = [
        r for r in records("invoiceline") if r["consult_id"] == int(consult_id) and r["active"]
    ]
    expected = "; ".join(f"{r['name']} × {r['quantity']:g}" for r in lines)
    assert consultation.products_services == expected
    assert "Voided line" not in (consultation.products_services or "")
    assert consultation.reason == "Hit by car" and consultation.species
    assert consultation.date is not None and consultation.date.endswith("+13:00")
