"""Supervision against a real PostgreSQL that goes away: a clinic actor that dies while the
database is down (and then fails again in ``on_start``, where pykka calls no ``on_failure``)
is restarted with backoff until it serves again, and shows as unserved meanwhile; a child
healthy for a while after a restart has its backoff reset."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pykka
import pytest

from actors.clinic import ClinicActor
from actors.directory import ClinicDirectory
from actors.messages import ApplyConfig, RunSync
from actors.serving import ServiceBoard
from actors.supervisor import Supervisor
from daemon.dispatcher import ActorDispatcher
from daemon.observability import metrics
from daemon.store import Store
from daemon.store.clinics import ClinicView, ScheduleEntry
from tests.actors.test_supervision import FinishingRunner, wait_for
from tests.faults.cluster import ThrowawayCluster


def supervised(
    store: Store, runner: FinishingRunner, **options: Any
) -> tuple[pykka.ActorRef[Any], ClinicDirectory, ServiceBoard]:
    directory, board = ClinicDirectory(), ServiceBoard()

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
        directory=directory, board=board, start_child=start_child, **options
    )
    return supervisor, directory, board


def probes(store: Store, directory: ClinicDirectory, board: ServiceBoard) -> ActorDispatcher:
    """What /ready and /health read, without the HTTP server."""
    return ActorDispatcher(
        store=store,
        directory=directory,
        board=board,
        scheduler_enabled=True,
        scheduler_loaded=lambda: True,
        browser_status=lambda: {"warmed": False, "error": "not started in this test"},
        browser_pss=lambda: 0,
        clock=lambda: datetime.now(UTC),
    )


def restarts() -> float:
    value: float = metrics.ACTOR_RESTARTS_TOTAL.labels(actor="clinic")._value.get()
    return value


@pytest.mark.timeout(120)
def test_clinic_that_dies_during_an_outage_is_served_again(
    outage_store: tuple[ThrowawayCluster, Store], caplog: pytest.LogCaptureFixture
) -> None:
    cluster, store = outage_store
    clinic = store.clinics.add(
        name="Dark Clinic", timezone="America/Los_Angeles", provider="idexx-neo", base_url=None
    )
    clinic = store.clinics.set_schedule(clinic.id, ScheduleEntry("inbound", "0 3 * * *"))
    runner = FinishingRunner(store)
    supervisor, directory, board = supervised(
        store, runner, backoff=lambda failures: 0.3, check_interval_s=0.1
    )
    with caplog.at_level(logging.INFO, logger="pims_sync.actors"):
        supervisor.ask(ApplyConfig((clinic,)))
        wait_for(lambda: "clinic actor started" in caplog.text)  # on_start is over
    first = directory.actor_for(clinic.id)
    assert first is not None
    waiting = store.syncs.enqueue(clinic.id, "cases", "api")
    before = restarts()

    cluster.stop("fast")
    first.tell(RunSync(waiting.id))  # reading the row fails: the actor dies
    wait_for(lambda: not first.is_alive())
    down = wait_for(board.unserved)
    assert down[0].clinic_id == clinic.id and down[0].clinic_name == "Dark Clinic"
    # Restarted, failing again in on_start (no on_failure there), restarted again …
    wait_for(lambda: restarts() >= before + 3, timeout=30)
    assert directory.actor_for(clinic.id) is None
    assert metrics.CLINICS_UNSERVED._value.get() == 1
    dispatcher = probes(store, directory, board)
    try:
        dark = [c for c in dispatcher.readiness() if c.name == f"clinic:{clinic.id}"]
        assert len(dark) == 1 and not dark[0].ok and "Dark Clinic" in dark[0].message
        assert dispatcher.health().extra["clinicsUnserved"] == 1

        cluster.start()
        served = wait_for(lambda: directory.actor_for(clinic.id), timeout=30)
        assert served is not first
        wait_for(lambda: not board.unserved())
        assert metrics.CLINICS_UNSERVED._value.get() == 0
        assert all(c.ok for c in dispatcher.readiness() if c.name != "browser_pool")
    finally:
        dispatcher.close()
    assert directory.scheduled_jobs() == 1  # its cron is back
    # The sync queued before the outage is run by the restarted actor.
    wait_for(lambda: (r := store.syncs.get(waiting.id)) is not None and r.status == "completed")


@pytest.mark.timeout(60)
def test_backoff_resets_once_a_restarted_child_stays_healthy(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    clinic = store.clinics.add(
        name="Flaky Clinic", timezone="America/Los_Angeles", provider="idexx-neo", base_url=None
    )
    runner = FinishingRunner(store)
    failures_seen: list[int] = []

    def backoff(failures: int) -> float:
        failures_seen.append(failures)
        return 0.05

    supervisor, directory, _board = supervised(
        store, runner, backoff=backoff, check_interval_s=0.05, healthy_after_s=0.5
    )
    try:
        supervisor.ask(ApplyConfig((clinic,)))

        def crash() -> None:
            actor = wait_for(lambda: directory.actor_for(clinic.id))
            runner.crashes = 1
            actor.tell(RunSync(store.syncs.enqueue(clinic.id, "cases", "api").id))
            wait_for(lambda: not actor.is_alive())
            wait_for(lambda: (a := directory.actor_for(clinic.id)) is not None and a is not actor)

        with caplog.at_level(logging.INFO, logger="pims_sync.actors"):
            crash()
            wait_for(lambda: "restart backoff reset" in caplog.text)
            crash()
        assert failures_seen == [1, 1]  # without the reset: [1, 2]
    finally:
        pykka.ActorRegistry.stop_all()


def test_bad_stored_schedule_leaves_the_clinic_and_its_other_schedules_running(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import select

    from daemon.store.models import ClinicScheduleConfig

    clinic = store.clinics.add(
        name="Odd Clinic", timezone="America/Los_Angeles", provider="idexx-neo", base_url=None
    )
    store.clinics.set_schedule(clinic.id, ScheduleEntry("inbound", "* * * * *"))
    with store.db.session() as session:  # as an older release or a hand edit would store it
        config = session.execute(
            select(ClinicScheduleConfig).where(ClinicScheduleConfig.clinic_id == clinic.id)
        ).scalar_one()
        config.sync_schedules = [
            *config.sync_schedules,
            {"type": "cases", "cron": "0 0 31 2 *", "enabled": True},
        ]
    clinic = store.clinics.get(clinic.id)
    runner = FinishingRunner(store)
    directory = ClinicDirectory()
    # A clock running a little behind the next minute: the good schedule fires within ~2 s.
    real = datetime.now(UTC)
    next_minute = real.replace(second=0, microsecond=0) + timedelta(minutes=1)
    offset = next_minute - timedelta(seconds=1) - real
    with caplog.at_level(logging.INFO):
        actor = ClinicActor.start(
            clinic,
            store=store,
            runner=runner,
            directory=directory,
            supervisor=None,
            scheduler_enabled=True,
            clock=lambda: datetime.now(UTC) + offset,
            draining=threading.Event(),
        )
        try:
            wait_for(lambda: directory.actor_for(clinic.id) is actor)
            assert directory.scheduled_jobs() == 1
            actor.ask(_reconfigure(store, clinic.id))  # a rebuild does not log it again
            fired = wait_for(lambda: store.syncs.latest(clinic.id, "inbound", trigger="schedule"))
            wait_for(lambda: (r := store.syncs.get(fired.id)) is not None and r.is_final)
            assert actor.is_alive()
        finally:
            actor.stop()
    said = [r for r in caplog.records if "schedule left out" in r.getMessage()]
    assert len(said) == 1 and "0 0 31 2 *" in said[0].getMessage()
    assert store.syncs.latest(clinic.id, "cases") is None


def _reconfigure(store: Store, clinic_id: uuid.UUID) -> Any:
    from actors.messages import Reconfigure

    return Reconfigure(store.clinics.get(clinic_id))
