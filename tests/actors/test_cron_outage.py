"""Cron ticks that fall in a database outage (a real PostgreSQL, stopped): queued once the
database is back when still within the misfire grace (contract §5.5), counted as missed past
it; never silently dropped."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from actors.clinic import ClinicActor, ScheduledTrigger
from actors.cron_alarm import CronAlarm
from actors.directory import ClinicDirectory
from actors.timetable import Timetable
from daemon.observability import metrics
from daemon.store import Store
from daemon.store.clinics import ScheduleEntry
from tests.actors.test_supervision import FinishingRunner, wait_for
from tests.faults.cluster import ThrowawayCluster

TICK = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)  # 08:00 in Los Angeles


def missed() -> float:
    value: float = metrics.SCHEDULED_RUNS_TOTAL.labels(type="cases", outcome="missed")._value.get()
    return value


@pytest.mark.timeout(120)
def test_tick_during_an_outage_is_queued_when_the_database_is_back(
    outage_store: tuple[ThrowawayCluster, Store],
) -> None:
    cluster, store = outage_store
    clinic = store.clinics.add(
        name="Cron Clinic", timezone="America/Los_Angeles", provider="idexx-neo", base_url=None
    )
    clinic = store.clinics.set_schedule(clinic.id, ScheduleEntry("cases", "0 8 * * *"))
    now = [TICK - timedelta(seconds=30)]
    directory = ClinicDirectory()
    actor = ClinicActor.start(
        clinic,
        store=store,
        runner=FinishingRunner(store),
        directory=directory,
        supervisor=None,
        scheduler_enabled=False,  # the alarm below is driven by hand
        clock=lambda: now[0],
        draining=threading.Event(),
    )
    trigger = ScheduledTrigger(store, clinic.id, actor)
    timetable = Timetable.build(clinic.schedules, clinic.timezone, now[0], {})
    alarm = CronAlarm(timetable, trigger.fire, trigger.missed, lambda: now[0], name="test")
    before = missed()
    wait_for(lambda: directory.actor_for(clinic.id))  # on_start is over

    cluster.stop("fast")
    now[0] = TICK + timedelta(seconds=1)
    alarm.check()  # the tick's row cannot be written
    assert [due.scheduled_for for due in alarm.pending()] == [TICK]
    now[0] = TICK + timedelta(minutes=4)
    alarm.check()  # still down: still pending, not missed
    assert len(alarm.pending()) == 1 and missed() == before

    cluster.start()
    now[0] = TICK + timedelta(minutes=6)
    alarm.check()
    assert alarm.pending() == []
    queued = store.syncs.latest(clinic.id, "cases", trigger="schedule")
    assert queued is not None
    wait_for(lambda: (r := store.syncs.get(queued.id)) is not None and r.status == "completed")
    alarm.check()  # once only
    assert len([r for r in store.syncs.active(clinic.id)]) == 0
    assert store.syncs.latest(clinic.id, "cases", trigger="schedule") == store.syncs.get(queued.id)

    # An outage longer than the grace: the tick is counted as missed, nothing runs late.
    cluster.stop("fast")
    next_tick = TICK + timedelta(days=1)
    now[0] = next_tick + timedelta(seconds=1)
    alarm.check()
    assert len(alarm.pending()) == 1
    cluster.start()
    now[0] = next_tick + timedelta(minutes=11)
    alarm.check()
    assert alarm.pending() == [] and missed() == before + 1
    latest = store.syncs.latest(clinic.id, "cases", trigger="schedule")
    assert latest is not None and latest.id == queued.id
    actor.stop()
