"""A NUL character in PIMS text (a note pasted from another program) is stored alike on SQLite
and PostgreSQL.

PostgreSQL refuses NUL in ``text`` columns and ``\\u0000`` in ``jsonb``; SQLite keeps both. A
single such character used to fail the whole write batch on PostgreSQL, so every case of that
batch was missing, run after run, while the same data synced on SQLite.
"""

from __future__ import annotations

from typing import Any

from daemon.store.models import PimsAppointment
from tests.support import TODAY
from tests.sync.conftest import YESTERDAY, Harness, finalized_with_consultation


def test_a_nul_in_a_consultation_note_and_a_name_syncs_on_both_databases(
    harness: Harness,
) -> None:
    sim = harness.sim
    event = finalized_with_consultation(sim, YESTERDAY)[0]
    consultation_id = str(event["consultation_id"])
    page: dict[str, Any] | None = sim.dataset.get_consultation(consultation_id)
    assert page is not None
    page["consultation"]["notes"] = "Vomiting\x00 since Monday"
    sim.dataset.upsert_consultation(consultation_id, page)
    today_event = finalized_with_consultation(sim, TODAY)[0]
    sim.dataset.upsert_event({**today_event, "patient_name": "BIS\x00CUIT"})

    cases = harness.sync("cases")
    assert cases.status == "completed", cases.errors
    case = harness.case_of(str(event["appointment_id"]))
    assert case.meta["pimsConsultation"]["notes"] == "Vomiting since Monday"
    named = harness.case_of(str(today_event["appointment_id"]))
    assert named.meta["pimsAppointment"]["patient"]["name"] == "BISCUIT"
    again = harness.sync("cases")
    assert (again.stats["created"], again.stats["updated"]) == (0, 0)

    inbound = harness.sync("inbound", start_date=TODAY, end_date=TODAY)
    assert inbound.status == "completed", inbound.errors
    with harness.store.db.session() as session:
        stored = session.get(
            PimsAppointment,
            session.query(PimsAppointment.id)
            .filter(PimsAppointment.external_id == str(today_event["appointment_id"]))
            .scalar(),
        )
        assert stored is not None and stored.patient_name == "BISCUIT"
