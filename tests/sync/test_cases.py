"""The ``cases`` sync against the simulator, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from daemon.store import SecretBox, Store
from daemon.store.models import Case, PimsCredential
from daemon.sync.case_rules import case_type
from daemon.sync.cases import CaseSync
from daemon.sync.context import SyncContext
from daemon.sync.progress import Progress
from daemon.sync.providers import ProviderFactory
from daemon.sync.report import SyncReport
from daemon.sync.requests import SyncRequest
from daemon.sync.runner import SyncRunner
from providers.base import (
    Consultation,
    ConsultationCallback,
    NullObserver,
    PimsProvider,
    ProviderContext,
    ProviderError,
    RateLimited,
)
from providers.browsers import BrowserPool
from providers.idexx_neo.provider import IdexxNeoProvider
from providers.idexx_neo.simulator import SimulatorServer
from tests.support import PROVIDER, TODAY
from tests.sync.conftest import (
    FAST,
    YESTERDAY,
    Harness,
    finalized_with_consultation,
    make_harness,
)

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


# -- the batched consultation call --------------------------------------------------------


class ObservedNeo(IdexxNeoProvider):
    """The real IDEXX Neo provider, noting each batched call and each consultation as it
    arrives. ``batch_answer`` makes it answer like a PIMS with batch queries: everything at
    once at the end, with (or without) the callback."""

    def __init__(
        self,
        context: ProviderContext,
        events: list[tuple[str, object]],
        *,
        batch_answer: bool = False,
        call_back: bool = True,
        whole_call_fails: ProviderError | None = None,
    ) -> None:
        super().__init__(context, FAST)
        self.events = events
        self.batch_answer = batch_answer
        self.call_back = call_back
        self.whole_call_fails = whole_call_fails
        self.calls: list[list[str]] = []

    async def fetch_consultation(self, consultation_id: str) -> Consultation:
        consultation = await super().fetch_consultation(consultation_id)
        self.events.append(("fetched", consultation_id))
        return consultation

    async def fetch_consultations(
        self,
        consultation_ids: Sequence[str],
        on_result: ConsultationCallback | None = None,
    ) -> dict[str, Consultation | ProviderError]:
        self.calls.append(list(consultation_ids))
        if self.whole_call_fails is not None:
            raise self.whole_call_fails
        if not self.batch_answer:
            return await super().fetch_consultations(consultation_ids, on_result)
        results = await super().fetch_consultations(consultation_ids)
        if self.call_back and on_result is not None:
            for consultation_id, result in results.items():
                on_result(consultation_id, result)
        return results


class RecordingProgress(Progress):
    def __init__(self, events: list[tuple[str, object]]) -> None:
        super().__init__()
        self.events = events

    def advance(self, n: int = 1) -> None:
        self.events.append(("advance", n))
        super().advance(n)


def _observed_runner(harness: Harness, pool: BrowserPool, **options: Any) -> list[ObservedNeo]:
    made: list[ObservedNeo] = []

    def creator(name: str, context: ProviderContext) -> PimsProvider:
        provider = ObservedNeo(context, [], **options)
        made.append(provider)
        return provider

    providers = ProviderFactory(
        harness.store, pool, observer_factory=lambda _: NullObserver(), creator=creator
    )
    harness.runner = SyncRunner(
        harness.store, providers, clock=harness.runner.clock, wait_poll_s=0.05
    )
    return made


def _consultation_ids(sim: SimulatorServer) -> list[str]:
    events = finalized_with_consultation(sim, YESTERDAY) + finalized_with_consultation(sim, TODAY)
    return sorted(str(e["consultation_id"]) for e in events)


@pytest.mark.parametrize("call_back", [True, False])
def test_consultations_are_asked_for_in_one_batched_call(
    harness: Harness, pool: BrowserPool, call_back: bool
) -> None:
    # A PIMS that answers a batch at once (with or without calling back per item) gets the
    # same rows as the per-id default.
    made = _observed_runner(harness, pool, batch_answer=True, call_back=call_back)
    record = harness.sync("cases")
    assert record.status == "completed", record.errors
    assert [sorted(call) for call in made[0].calls] == [_consultation_ids(harness.sim)]
    assert set(harness.cases()) == expected_case_ids(harness.sim)
    assert record.stats["created"] == len(expected_case_ids(harness.sim))
    assert record.processed_items == record.total_items == record.stats["total"]


def test_a_failed_batched_call_fails_its_items_and_deletes_nothing(
    harness: Harness, pool: BrowserPool
) -> None:
    harness.sync("cases")
    before = harness.case_updated_at()
    _observed_runner(harness, pool, whole_call_fails=RateLimited("the PIMS kept answering 429"))
    record = harness.sync("cases", force_full_sync=True)
    assert record.status == "partial"
    assert record.error_code == "pims_rate_limited"
    assert record.stats["failed"] == len(expected_case_ids(harness.sim))
    assert {e["itemId"] for e in record.errors} == {
        key.rsplit("-", 1)[1] for key in expected_case_ids(harness.sim)
    }
    assert harness.case_updated_at() == before  # nothing written, nothing deleted


def test_progress_moves_per_settled_item(harness: Harness, pool: BrowserPool) -> None:
    events: list[tuple[str, object]] = []
    context = ProviderContext(
        clinic_id=str(harness.clinic.id),
        timezone=ZoneInfo(harness.clinic.timezone),
        base_url=harness.sim.url,
        session_store=harness.store.session_store(harness.clinic.id),
        browsers=pool,
        max_concurrency=1,
    )
    provider = ObservedNeo(context, events)
    service = CaseSync()
    request = SyncRequest(sync_type="cases", trigger="cli", parallel_batch_size=1)
    ctx = SyncContext(
        sync_id=uuid.uuid4(),
        clinic=harness.clinic,
        request=request,
        store=harness.store,
        repos=harness.repos,
        clock=harness.runner.clock,
        today=TODAY,
        date_range=service.date_range(request, harness.clinic, TODAY),
        progress=RecordingProgress(events),
        log=logging.getLogger("pims_sync.test"),
        report=SyncReport.for_type("cases"),
    )

    async def run_it() -> None:
        async with provider:
            await service.run(ctx, provider)

    asyncio.run(run_it())
    fetched = [i for i, (kind, _) in enumerate(events) if kind == "fetched"]
    per_item = [i for i, (kind, n) in enumerate(events) if kind == "advance" and i > fetched[0]]
    assert len(fetched) == len(expected_case_ids(harness.sim)) >= 8
    assert [events[i][1] for i in per_item] == [1] * len(fetched)  # one step per item
    # Each item is counted before the next consultation has even arrived: not in blocks.
    assert all(f < a < g for f, a, g in zip(fetched, per_item, fetched[1:], strict=False))
    assert ctx.progress.snapshot()[1] == ctx.report.stats["total"]


def test_a_refused_consultation_is_a_bad_request_never_retried(harness: Harness) -> None:
    sim = harness.sim
    refused = finalized_with_consultation(sim, YESTERDAY)[0]
    sim.set_faults(consultation_status={str(refused["consultation_id"]): 400})
    before = sim.stats()["consultation"]
    record = harness.sync("cases")
    assert record.status == "partial"
    assert record.error_code == "pims_bad_request"
    assert [(e["code"], e.get("itemId")) for e in record.errors] == [
        ("pims_bad_request", str(refused["appointment_id"]))
    ]
    assert record.stats["failed"] == 1
    # One request per consultation: the refused one was asked once, not retried.
    assert sim.stats()["consultation"] - before == len(expected_case_ids(sim))


def test_clinic_status_map_and_block_types_reach_the_provider(harness: Harness) -> None:
    sim = harness.sim
    events = finalized_with_consultation(sim, YESTERDAY) + finalized_with_consultation(sim, TODAY)
    # Stored lower case, as the CLI stores them; Neo sends "Finalized" and "Vaccines".
    harness.store.clinics.update(harness.clinic.id, status_map={"finalized": "in_progress"})
    relabelled = harness.sync("cases")
    assert relabelled.status == "completed", relabelled.errors
    assert relabelled.stats["created"] == 0 and harness.cases() == {}

    harness.store.clinics.update(harness.clinic.id, clear=["status_map"], block_types=["vaccines"])
    blocked = harness.sync("cases")
    assert blocked.status == "completed", blocked.errors
    expected = {
        f"pims-appt-{PROVIDER}-{e['appointment_id']}"
        for e in events
        if str(e["type_description"]).lower() != "vaccines"
    }
    assert set(harness.cases()) == expected
    assert 0 < len(expected) < len(events)
