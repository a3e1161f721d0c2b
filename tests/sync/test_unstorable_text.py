"""PIMS text that a database cannot store is cleaned where it enters, alike on both databases.

- A NUL character (a note pasted from another program): PostgreSQL refuses it in ``text``
  columns and as ``\\u0000`` in ``jsonb``; SQLite keeps both. A single one used to fail the
  whole write batch on PostgreSQL, so every case of that batch was missing, run after run.
- Half of a UTF-16 surrogate pair (``\\ud83d``: an emoji cut in two by a JavaScript substring, sent
  escaped in valid JSON): no UTF-8 encoder accepts it, so one such name failed the whole
  calendar write on both databases, and a note with one failed the case batch on PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from daemon.store import Store
from daemon.store.appointments import AppointmentRepository
from daemon.store.cases import CaseRepository
from daemon.store.models import PimsAppointment
from daemon.sync.case_rules import plan_upsert
from daemon.sync.inbound import appointment_row
from daemon.sync.neutral import appointment_json, consultation_json
from providers.ezyvet import payloads as ezyvet
from providers.idexx_neo import payloads as neo
from tests.support import PROVIDER, TODAY, ZONE
from tests.sync.conftest import YESTERDAY, Harness, finalized_with_consultation


def test_a_nul_in_a_note_and_a_name_syncs_on_both_databases(harness: Harness) -> None:
    bad, clean = "\x00", ""
    sim = harness.sim
    event = finalized_with_consultation(sim, YESTERDAY)[0]
    consultation_id = str(event["consultation_id"])
    page: dict[str, Any] | None = sim.dataset.get_consultation(consultation_id)
    assert page is not None
    page["consultation"]["notes"] = f"Vomiting{bad} since Monday"
    sim.dataset.upsert_consultation(consultation_id, page)
    today_event = finalized_with_consultation(sim, TODAY)[0]
    sim.dataset.upsert_event({**today_event, "patient_name": f"BIS{bad}CUIT"})

    cases = harness.sync("cases")
    assert cases.status == "completed", cases.errors
    case = harness.case_of(str(event["appointment_id"]))
    assert case.meta["pimsConsultation"]["notes"] == f"Vomiting{clean} since Monday"
    named = harness.case_of(str(today_event["appointment_id"]))
    assert named.meta["pimsAppointment"]["patient"]["name"] == f"BIS{clean}CUIT"
    again = harness.sync("cases")
    assert (again.stats["created"], again.stats["updated"]) == (0, 0)

    inbound = harness.sync("inbound", start_date=TODAY, end_date=TODAY)
    assert inbound.status == "completed", inbound.errors
    with harness.store.db.session() as session:
        name = session.execute(
            select(PimsAppointment.patient_name).where(
                PimsAppointment.clinic_id == harness.clinic.id,
                PimsAppointment.external_id == str(today_event["appointment_id"]),
            )
        ).scalar_one()
    assert name == f"BIS{clean}CUIT"


# The simulator cannot send half a surrogate pair (it encodes its answers as UTF-8), so this one
# starts from the bytes a PIMS sends: valid JSON with the escape, read as the client reads it.
NEO_EVENT = (
    '{"appointment_id": 7, "consultation_id": 70, "start": "2026-03-04 09:00:00",'
    ' "end": "2026-03-04 09:30:00", "patient_name": "REX \\ud83d",'
    ' "current_status": "Finalized", "type_description": "Exam"}'
)
NEO_PAGE = '{"consultation": {"id": 70, "notes": "Happy dog \\ud83d", "status": "completed"}}'
EZYVET_CONSULT = '{"id": "7", "active": "1", "description": "Limp \\ud83d"}'


def test_half_a_surrogate_pair_is_replaced_and_stored_alike(store: Store) -> None:
    zone = ZoneInfo(ZONE)
    (appointment,) = neo.parse_calendar([json.loads(NEO_EVENT)], zone)
    consultation = neo.parse_consultation(json.loads(NEO_PAGE), "70")
    assert appointment.patient.name == "REX \ufffd"
    assert consultation.notes == "Happy dog \ufffd"
    ezyvet_consultation = ezyvet.parse_consultation(
        json.loads(EZYVET_CONSULT), [], [], [], zone, ezyvet.Lookups(), {}
    )
    assert ezyvet_consultation.reason == "Limp \ufffd"

    clinic = store.clinics.add(name="Text", timezone=ZONE, provider=PROVIDER, base_url=None)
    now = datetime.now(UTC)
    row = appointment_row(clinic.id, appointment, now)
    AppointmentRepository(store.db).apply(
        clinic.id, upserts=[row], unchanged=[], removed=[], at=now
    )
    planned = plan_upsert(
        None,
        appointment,
        appointment_json(appointment),
        consultation_json(consultation),
        clinic_id=clinic.id,
        provider=PROVIDER,
        now=now,
        force=False,
    )
    assert planned.write is not None
    cases = CaseRepository(store.db)
    cases.write([planned.write])
    (case,) = cases.all_for_clinic(clinic.id)
    assert case.meta["pimsConsultation"]["notes"] == "Happy dog \ufffd"
    (stored,) = AppointmentRepository(store.db).in_range(clinic.id, TODAY, TODAY)
    assert stored.external_id == "7"
