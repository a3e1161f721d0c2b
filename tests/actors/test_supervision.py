"""Supervisor, clinic actors and config changes, in-process with a real database.

The sync engine is replaced by a small runner that finishes rows in the database (or crashes on
demand): these tests are about actors, not about syncing.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pykka
import pytest

from actors.clinic import ClinicActor
from actors.config_watcher import ConfigWatcher
from actors.directory import ClinicDirectory
from actors.messages import PollNow, RunSync, Sweep
from actors.serving import ServiceBoard
from actors.supervisor import Supervisor
from daemon.observability import metrics
from daemon.store import Store
from daemon.store.clinics import ClinicView, ScheduleEntry
from daemon.store.syncs import SyncRecord


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met before the deadline")


class FinishingRunner:
    """Marks the queued row running then completed; crashes while ``crashes`` > 0."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.crashes = 0
        self.gate = threading.Event()
        self.gate.set()
        self.ran: list[uuid.UUID] = []

    def run(self, sync_id: uuid.UUID, cancel: threading.Event | None = None) -> SyncRecord:
        assert self.store.syncs.start(sync_id)
        self.gate.wait(10)
        if self.crashes > 0:
            self.crashes -= 1
            raise RuntimeError("boom")
        self.ran.append(sync_id)
        return self.store.syncs.finish(
            sync_id, status="completed", stats={}, errors=[], error_code=None
        )


