"""The daemon's :class:`daemon.http.dispatch.Dispatcher`: HTTP requests become actor messages.

It never waits on a busy actor: syncs are queued in ``schedule_syncs`` (the database refuses a
duplicate), then told to the clinic's actor; health comes from the in-memory directory.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from actors.directory import ClinicDirectory
from actors.messages import RunSync
from actors.serving import ServiceBoard
from daemon.http.dispatch import ClinicNotServed, Draining, HealthSnapshot, ReadinessCheck
from daemon.schedule import next_fire_time
from daemon.store import Store
from daemon.store.clinics import ClinicNotFound
from daemon.store.migrate import head_revision, is_current
from daemon.store.syncs import SyncRecord, iso_utc
from daemon.sync.requests import SyncRequest, queue


class SampledValue:
    """A value measured in the background every ``interval_s`` and read without waiting.

    Browser memory comes from walking /proc (tens of milliseconds while Chromium is busy);
    ``/health`` must answer at once, so it reads the last sample."""

    def __init__(self, measure: Callable[[], int], interval_s: float = 5.0) -> None:
        self._measure = measure
        self._interval = interval_s
        self._value = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sampler", daemon=True)

    def start(self) -> SampledValue:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while True:
            # A process that vanished mid-walk: keep the last sample.
            with contextlib.suppress(Exception):
                self._value = self._measure()
            if self._stop.wait(self._interval):
                return

    def get(self) -> int:
        return self._value

    def stop(self) -> None:
        self._stop.set()


class ActorDispatcher:
    def __init__(
        self,
        *,
        store: Store,
        directory: ClinicDirectory,
        board: ServiceBoard,
        scheduler_enabled: bool,
        scheduler_loaded: Callable[[], bool],
        browser_status: Callable[[], dict[str, Any]],
        browser_pss: Callable[[], int],
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.directory = directory
        self.board = board
        self.scheduler_enabled = scheduler_enabled
        self.scheduler_loaded = scheduler_loaded
        self.browser_status = browser_status
        self.browser_pss = SampledValue(browser_pss).start()
        self.clock = clock
        self._draining = threading.Event()

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    def start_draining(self) -> None:
        self._draining.set()

    def close(self) -> None:
        self.browser_pss.stop()

    def submit(self, clinic_id: uuid.UUID, request: SyncRequest) -> SyncRecord:
        if self.draining:
            raise Draining("the daemon is shutting down")
        actor = self.directory.actor_for(clinic_id)
        if actor is None and not self.directory.leases_enabled:
            raise ClinicNotServed(f"clinic {clinic_id} is not being served by this daemon yet")
        record = queue(self.store.syncs, clinic_id, request)
        if actor is not None:
            actor.tell(RunSync(record.id))
        else:
            # Another replica holds the clinic (or will): the row waits for its owner.
            self.directory.hand_over(clinic_id, record.id)
        return record

    def health(self) -> HealthSnapshot:
        jobs = 0
        if self.scheduler_enabled:
            jobs = self.directory.scheduled_jobs()
        return HealthSnapshot(
            clinics=self.directory.clinic_count(),
            running_syncs=len(self.directory.running()),
            scheduler_enabled=self.scheduler_enabled,
            scheduler_jobs=jobs,
            browser_pss_bytes=self.browser_pss.get(),
            # Active clinics whose actor is down and restarting (named in /ready's checks).
            extra={
                "clinicsUnserved": len(self.board.unserved()),
                **self.directory.replica_facts(),  # replicas: replicaId, clinicsHeld
            },
        )

    def readiness(self) -> list[ReadinessCheck]:
        checks: list[ReadinessCheck] = []
        try:
            self.store.db.ping()
            checks.append(ReadinessCheck("database", True, self.store.db.dialect))
            current = is_current(self.store.db.engine)
            checks.append(
                ReadinessCheck(
                    "schema",
                    current,
                    f"at {head_revision()}" if current else "not at the latest revision: migrate",
                )
            )
        except Exception as exc:
            checks.append(ReadinessCheck("database", False, type(exc).__name__))
            checks.append(ReadinessCheck("schema", False, "database unreachable"))
        if self.scheduler_enabled:
            loaded = self.scheduler_loaded()
            checks.append(
                ReadinessCheck(
                    "scheduler", loaded, "loaded" if loaded else "clinic schedules not loaded"
                )
            )
        else:
            checks.append(ReadinessCheck("scheduler", True, "disabled (ENABLE_SCHEDULER=false)"))
        status = self.browser_status()
        warmed = bool(status.get("warmed"))
        checks.append(
            ReadinessCheck(
                "browser_pool",
                warmed,
                str(status.get("message") or "")
                or f"{status.get('size', 0)} browser(s), {status.get('in_use', 0)} in use"
                if warmed
                else str(status.get("error") or "Chromium not started yet"),
            )
        )
        checks.extend(self._unserved_clinics())
        leases = self.directory.lease_loop_fresh()
        if leases is not None:
            checks.append(ReadinessCheck("leases", leases[0], leases[1]))
        if self.draining:
            checks.append(ReadinessCheck("draining", False, "shutting down"))
        return checks

    def _unserved_clinics(self) -> list[ReadinessCheck]:
        """One failed check per clinic whose actor is down: no cron, every trigger 503."""
        checks = []
        for down in self.board.unserved():
            retry = "" if down.retry_at is None else f"; next restart at {iso_utc(down.retry_at)}"
            checks.append(
                ReadinessCheck(
                    f"clinic:{down.clinic_id}",
                    False,
                    f"{down.clinic_name} not served since {iso_utc(down.since)} "
                    f"({down.reason}; {down.failures} failure(s) in a row{retry})",
                )
            )
        return checks

    def schedules(self, clinic_id: uuid.UUID) -> list[dict[str, Any]]:
        try:
            clinic = self.store.clinics.get(clinic_id)
        except ClinicNotFound:
            return []
        now = self.clock()
        result = []
        for entry in clinic.schedules:
            last = self.store.syncs.latest(clinic_id, entry.type, trigger="schedule")
            next_run = _next_run(entry.cron, clinic.timezone, now) if entry.enabled else None
            result.append(
                {
                    "type": entry.type,
                    "cron": entry.cron,
                    "enabled": entry.enabled,
                    "nextRunAt": iso_utc(next_run),
                    "lastRun": None
                    if last is None
                    else {
                        "syncId": str(last.id),
                        "status": last.status,
                        "startedAt": iso_utc(last.started_at),
                    },
                }
            )
        return result


def _next_run(cron: str, timezone: str, now: datetime) -> datetime | None:
    """None for a stored cron that never fires (it is left out of the clinic's timetable)."""
    try:
        found: datetime | None = next_fire_time(cron, timezone, now)
    except Exception:
        return None
    return found
