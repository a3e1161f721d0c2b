"""ClinicActor: one per active clinic. Runs the clinic's syncs one at a time, in order, and
owns the clinic's cron schedule.

Being one pykka thread with one mailbox is what makes "one sync per clinic at a time" (contract
§5.1) hold inside the process; the database's partial unique indexes make it hold against the
CLI and other processes too.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

import pykka

from actors.cron_alarm import CronAlarm
from actors.directory import ClinicDirectory, RunningSync
from actors.messages import ChildFailed, Reconfigure, RunSync
from actors.timetable import Due, Timetable
from daemon.observability import metrics
from daemon.store import Store
from daemon.store.clinics import ClinicView
from daemon.store.syncs import SyncInProgress, SyncRecord, TickTaken
from daemon.sync.requests import SyncRequest, queue

log = logging.getLogger("pims_sync.actors")


class Runner(Protocol):
    def run(self, sync_id: uuid.UUID, cancel: threading.Event | None = None) -> SyncRecord: ...


class ClinicActor(pykka.ThreadingActor):
    def __init__(
        self,
        clinic: ClinicView,
        *,
        store: Store,
        runner: Runner,
        directory: ClinicDirectory,
        supervisor: pykka.ActorRef[Any] | None,
        scheduler_enabled: bool,
        clock: Callable[[], datetime],
        draining: threading.Event,
        hand_over: bool = False,
    ) -> None:
        """``hand_over``: with clinic leases, a sync still queued when shutdown begins is left
        queued for the clinic's next owner, which takes the lease within seconds; without
        them it is marked interrupted (contract §2.4)."""
        super().__init__()
        self.clinic = clinic
        self.store = store
        self.runner = runner
        self.directory = directory
        self.supervisor = supervisor
        self.scheduler_enabled = scheduler_enabled
        self.clock = clock
        self.draining = draining
        self.hand_over = hand_over
        self.alarm: CronAlarm | None = None
        self.reported_schedules: set[tuple[str, str]] = set()

    # -- lifecycle ------------------------------------------------------------------------------

    def on_start(self) -> None:
        try:
            self._start()
        except BaseException as exc:
            # pykka calls no on_failure for a failed on_start: the actor just stops. Undo what
            # started (the cron thread) so nothing fires into a dead actor; the supervisor
            # notices the dead ref and restarts the clinic with backoff.
            self._teardown()
            log.error(
                "clinic actor could not start: %s",
                type(exc).__name__,
                extra={"clinic_id": str(self.clinic.id)},
            )
            raise

    def _start(self) -> None:
        if self.scheduler_enabled:
            trigger = ScheduledTrigger(self.store, self.clinic.id, self.actor_ref, self.draining)
            self.alarm = CronAlarm(
                self._timetable(),
                trigger.fire,
                trigger.missed,
                self.clock,
                name=f"cron-{self.clinic.id}",
            ).start()
            self.directory.set_jobs(self.clinic.id, self.alarm.job_count())
        # Syncs queued for this clinic while no actor served it (a restart after a crash, or
        # a cron tick during a database outage) are picked up here, in the order queued.
        for record in self.store.syncs.active(self.clinic.id):
            if record.status == "queued":
                self.actor_ref.tell(RunSync(record.id))
        # Registered last: the clinic counts as served (triggers accepted, /ready) only once
        # it has really started.
        self.directory.register(self.clinic.id, self.actor_ref)
        log.info("clinic actor started", extra={"clinic_id": str(self.clinic.id)})

    def on_stop(self) -> None:
        self._teardown()
        log.info("clinic actor stopped", extra={"clinic_id": str(self.clinic.id)})

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._teardown()
        log.error(
            "clinic actor failed: %s",
            exception_type.__name__ if exception_type else "?",
            extra={"clinic_id": str(self.clinic.id)},
        )
        if self.supervisor is not None and self.supervisor.is_alive():
            reason = type(exception_value).__name__ if exception_value else "?"
            self.supervisor.tell(ChildFailed(self.clinic.id, reason, self.actor_ref.actor_urn))

    def _teardown(self) -> None:
        if self.alarm is not None:
            self.alarm.stop()
            self.alarm = None
        if (
            self.directory.actor_for(self.clinic.id) is self.actor_ref
            or self.directory.actor_for(self.clinic.id) is None
        ):
            self.directory.unregister(self.clinic.id)

    # -- messages -------------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, RunSync):
            return self._run(message.sync_id)
        if isinstance(message, Reconfigure):
            self.clinic = message.clinic
            if self.alarm is not None:
                self.alarm.replace(self._timetable())
                self.directory.set_jobs(self.clinic.id, self.alarm.job_count())
            return None
        raise TypeError(f"ClinicActor cannot handle {type(message).__name__}")

    def _run(self, sync_id: uuid.UUID) -> SyncRecord | None:
        if self.draining.is_set():
            # Shutdown has begun: nothing new starts, whatever its place in the mailbox.
            if self.hand_over:
                # The clinic's next owner runs it (a waiting caller sees it end there).
                return self.store.syncs.get(sync_id)
            # One process alone: the rest is marked interrupted (contract §2.4).
            return self.store.syncs.interrupt(
                sync_id, "the daemon shut down before this sync started"
            )
        record = self.store.syncs.get(sync_id)
        if record is None or record.status != "queued":
            return record  # interrupted while it waited (shutdown), or already handled
        cancel = threading.Event()
        self.directory.sync_started(RunningSync(sync_id, self.clinic.id, record.sync_type), cancel)
        try:
            return self.runner.run(sync_id, cancel)
        except BaseException:
            # The runner records every failure it understands; reaching here means the actor
            # itself is failing. The row must not stay "running" and block the clinic.
            try:
                self.store.syncs.interrupt(sync_id, "the clinic actor failed during this sync")
            except Exception:  # the database is away too: the sweepers will mark it
                log.warning(
                    "could not mark the sync interrupted",
                    extra={"clinic_id": str(self.clinic.id), "sync_id": str(sync_id)},
                )
            raise
        finally:
            self.directory.sync_finished(sync_id)

    # -- the cron schedule ----------------------------------------------------------------------

    def _timetable(self) -> Timetable:
        last_runs: dict[str, datetime | None] = {}
        for entry in self.clinic.schedules:
            last = self.store.syncs.latest(self.clinic.id, entry.type, trigger="schedule")
            last_runs[entry.type] = None if last is None else last.queued_at
        timetable = Timetable.build(
            self.clinic.schedules, self.clinic.timezone, self.clock(), last_runs
        )
        for bad in timetable.unusable:
            # One bad stored schedule never takes the clinic's others down: it is left out,
            # and said once (not at every rebuild).
            if (bad.sync_type, bad.cron) not in self.reported_schedules:
                self.reported_schedules.add((bad.sync_type, bad.cron))
                log.error(
                    "schedule left out: %s cron %r %s",
                    bad.sync_type,
                    bad.cron,
                    bad.reason,
                    extra={"clinic_id": str(self.clinic.id)},
                )
        return timetable


class ScheduledTrigger:
    """What a cron tick does, on the alarm thread: queue the sync now (even while the clinic
    actor is busy), then tell the actor to run it; a tick that finds the same type queued or
    running is skipped and counted (contract §5.5)."""

    def __init__(
        self,
        store: Store,
        clinic_id: uuid.UUID,
        actor: pykka.ActorRef[Any],
        draining: threading.Event | None = None,
    ) -> None:
        self.store = store
        self.clinic_id = clinic_id
        self.actor = actor
        self.draining = draining or threading.Event()

    def fire(self, due: Due) -> None:
        if self.draining.is_set():
            # A shutting-down daemon accepts no trigger, a tick included. Not queuing it
            # leaves the tick to whoever serves the clinic next (another replica, or this
            # daemon restarted), which runs a tick missed by less than the misfire window.
            log.info(
                "scheduled %s sync not queued: shutting down",
                due.sync_type,
                extra={"clinic_id": str(self.clinic_id)},
            )
            return
        request = SyncRequest(sync_type=due.sync_type, trigger="schedule")
        try:
            record = queue(
                self.store.syncs, self.clinic_id, request, scheduled_for=due.scheduled_for
            )
        except TickTaken:
            # Queued already, by another replica or before a hand-over: a tick runs once.
            metrics.SCHEDULED_RUNS_TOTAL.labels(type=due.sync_type, outcome="already_queued").inc()
            return
        except SyncInProgress as busy:
            metrics.SCHEDULED_RUNS_TOTAL.labels(type=due.sync_type, outcome="skipped_overlap").inc()
            log.info(
                "scheduled %s sync skipped: %s is still %s",
                due.sync_type,
                busy.sync_id,
                busy.status,
                extra={"clinic_id": str(self.clinic_id)},
            )
            return
        metrics.SCHEDULED_RUNS_TOTAL.labels(type=due.sync_type, outcome="queued").inc()
        try:
            self.actor.tell(RunSync(record.id))
        except pykka.ActorDeadError:
            # The row is queued: the clinic's next actor picks it up when it starts.
            log.info(
                "scheduled %s sync queued for the clinic's restarted actor",
                due.sync_type,
                extra={"clinic_id": str(self.clinic_id)},
            )

    def missed(self, due: Due) -> None:
        metrics.SCHEDULED_RUNS_TOTAL.labels(type=due.sync_type, outcome="missed").inc()
        log.warning(
            "scheduled %s sync for %s missed by more than the grace period",
            due.sync_type,
            due.scheduled_for.isoformat(),
            extra={"clinic_id": str(self.clinic_id)},
        )