@pytest.fixture
def system(store: Store) -> Iterator[dict[str, Any]]:
    directory = ClinicDirectory()
    runner = FinishingRunner(store)

    def start_child(clinic: ClinicView, supervisor: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        return ClinicActor.start(
            clinic,
            store=store,
            runner=runner,
            directory=directory,
            supervisor=supervisor,
            scheduler_enabled=True,
            clock=lambda: datetime.now(UTC),
            draining=threading.Event(),
        )

    supervisor = Supervisor.start(
        directory=directory,
        board=ServiceBoard(),
        start_child=start_child,
        backoff=lambda failures: 0.05 * failures,
        check_interval_s=0.05,
    )
    watcher = ConfigWatcher.start(store=store, supervisor=supervisor, interval_s=3600)
    yield {
        "directory": directory,
        "runner": runner,
        "supervisor": supervisor,
        "watcher": watcher,
        "store": store,
    }
    runner.gate.set()
    pykka.ActorRegistry.stop_all()


def _clinic(store: Store, name: str) -> uuid.UUID:
    return store.clinics.add(
        name=name, timezone="America/Los_Angeles", provider="idexx-neo", base_url=None
    ).id


def test_one_actor_per_active_clinic_and_only_changed_clinics_touched(
    system: dict[str, Any],
) -> None:
    store, directory, watcher = system["store"], system["directory"], system["watcher"]
    a, b = _clinic(store, "A"), _clinic(store, "B")
    assert watcher.ask(PollNow()) == {"started": 2, "stopped": 0, "reconfigured": 0}
    ref_a = wait_for(lambda: directory.actor_for(a))
    ref_b = wait_for(lambda: directory.actor_for(b))
    c = _clinic(store, "C")
    store.clinics.set_schedule(b, ScheduleEntry("cases", "0 8 * * *"))
    store.clinics.update(a, is_active=False)
    assert watcher.ask(PollNow()) == {"started": 1, "stopped": 1, "reconfigured": 1}
    wait_for(lambda: not ref_a.is_alive())
    assert directory.actor_for(b) is ref_b  # edited in place, not restarted
    wait_for(lambda: directory.actor_for(c))
    wait_for(lambda: directory.scheduled_jobs() == 1)


def test_crashed_clinic_actor_is_restarted_and_counted(system: dict[str, Any]) -> None:
    store, directory, runner = system["store"], system["directory"], system["runner"]
    clinic_id = _clinic(store, "A")
    system["watcher"].ask(PollNow())
    first = wait_for(lambda: directory.actor_for(clinic_id))
    before = metrics.ACTOR_RESTARTS_TOTAL.labels(actor="clinic")._value.get()
    runner.crashes = 1
    crashed = store.syncs.enqueue(clinic_id, "cases", "api")
    first.tell(RunSync(crashed.id))
    wait_for(lambda: not first.is_alive())
    second = wait_for(lambda: directory.actor_for(clinic_id))
    assert second is not first
    assert metrics.ACTOR_RESTARTS_TOTAL.labels(actor="clinic")._value.get() == before + 1
    record = store.syncs.get(crashed.id)
    assert record is not None and record.status == "interrupted"
    # The new actor works: the same type can be queued and runs to the end.
    again = store.syncs.enqueue(clinic_id, "cases", "api")
    second.tell(RunSync(again.id))
    wait_for(lambda: (r := store.syncs.get(again.id)) is not None and r.status == "completed")


def test_syncs_of_one_clinic_run_one_at_a_time_in_order(system: dict[str, Any]) -> None:
    store, directory, runner = system["store"], system["directory"], system["runner"]
    clinic_id = _clinic(store, "A")
    system["watcher"].ask(PollNow())
    actor = wait_for(lambda: directory.actor_for(clinic_id))
    runner.gate.clear()
    ids = [store.syncs.enqueue(clinic_id, t, "api").id for t in ("inbound", "cases")]
    for sync_id in ids:
        actor.tell(RunSync(sync_id))
    wait_for(lambda: len(directory.running()) == 1)
    second = store.syncs.get(ids[1])
    assert second is not None and second.status == "queued"
    runner.gate.set()
    wait_for(lambda: runner.ran == ids)


def test_scheduled_tick_during_a_running_sync_of_that_type_is_skipped(
    system: dict[str, Any],
) -> None:
    store, directory, runner = system["store"], system["directory"], system["runner"]
    clinic_id = _clinic(store, "A")
    store.clinics.set_schedule(clinic_id, ScheduleEntry("cases", "* * * * *"))
    clinic = store.clinics.get(clinic_id)
    now = [datetime(2026, 11, 26, 16, 0, 30, tzinfo=UTC)]
    runner.gate.clear()
    actor = ClinicActor.start(
        clinic,
        store=store,
        runner=runner,
        directory=directory,
        supervisor=None,
        scheduler_enabled=False,
        clock=lambda: now[0],
        draining=threading.Event(),
    )
    running = store.syncs.enqueue(clinic_id, "cases", "api")
    actor.tell(RunSync(running.id))
    wait_for(lambda: len(directory.running()) == 1)
    from actors.clinic import ScheduledTrigger
    from actors.cron_alarm import CronAlarm
    from actors.timetable import Timetable

    trigger = ScheduledTrigger(store, clinic_id, actor)  # driven by the injected clock below
    alarm = CronAlarm(
        Timetable.build(clinic.schedules, clinic.timezone, now[0], {}),
        trigger.fire,
        trigger.missed,
        lambda: now[0],
        name="test",
    )
    skipped = metrics.SCHEDULED_RUNS_TOTAL.labels(type="cases", outcome="skipped_overlap")
    before = skipped._value.get()
    now[0] += timedelta(seconds=31)
    alarm.check()
    assert skipped._value.get() == before + 1
    assert [r.id for r in store.syncs.active(clinic_id)] == [running.id]
    runner.gate.set()
    wait_for(lambda: store.syncs.active(clinic_id) == [])
    now[0] += timedelta(minutes=1)
    alarm.check()
    queued = wait_for(lambda: store.syncs.latest(clinic_id, "cases", trigger="schedule"))
    assert queued.trigger == "schedule"
    wait_for(lambda: (r := store.syncs.get(queued.id)) is not None and r.status == "completed")


def test_sweeper_interrupts_runs_whose_heartbeat_stopped(store: Store) -> None:
    from actors.sweeper import Sweeper
    from daemon.store.models import ScheduleSync

    clinic_id = _clinic(store, "A")
    stale = store.syncs.enqueue(clinic_id, "cases", "api")
    assert store.syncs.start(stale.id)
    fresh = store.syncs.enqueue(clinic_id, "inbound", "api")  # queued: left for its actor
    with store.db.session() as session:
        row = session.get(ScheduleSync, stale.id)
        assert row is not None
        row.heartbeat_at = datetime.now(UTC) - timedelta(minutes=3)
    sweeper = Sweeper.start(store=store, interval_s=3600)
    try:
        assert sweeper.ask(Sweep()) == 1
    finally:
        sweeper.stop()
    swept = store.syncs.get(stale.id)
    assert swept is not None and swept.status == "interrupted"
    waiting = store.syncs.get(fresh.id)
    assert waiting is not None and waiting.status == "queued"
