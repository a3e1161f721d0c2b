"""The runner: turns, concurrency, stopping, heartbeats, failures, and the server's zone."""

from __future__ import annotations

import copy
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from daemon.store import Store
from daemon.store.models import Case
from daemon.store.syncs import SyncInProgress, SyncRecord
from daemon.sync.providers import ProviderFactory
from daemon.sync.requests import SyncRequest
from providers.base import NullObserver, PimsProvider, ProviderContext
from providers.browsers import BrowserPool
from providers.idexx_neo.simulator import SimulatorServer
from tests.observability.polling import wait_until
from tests.support import TODAY, ZONE
from tests.sync.conftest import (
    Harness,
    assert_stats_add_up,
    finalized_with_consultation,
    fixed_clock,
    make_harness,
)


def in_thread(fn: Any, *args: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn(*args)
        except BaseException as error:  # handed to the test
            box["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    return thread, box


def expected_cases(harness: Harness) -> int:
    from tests.sync.conftest import YESTERDAY

    return len(
        finalized_with_consultation(harness.sim, YESTERDAY)
        + finalized_with_consultation(harness.sim, TODAY)
    )


def test_two_overlapping_triggers_make_one_case_per_appointment(harness: Harness) -> None:
    request = SyncRequest(sync_type="cases", trigger="api")
    runs = [in_thread(harness.runner.submit_and_run, harness.clinic.id, request) for _ in range(2)]
    outcomes: list[Any] = []
    for thread, box in runs:
        thread.join(60)
        outcomes.append(box.get("result", box.get("error")))
    finished = [o for o in outcomes if isinstance(o, SyncRecord)]
    refused = [o for o in outcomes if isinstance(o, SyncInProgress)]
    assert len(finished) + len(refused) == 2 and finished
    assert all(r.status == "completed" for r in finished)
    assert sum(r.stats["created"] for r in finished) == expected_cases(harness)
    with harness.store.db.session() as session:
        rows = session.execute(
            select(Case.external_id, func.count()).group_by(Case.external_id)
        ).all()
    assert len(rows) == expected_cases(harness)
    assert all(count == 1 for _, count in rows)


def test_syncs_of_different_types_wait_their_turn(harness: Harness) -> None:
    requests = [
        SyncRequest(sync_type=t, trigger="api") for t in ("cases", "reconciliation", "inbound")
    ]
    queued = [harness.runner.enqueue(harness.clinic.id, r) for r in requests]
    runs = [in_thread(harness.runner.run, q.id) for q in queued]
    results: list[SyncRecord] = []
    for thread, box in runs:
        thread.join(60)
        assert "error" not in box, box
        results.append(box["result"])
    assert [r.status for r in results] == ["completed"] * 3
    for record in results:
        assert_stats_add_up(record)
    # The database refuses a second running sync of a clinic: the runs took turns.
    assert len({r.started_at for r in results}) == 3


@pytest.fixture
def released(harness: Harness) -> Iterator[None]:
    yield
    harness.sim.reset_faults()  # lets any held request go


def test_hung_pims_call_keeps_the_heartbeat_and_a_stop_interrupts_it(
    harness: Harness, released: None
) -> None:
    harness.runner.heartbeat_interval_s = 0.05
    harness.sim.set_faults(hang=["calendar"])
    cancel = threading.Event()
    queued = harness.runner.enqueue(harness.clinic.id, SyncRequest("cases", "api"))
    thread, box = in_thread(harness.runner.run, queued.id, cancel)

    def beating() -> bool:
        row = harness.store.syncs.get(queued.id)
        assert row is not None
        return (
            row.status == "running"
            and row.started_at is not None
            and row.heartbeat_at is not None
            and row.heartbeat_at > row.started_at
        )

    wait_until(beating, "a heartbeat while the calendar call hangs", timeout_s=15)
    cancel.set()
    thread.join(30)
    record: SyncRecord = box["result"]
    assert (record.status, record.error_code) == ("interrupted", "interrupted")
    assert harness.cases() == {}
    assert harness.audit(record.id).status == "interrupted"


def test_stop_while_waiting_for_the_clinic_s_running_sync(harness: Harness) -> None:
    blocker = harness.runner.enqueue(harness.clinic.id, SyncRequest("inbound", "api"))
    assert harness.store.syncs.start(blocker.id)  # someone else's run, still going
    queued = harness.runner.enqueue(harness.clinic.id, SyncRequest("cases", "api"))
    cancel = threading.Event()
    thread, box = in_thread(harness.runner.run, queued.id, cancel)
    wait_until(
        lambda: harness.sim.stats()["calendar"] == 0 and thread.is_alive(), "the run to wait"
    )
    row = harness.store.syncs.get(queued.id)
    assert row is not None and row.status == "queued"
    cancel.set()
    thread.join(30)
    record: SyncRecord = box["result"]
    assert record.status == "interrupted"
    assert "waiting" in record.errors[-1]["message"]
    assert record.started_at is None  # it never started
    assert harness.sim.stats()["calendar"] == 0


def test_unexpected_error_fails_with_internal_and_no_secret(harness: Harness) -> None:
    def broken(name: str, context: ProviderContext) -> PimsProvider:
        raise RuntimeError("cannot connect with password=hunter2")

    harness.runner.providers = ProviderFactory(
        harness.store, None, observer_factory=lambda _: NullObserver(), creator=broken
    )
    record = harness.sync("cases")
    assert (record.status, record.error_code) == ("failed", "internal")
    assert "hunter2" not in str(record.errors)
    assert harness.audit(record.id).status == "failed"


@pytest.fixture
def server_zone() -> Iterator[Any]:
    saved = os.environ.get("TZ")

    def use(zone: str) -> None:
        os.environ["TZ"] = zone
        time.tzset()

    yield use
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


def add_evening_visit(harness: Harness) -> str:
    """A finalized 18:00 visit today (02:00 UTC tomorrow), with its consultation."""
    template = finalized_with_consultation(harness.sim, TODAY)[0]
    page = harness.sim.dataset.get_consultation(str(template["consultation_id"]))
    assert page is not None
    harness.sim.dataset.upsert_consultation("889999", page)
    event = copy.deepcopy(template)
    event.update(
        appointment_id=599999,
        id=599999,
        consultation_id=889999,
        start=f"{TODAY} 18:00:00",
        end=f"{TODAY} 18:30:00",
    )
    return harness.sim.dataset.upsert_event(event)


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati"])
def test_server_zone_never_changes_a_result(
    store: Store,
    sim: SimulatorServer,
    pool: BrowserPool,
    session_state: str,
    server_zone: Any,
    zone: str,
) -> None:
    server_zone(zone)
    sim.reset()
    # 23:30 in the clinic: already tomorrow in UTC, and the day after in Kiritimati.
    late = fixed_clock(datetime(2026, 3, 4, 23, 30, tzinfo=ZoneInfo(ZONE)))
    harness = make_harness(store, sim, pool, session_state, clock=late)
    appointment_id = add_evening_visit(harness)
    inbound = harness.sync("inbound")
    cases = harness.sync("cases")
    assert (inbound.start_date, cases.start_date, cases.end_date) == (
        TODAY,
        TODAY - timedelta(days=1),
        TODAY,
    )
    evening = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    assert harness.case_of(appointment_id).scheduled_at == evening
    row = next(
        r
        for r in harness.repos.appointments.in_range(harness.clinic.id, TODAY, TODAY)
        if r.external_id == appointment_id
    )
    assert (row.starts_at, row.local_date) == (evening, TODAY)
    slots = harness.repos.slots.in_range(harness.clinic.id, TODAY, TODAY)
    assert slots[0].local_start == "08:00"
    assert slots[0].starts_at == datetime(2026, 3, 4, 16, 0, tzinfo=UTC)


def test_clinic_far_from_the_simulator_zone_uses_its_own_today(
    store: Store, sim: SimulatorServer, pool: BrowserPool, session_state: str
) -> None:
    """The clinic's zone, not the server's, decides "today" (the PIMS speaks its wall time)."""
    sim.reset()
    # 20:00 UTC on the 4th is already the 5th in Kiritimati.
    clock = fixed_clock(datetime(2026, 3, 4, 20, 0, tzinfo=UTC))
    harness = make_harness(
        store, sim, pool, session_state, clock=clock, timezone="Pacific/Kiritimati"
    )
    record = harness.sync("inbound")
    assert record.status == "completed"
    assert (record.start_date, record.end_date) == (
        TODAY + timedelta(days=1),
        TODAY + timedelta(days=14),
    )
