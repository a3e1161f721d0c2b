"""The real sync engine on an ezyVet clinic, against the simulator, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from daemon.store import Store
from daemon.store.clinics import ClinicView
from daemon.store.syncs import SyncRecord
from daemon.sync.context import Repositories
from daemon.sync.providers import ProviderFactory
from daemon.sync.requests import SyncRequest
from daemon.sync.runner import SyncRunner
from providers.base import NullObserver, PimsProvider, ProviderContext
from providers.ezyvet.provider import EzyVetProvider
from providers.ezyvet.simulator import EzyVetSimulator, catalog
from tests.ezyvet.conftest import TODAY, ZONE, fast

YESTERDAY = TODAY - timedelta(days=1)
FINALIZED = {name for key, name, _ in catalog.STATUSES if key in catalog.FINALIZED_STATUSES}
HOURS = {
    str(day): (
        {"enabled": True, "open": "08:00", "close": "18:00"}
        if 1 <= day <= 5
        else {"enabled": False, "open": "00:00", "close": "00:00"}
    )
    for day in range(7)
}


def clock() -> datetime:
    return datetime(TODAY.year, TODAY.month, TODAY.day, 14, 0, tzinfo=ZoneInfo(ZONE))


def fast_ezyvet(name: str, context: ProviderContext) -> PimsProvider:
    assert name == "ezyvet"
    return EzyVetProvider(context, fast())


@pytest.fixture(scope="module")
def sim() -> Iterator[EzyVetSimulator]:
    with EzyVetSimulator(today=TODAY, timezone=ZONE) as server:
        yield server


class Clinic:
    def __init__(self, store: Store, sim: EzyVetSimulator) -> None:
        self.store, self.sim = store, sim
        clinic = store.clinics.add(
            name="ezyVet Clinic", timezone=ZONE, provider="ezyvet", base_url=sim.url
        )
        store.credentials.set(
            clinic.id,
            provider="ezyvet",
            fields={
                "partner_id": "demo-partner",
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                "site_uid": f"sync-{clinic.id}",
            },
        )
        self.clinic: ClinicView = store.clinics.update(clinic.id, daily_hours=HOURS)
        self.repos = Repositories.of(store)
        providers = ProviderFactory(
            store, None, observer_factory=lambda _: NullObserver(), creator=fast_ezyvet
        )
        self.runner = SyncRunner(store, providers, clock=clock, wait_poll_s=0.05)

    def sync(self, sync_type: str, **options: Any) -> SyncRecord:
        return self.runner.submit_and_run(
            self.clinic.id, SyncRequest(sync_type=sync_type, trigger="api", **options)
        )

    def live_cases(self) -> dict[str, Any]:
        return {
            c.external_id: c
            for c in self.repos.cases.all_for_clinic(self.clinic.id)
            if c.deleted_at is None
        }


@pytest.fixture
def clinic(store: Store, sim: EzyVetSimulator) -> Clinic:
    sim.reset()
    return Clinic(store, sim)


def local_day(epoch: int) -> date:
    return datetime.fromtimestamp(epoch, ZoneInfo(ZONE)).date()


def expected_cases(sim: EzyVetSimulator, days: set[date]) -> set[str]:
    """Active, finalized-by-name appointments of ``days`` with an active consult."""
    statuses = {r["id"]: r["name"] for r in sim.dataset.records("appointmentstatus")}
    consults = {r["id"]: r for r in sim.dataset.records("consult")}
    found = set()
    for record in sim.dataset.records("appointment"):
        consult = consults.get(record["consult_id"])
        if (
            record["active"]
            and statuses[record["status_id"]] in FINALIZED
            and consult is not None
            and consult["active"]
            and local_day(record["start_at"]) in days
        ):
            found.add(f"pims-appt-ezyvet-{record['id']}")
    return found


def test_inbound_and_cases_complete_and_a_second_run_changes_nothing(clinic: Clinic) -> None:
    sim = clinic.sim
    inbound = clinic.sync("inbound")
    assert inbound.status == "completed", inbound.errors
    end = TODAY + timedelta(days=13)
    in_range = [
        r for r in sim.dataset.records("appointment")
        if TODAY <= local_day(r["start_at"]) <= end
    ]  # fmt: skip
    assert inbound.stats["appointments"] == len(in_range) == inbound.stats["created"]
    rows = clinic.repos.appointments.in_range(clinic.clinic.id, TODAY, end)
    assert len(rows) == len(in_range)
    assert {r.title for r in rows if r.is_block} >= {"Lunch", "Weekly staff meeting"}
    slots = clinic.repos.slots.in_range(clinic.clinic.id, TODAY, end)
    assert any(s.is_blocked and s.block_reason == "Lunch" for s in slots)
    assert inbound.stats["slots"] == len(slots) > 0

    cases = clinic.sync("cases")
    assert cases.status == "completed", cases.errors
    expected = expected_cases(sim, {YESTERDAY, TODAY})
    assert len(expected) >= 4
    live = clinic.live_cases()
    assert set(live) == expected and cases.stats["created"] == len(expected)
    midnight = live[f"pims-appt-ezyvet-{sim.dataset.landmarks['midnight']}"]
    assert midnight.source == "pims:ezyvet" and midnight.type == "emergency"
    consultation = midnight.meta["pimsConsultation"]
    assert "×" in consultation["productsServices"] and consultation["notes"]
    assert midnight.meta["pimsAppointment"]["duration"] == 90
    nobody = live[f"pims-appt-ezyvet-{sim.dataset.landmarks['no_animal_no_contact']}"]
    assert nobody.meta["pimsAppointment"]["patient"]["name"] is None

    tokens = sim.stats()["tokens_issued"]
    again_inbound = clinic.sync("inbound")
    again_cases = clinic.sync("cases")
    assert again_inbound.status == "completed" and again_cases.status == "completed"
    assert again_inbound.stats["created"] == 0 and again_inbound.stats["updated"] == 0
    assert again_cases.stats["created"] == 0 and again_cases.stats["updated"] == 0
    assert set(clinic.live_cases()) == expected
    assert sim.stats()["tokens_issued"] == tokens  # the cached token served every sync


def test_server_errors_on_consults_fail_those_and_delete_nothing(clinic: Clinic) -> None:
    first = clinic.sync("cases")
    assert first.status == "completed"
    before = set(clinic.live_cases())
    clinic.sim.set_faults(errors={"consult": {"rate": 1.0, "status": 502}})
    broken = clinic.sync("cases", force_full_sync=True)
    assert broken.status == "partial"
    # Every case's consult failed, and so did the one whose consult is inactive (skipped when
    # the PIMS answered, unknowable while it does not).
    inactive = clinic.sim.dataset.landmarks["inactive_consult"]
    failed = {f"pims-appt-ezyvet-{e['itemId']}" for e in broken.errors}
    assert failed == before | {f"pims-appt-ezyvet-{inactive}"}
    assert broken.stats["failed"] == len(failed) and broken.stats["deleted"] == 0
    assert {e["code"] for e in broken.errors} == {"pims_unavailable"}
    assert set(clinic.live_cases()) == before


def test_an_empty_appointment_answer_with_live_cases_is_refused(clinic: Clinic) -> None:
    assert clinic.sync("cases", start_date=TODAY - timedelta(days=7), end_date=TODAY).status == (
        "completed"
    )
    before = set(clinic.live_cases())
    assert len(before) >= 4
    clinic.sim.set_faults(empty=["appointment"])
    refused = clinic.sync("reconciliation")
    assert refused.status == "failed" and refused.error_code == "reconciliation_guard"
    assert set(clinic.live_cases()) == before


def test_a_short_appointment_list_soft_deletes_nothing(clinic: Clinic) -> None:
    """The calendar read in pages of 10 whose later pages keep coming back empty: the sync
    fails as the PIMS being unavailable, and every appointment stored before stays live."""

    def paged_ezyvet(name: str, context: ProviderContext) -> PimsProvider:
        return EzyVetProvider(context, fast(page_limit=10))

    providers = ProviderFactory(
        clinic.store, None, observer_factory=lambda _: NullObserver(), creator=paged_ezyvet
    )
    clinic.runner = SyncRunner(clinic.store, providers, clock=clock, wait_poll_s=0.05)
    first = clinic.sync("inbound")
    assert first.status == "completed", first.errors
    end = TODAY + timedelta(days=13)
    before = {
        r.external_id for r in clinic.repos.appointments.in_range(clinic.clinic.id, TODAY, end)
    }
    assert len(before) > 20  # more than two pages

    clinic.sim.set_faults(short_pages={"appointment": 100})
    short = clinic.sync("inbound")
    assert short.status == "failed" and short.error_code == "pims_unavailable"
    after = clinic.repos.appointments.in_range(clinic.clinic.id, TODAY, end)
    assert {r.external_id for r in after} == before
