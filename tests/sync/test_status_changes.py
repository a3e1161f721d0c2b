"""An appointment whose status goes back and forth keeps exactly one case, never lost.

Finalized → cancelled → finalized again, and finalized → reopened → finalized, through the
``cases`` sync and ``reconciliation`` in turn (contract §5.3, §5.4).
"""

from __future__ import annotations

from tests.support import PROVIDER, TODAY
from tests.sync.conftest import Harness, finalized_with_consultation


def case_rows_of(harness: Harness, appointment_id: str) -> list[str]:
    return [k for k in harness.cases() if k.endswith(f"-{appointment_id}")]


def test_cancelled_then_finalized_again_restores_the_same_case(harness: Harness) -> None:
    harness.sync("cases")
    event = finalized_with_consultation(harness.sim, TODAY)[0]
    appointment_id = str(event["appointment_id"])
    original = harness.case_of(appointment_id)

    harness.sim.dataset.set_status(appointment_id, "Canceled")
    assert harness.sync("cases").stats["deleted"] == 1

    harness.sim.dataset.set_status(appointment_id, "Finalized")
    back = harness.sync("cases")
    assert (back.stats["created"], back.stats["updated"], back.stats["deleted"]) == (0, 1, 0)
    restored = harness.case_of(appointment_id)
    assert restored.id == original.id and restored.deleted_at is None
    assert "pimsRemoval" not in restored.meta
    assert restored.status == "completed"
    assert case_rows_of(harness, appointment_id) == [f"pims-appt-{PROVIDER}-{appointment_id}"]

    again = harness.sync("cases")
    assert (again.stats["created"], again.stats["updated"]) == (0, 0)
    quiet = harness.sync("reconciliation")
    assert (quiet.stats["updated"], quiet.stats["deleted"]) == (0, 0)


def test_a_reopened_visit_keeps_its_case_and_refinalizing_it_changes_no_identity(
    harness: Harness,
) -> None:
    harness.sync("cases")
    event = finalized_with_consultation(harness.sim, TODAY)[0]
    appointment_id = str(event["appointment_id"])
    original = harness.case_of(appointment_id)

    harness.sim.dataset.set_status(appointment_id, "In Progress")
    reopened = harness.sync("cases")
    assert (reopened.stats["deleted"], reopened.stats["updated"]) == (0, 0)
    assert harness.case_of(appointment_id).deleted_at is None

    repaired = harness.sync("reconciliation")
    assert (repaired.stats["deleted"], repaired.stats["updated"]) == (0, 1)
    case = harness.case_of(appointment_id)
    assert case.deleted_at is None and case.meta["pimsAppointment"]["status"] == "in_progress"
    # The consultation the cases sync stored is kept by reconciliation.
    assert case.meta["pimsConsultation"] == original.meta["pimsConsultation"]

    harness.sim.dataset.set_status(appointment_id, "Finalized")
    final = harness.sync("cases")
    assert (final.stats["created"], final.stats["updated"]) == (0, 1)
    assert harness.case_of(appointment_id).id == original.id
    assert case_rows_of(harness, appointment_id) == [f"pims-appt-{PROVIDER}-{appointment_id}"]
    quiet = harness.sync("reconciliation")
    assert (quiet.stats["updated"], quiet.stats["deleted"]) == (0, 0)
