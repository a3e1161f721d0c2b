"""Fixtures for the sync engine tests: the real simulator, real Chromium, both databases.

The simulator and the browser pool are shared per module (a server start and a Chromium launch
are the slow parts). One browser login per module yields a session that every test's fresh
database starts with, so a test logs in only when it means to; the simulator's counters tell
how many logins a run needed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from daemon.store import Store
from daemon.store.audits import AuditRecord
from daemon.store.cases import StoredCase
from daemon.store.clinics import ClinicView
from daemon.store.models import Case
from daemon.store.syncs import SyncRecord
from daemon.sync.context import Repositories
from daemon.sync.providers import ProviderFactory
from daemon.sync.report import CASE_OUTCOMES, INBOUND_OUTCOMES
from daemon.sync.requests import SyncRequest
from daemon.sync.runner import SyncRunner
from providers.base import (
    MemorySessionStore,
    NullObserver,
    PimsProvider,
    ProviderContext,
)
from providers.browsers import BrowserPool
from providers.idexx_neo.provider import IdexxNeoProvider
from providers.idexx_neo.simulator import SimulatorServer
from tests.support import (
    CREDENTIALS,
    PROVIDER,
    TODAY,
    ZONE,
    add_simulated_clinic,
    fast_settings,
)

FAST = fast_settings(login_s=10.0)


def fixed_clock(moment: datetime) -> Any:
    def clock() -> datetime:
        return moment

    return clock


#: 14:00 in the clinic on TODAY (22:00 UTC): today's morning visits are over.
CLOCK = fixed_clock(datetime(2026, 3, 4, 14, 0, tzinfo=ZoneInfo(ZONE)))


def fast_provider(name: str, context: ProviderContext) -> PimsProvider:
    assert name == PROVIDER
    return IdexxNeoProvider(context, FAST)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(today=TODAY, timezone=ZONE) as server:
        yield server


@pytest.fixture(scope="module")
def pool() -> Iterator[BrowserPool]:
    browsers = BrowserPool(size=1, chromium_path="/usr/bin/chromium")
    try:
        yield browsers
    finally:
        browsers.stop()


@pytest.fixture(scope="module")
def session_state(sim: SimulatorServer, pool: BrowserPool) -> str:
    """One real browser login, its session kept for every test of the module."""
    memory = MemorySessionStore()

    async def login() -> None:
        context = ProviderContext(
            clinic_id="fixture",
            timezone=ZoneInfo(ZONE),
            base_url=sim.url,
            session_store=memory,
            browsers=pool,
        )
        async with IdexxNeoProvider(context, FAST) as provider:
            await provider.authenticate(CREDENTIALS)

    asyncio.run(login())
    assert memory.state is not None
    return memory.state


@dataclass
class Harness:
    """One clinic on one database, pointed at the module's simulator."""

    store: Store
    repos: Repositories
    clinic: ClinicView
    sim: SimulatorServer
    runner: SyncRunner

    def sync(self, sync_type: str, **options: Any) -> SyncRecord:
        request = SyncRequest(sync_type=sync_type, trigger="api", **options)
        record = self.runner.submit_and_run(self.clinic.id, request)
        assert_stats_add_up(record)
        return record

    def logins(self) -> int:
        return self.sim.stats()["logins"]

    def cases(self) -> dict[str, StoredCase]:
        return {c.external_id: c for c in self.repos.cases.all_for_clinic(self.clinic.id)}

    def case_of(self, appointment_id: str) -> StoredCase:
        return self.cases()[f"pims-appt-{PROVIDER}-{appointment_id}"]

    def audit(self, sync_id: uuid.UUID) -> AuditRecord:
        audit = self.repos.audits.for_sync(sync_id)
        assert audit is not None, "no audit row"
        return audit

    def set_case_status(self, case_id: uuid.UUID, status: str) -> None:
        with self.store.db.session() as session:
            session.execute(
                update(Case)
                .where(Case.id == case_id)
                .values(status=status, updated_at=datetime.now(ZoneInfo("UTC")))
            )

    def case_updated_at(self) -> dict[str, datetime]:
        with self.store.db.session() as session:
            rows = session.execute(
                select(Case.external_id, Case.updated_at).where(Case.clinic_id == self.clinic.id)
            ).all()
        return {external_id: updated for external_id, updated in rows}


def assert_stats_add_up(record: SyncRecord) -> None:
    stats = record.stats
    if record.sync_type == "inbound":
        assert stats["appointments"] == sum(stats[k] for k in INBOUND_OUTCOMES), stats
    else:
        assert stats["total"] == sum(stats[k] for k in CASE_OUTCOMES), stats
    assert len(record.errors) <= 50
    if record.errors:
        assert record.error_code == record.errors[0]["code"]


def make_harness(
    store: Store,
    sim: SimulatorServer,
    pool: BrowserPool,
    session: str | None,
    *,
    clock: Any = CLOCK,
    timezone: str = ZONE,
) -> Harness:
    clinic = add_simulated_clinic(store, "Test Clinic", sim.url, timezone)
    if session is not None:
        store.session_store(clinic.id).save(session, None)
    providers = ProviderFactory(
        store, pool, observer_factory=lambda _: NullObserver(), creator=fast_provider
    )
    runner = SyncRunner(store, providers, clock=clock, wait_poll_s=0.05, cancel_grace_s=0.5)
    return Harness(store, Repositories.of(store), clinic, sim, runner)


@pytest.fixture
def harness(store: Store, sim: SimulatorServer, pool: BrowserPool, session_state: str) -> Harness:
    sim.reset()
    return make_harness(store, sim, pool, session_state)


def events_on(sim: SimulatorServer, day: date) -> list[dict[str, Any]]:
    """Raw events starting on ``day`` (clinic wall time), rosters left out."""
    prefix = day.isoformat()
    return sorted(
        (
            e
            for e in sim.dataset.events.values()
            if str(e["start"]).startswith(prefix) and not e.get("is_roster")
        ),
        key=lambda e: (str(e["start"]), int(e["appointment_id"])),
    )


def finalized_with_consultation(sim: SimulatorServer, day: date) -> list[dict[str, Any]]:
    return [
        e
        for e in events_on(sim, day)
        if not e.get("is_block")
        and e.get("consultation_id")
        and (e.get("current_status") or e.get("status_label"))
        in ("Finalized", "Completed", "Ready to Pay")
    ]


YESTERDAY = TODAY - timedelta(days=1)
