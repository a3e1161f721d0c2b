"""A clinic actor while the daemon shuts down: nothing new starts. With clinic leases a queued
sync is left queued for the clinic's next owner; alone, it is marked interrupted (contract
§2.4). A cron tick that comes during the shutdown is not queued at all, so whoever serves the
clinic next still sees it as missed, and runs it within the misfire window."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pykka
import pytest

from actors.clinic import ClinicActor, ScheduledTrigger
from actors.directory import ClinicDirectory
from actors.messages import RunSync
from actors.timetable import Due
from daemon.store import Store
from daemon.store.clinics import ClinicView
from daemon.sync.requests import SyncRequest, queue
from tests.actors.test_supervision import FinishingRunner, wait_for


@pytest.fixture
def clinic(store: Store) -> Iterator[ClinicView]:
    yield store.clinics.add(
        name="Draining Clinic", timezone="America/Los_Angeles", provider="idexx-neo", base_url=None
    )
    pykka.ActorRegistry.stop_all()


def start_actor(
    store: Store, clinic: ClinicView, *, hand_over: bool
) -> tuple[Any, FinishingRunner, threading.Event]:
    draining = threading.Event()
    runner = FinishingRunner(store)
    directory = ClinicDirectory()
    actor = ClinicActor.start(
        clinic,
        store=store,
        runner=runner,
        directory=directory,
        supervisor=None,
        scheduler_enabled=False,
        clock=lambda: datetime.now(UTC),
        draining=draining,
        hand_over=hand_over,
    )
    wait_for(lambda: directory.actor_for(clinic.id))
    return actor, runner, draining


@pytest.mark.parametrize(("hand_over", "left"), [(True, "queued"), (False, "interrupted")])
def test_a_sync_queued_at_shutdown(
    store: Store, clinic: ClinicView, hand_over: bool, left: str
) -> None:
    actor, runner, draining = start_actor(store, clinic, hand_over=hand_over)
    record = queue(store.syncs, clinic.id, SyncRequest(sync_type="cases", trigger="api"))
    draining.set()
    actor.ask(RunSync(record.id), block=True, timeout=10)
    after = store.syncs.get(record.id)
    assert after is not None and after.status == left and runner.ran == []


def test_a_cron_tick_during_shutdown_is_not_queued(store: Store, clinic: ClinicView) -> None:
    actor, runner, draining = start_actor(store, clinic, hand_over=True)
    trigger = ScheduledTrigger(store, clinic.id, actor, draining)
    tick = Due(sync_type="cases", scheduled_for=datetime(2026, 11, 30, 16, 0, tzinfo=UTC))
    draining.set()
    trigger.fire(tick)
    assert store.syncs.latest(clinic.id, "cases", trigger="schedule") is None
    draining.clear()  # the same tick, served normally, is queued and run
    trigger.fire(tick)
    queued = store.syncs.latest(clinic.id, "cases", trigger="schedule")
    assert queued is not None
    wait_for(lambda: runner.ran == [queued.id])
