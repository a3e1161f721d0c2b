"""The ``cases`` sync against the simulator, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from daemon.store import SecretBox, Store
from daemon.store.models import Case, PimsCredential
from daemon.sync.case_rules import case_type
from daemon.sync.runner import SyncRunner
from providers.browsers import BrowserPool
from providers.idexx_neo.simulator import SimulatorServer
from tests.support import PROVIDER, TODAY
from tests.sync.conftest import YESTERDAY, Harness, finalized_with_consultation, make_harness

LA_OFFSET = timedelta(hours=8)  # PST on TODAY


def wall_to_utc(wall: str) -> datetime:
    return datetime.fromisoformat(wall).replace(tzinfo=UTC) + LA_OFFSET


def expected_case_ids(sim: SimulatorServer) -> set[str]:
    events = finalized_with_consultation(sim, YESTERDAY) + finalized_with_consultation(sim, TODAY)
    return {f"pims-appt-{PROVIDER}-{e['appointment_id']}" for e in events}


def test_cases_sync_creates_each_finalized_visit_once_and_then_writes_nothing(
    harness: Harness,
) -> None:
    sim = harness.sim
    logins_before = harness.logins()
    first = harness.sync("cases")
    assert first.status == "completed", first.errors
    expected = expected_case_ids(sim)
    assert len(expected) >= 8
    cases = harness.cases()
    assert set(cases) == expected
    assert first.stats["created"] == len(expected)
    assert first.stats["skipped"] == first.stats["total"] - len(expected)
    assert (first.start_date, first.end_date) == (YESTERDAY, TODAY)
    assert harness.logins() == logins_before  # the cached session was enough

    # One case in detail: every column the contract names.
    event = finalized_with_consultation(sim, YESTERDAY)[0]
    case = cases[f"pims-appt-{PROVIDER}-{event['appointment_id']}"]
    assert case.source == f"pims:{PROVIDER}"
    assert case.status == "completed"
    assert case.type == case_type(event["type_description"])
    assert case.scheduled_at == wall_to_utc(event["start"])
    assert case.deleted_at is None
    meta = case.meta
    assert meta["pimsAppointment"]["id"] == str(event["appointment_id"])
    assert meta["pimsConsultation"]["id"] == str(event["consultation_id"])
    assert meta["syncedStatus"] == "completed"
    assert case.sync_hash and len(case.sync_hash) == 64

    audit = harness.audit(first.id)
    assert (audit.sync_type, audit.status) == ("full", "completed")
    assert audit.appointments_found == first.stats["total"]
    assert audit.cases_created == len(expected)

    stamps = harness.case_updated_at()
    second = harness.sync("cases")
    assert second.status == "completed"
    assert second.stats["created"] == 0 and second.stats["updated"] == 0
    assert second.stats["skipped"] == second.stats["total"]
    assert harness.case_updated_at() == stamps  # no row written
    assert {k: c.meta["syncedAt"] for k, c in harness.cases().items()} == {
        k: c.meta["syncedAt"] for k, c in cases.items()
    }
    assert harness.logins() == logins_before


def test_force_full_sync_rewrites_every_case(harness: Harness) -> None:
    harness.sync("cases")
    forced = harness.sync("cases", force_full_sync=True)
    assert forced.status == "completed"
    assert forced.stats["updated"] == len(expected_case_ids(harness.sim))
    assert forced.stats["created"] == 0


def test_missing_consultation_is_skipped_and_a_failing_one_is_retried_next_run(
    harness: Harness,
) -> None:
    sim = harness.sim
    missing, failing = finalized_with_consultation(sim, YESTERDAY)[:2]
    sim.set_faults(
        consultation_status={
            str(missing["consultation_id"]): 404,
            str(failing["consultation_id"]): 500,
        }
    )
    first = harness.sync("cases")
    assert first.status == "partial"
    assert first.stats["failed"] == 1
    assert first.error_code == "pims_unavailable"
    assert [e.get("itemId") for e in first.errors] == [str(failing["appointment_id"])]
    cases = harness.cases()
    assert f"pims-appt-{PROVIDER}-{missing['appointment_id']}" not in cases
    assert f"pims-appt-{PROVIDER}-{failing['appointment_id']}" not in cases
    assert first.stats["created"] == len(expected_case_ids(sim)) - 2
    assert harness.audit(first.id).status == "partial"
    assert harness.audit(first.id).cases_failed == 1

    sim.reset_faults()
    second = harness.sync("cases")
    assert second.status == "completed"
    assert second.stats["created"] == 2  # the failed one and the once-missing one
    assert set(harness.cases()) == expected_case_ids(sim)


def test_cancelled_appointment_soft_deletes_its_case(harness: Harness) -> None:
    harness.sync("cases")
    event = finalized_with_consultation(harness.sim, TODAY)[0]
    harness.sim.dataset.set_status(event["appointment_id"], "Cancelled")
    second = harness.sync("cases")
    assert second.status == "completed"
    assert second.stats["deleted"] == 1
    case = harness.case_of(str(event["appointment_id"]))
    assert case.deleted_at is not None
    assert case.meta["pimsRemoval"]["reason"] == "cancelled"
    third = harness.sync("cases")  # already deleted: skipped, nothing written
    assert third.stats["deleted"] == 0 and third.stats["updated"] == 0


def test_extension_case_is_adopted_not_duplicated(harness: Harness) -> None:
    event = finalized_with_consultation(harness.sim, TODAY)[0]
    appointment_id = str(event["appointment_id"])
    now = datetime.now(UTC)
    with harness.store.db.session() as session:
        session.add(
            Case(
                id=uuid.uuid4(),
                clinic_id=harness.clinic.id,
                external_id=f"idexx-appt-{appointment_id}",
                source="idexx_extension",
                status="ongoing",
                type="checkup",
                scheduled_at=now,
                meta={"extension": {"ingestedBy": "dr-smith"}},
                created_at=now,
                updated_at=now,
            )
        )
    first = harness.sync("cases")
    assert first.status == "completed"
    cases = harness.cases()
    assert f"pims-appt-{PROVIDER}-{appointment_id}" not in cases
    adopted = cases[f"idexx-appt-{appointment_id}"]
    assert adopted.source == "idexx_extension"
    assert adopted.status == "ongoing"  # the extension's status stays
    assert adopted.meta["adoptedBy"] == f"pims:{PROVIDER}"
    assert adopted.meta["extension"] == {"ingestedBy": "dr-smith"}
    assert adopted.meta["pimsConsultation"]["id"] == str(event["consultation_id"])
    assert adopted.scheduled_at == wall_to_utc(event["start"])
    assert first.stats["created"] == len(expected_case_ids(harness.sim)) - 1
    assert first.stats["updated"] == 1

    second = harness.sync("cases")
    assert second.stats["created"] == 0 and second.stats["updated"] == 0
    with harness.store.db.session() as session:
        per_appointment = session.execute(
            select(func.count())
            .select_from(Case)
            .where(Case.external_id.like(f"%-{appointment_id}"))
        ).scalar_one()
    assert per_appointment == 1


def test_status_set_by_staff_is_never_overwritten(harness: Harness) -> None:
    harness.sync("cases")
    event = finalized_with_consultation(harness.sim, TODAY)[0]
    case = harness.case_of(str(event["appointment_id"]))
    harness.set_case_status(case.id, "reviewed")
    original_start = wall_to_utc(event["start"])
    harness.sim.dataset.move_event(event["appointment_id"], 30)
    after = harness.sync("cases")
    assert after.stats["updated"] == 1
    case = harness.case_of(str(event["appointment_id"]))
    assert case.status == "reviewed"
    assert case.meta["syncedStatus"] == "completed"
    assert case.scheduled_at == original_start + timedelta(minutes=30)


def test_nothing_to_enrich_still_completes_the_audit(harness: Harness) -> None:
    future = TODAY + timedelta(days=3)
    record = harness.sync("cases", start_date=future, end_date=future)
    assert record.status == "completed"
    assert record.stats["created"] == 0
    assert harness.cases() == {}
    audit = harness.audit(record.id)
    assert audit.status == "completed"
    assert audit.completed_at is not None
    assert (audit.start_date, audit.end_date) == (future, future)


def test_failed_calendar_fetch_changes_nothing(harness: Harness) -> None:
    harness.sync("cases")
    before = harness.case_updated_at()
    harness.sim.dataset.set_status(
        finalized_with_consultation(harness.sim, TODAY)[0]["appointment_id"], "Cancelled"
    )
    harness.sim.set_faults(fail_next={"calendar": [500, 502, 503, 500]})
    record = harness.sync("cases")
    assert record.status == "failed"
    assert record.error_code == "pims_unavailable"
    assert record.stats["total"] == 0
    assert harness.case_updated_at() == before
    assert harness.audit(record.id).status == "failed"


def _expire_mid_run(store: Store, sim: SimulatorServer, pool: BrowserPool, parallel: int) -> None:
    sim.reset()
    fresh = make_harness(store, sim, pool, session=None)  # logs in itself
    expected = expected_case_ids(sim)
    # The new session serves the calendar and a few consultations, then dies; the provider
    # logs in again once and the second session serves the rest.
    requests_per_session = len(expected) // 2 + 3
    sim.set_faults(session_expire_after=requests_per_session)
    logins = fresh.logins()
    record = fresh.sync("cases", parallel_batch_size=parallel)
    assert record.status == "completed", record.errors
    assert set(fresh.cases()) == expected
    assert fresh.logins() - logins == 2  # the first login and exactly one re-login
    assert all(case.deleted_at is None for case in fresh.cases().values())
    assert sim.stats()["sessions_expired"] >= 1


@pytest.mark.parametrize("parallel", [1, 5])
def test_session_expiring_mid_run_needs_one_new_login(
    store: Store, sim: SimulatorServer, pool: BrowserPool, parallel: int
) -> None:
    # With 5 at once, requests that start while the provider logs in again wait for that
    # login instead of failing.
    _expire_mid_run(store, sim, pool, parallel=parallel)


def test_rejected_credentials_fail_the_run(
    store: Store, sim: SimulatorServer, pool: BrowserPool
) -> None:
    sim.reset()
    fresh = make_harness(store, sim, pool, session=None)
    sim.set_faults(password="changed-by-the-clinic")
    record = fresh.sync("cases")
    assert record.status == "failed"
    assert record.error_code == "pims_auth_failed"
    assert "demo-password" not in str(record.errors)
    assert fresh.cases() == {}
    assert sim.stats()["login_failures"] == 1  # never retried in a loop


def test_clinic_without_credentials_fails_with_no_credentials(
    store: Store, sim: SimulatorServer, pool: BrowserPool, session_state: str
) -> None:
    sim.reset()
    fresh = make_harness(store, sim, pool, session=session_state)
    with store.db.session() as session:
        session.query(PimsCredential).delete()
    record = fresh.sync("cases")
    assert (record.status, record.error_code) == ("failed", "no_credentials")
    assert fresh.audit(record.id).status == "failed"


def test_credentials_sealed_with_another_key_fail_as_undecryptable(harness: Harness) -> None:
    other_key = Store(harness.store.db, SecretBox("a-different-encryption-key-0123456789"))
    harness.runner = SyncRunner(other_key, harness.runner.providers, clock=harness.runner.clock)
    record = harness.sync("cases")
    assert (record.status, record.error_code) == ("failed", "credentials_undecryptable")
    assert "demo-password" not in str(record.errors)
    assert harness.cases() == {}
