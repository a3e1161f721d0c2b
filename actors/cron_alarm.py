"""The thread that fires a clinic's cron ticks on time, even while its actor is busy syncing.

A tick does not wait for the clinic actor's mailbox: it queues the sync in ``schedule_syncs``
right away (the database refuses it when that type is already queued or running, which is the
overlap rule of contract §5.5) and only then tells the actor to run it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from actors.timetable import Due, Timetable

MAX_SLEEP_S = 60.0  # wake at least once a minute, so a wall-clock jump is noticed quickly

log = logging.getLogger("pims_sync.scheduler")


class CronAlarm:
    def __init__(
        self,
        timetable: Timetable,
        on_due: Callable[[Due], None],
        on_missed: Callable[[Due], None],
        clock: Callable[[], datetime],
        name: str,
    ) -> None:
        self._timetable = timetable
        self._on_due, self._on_missed, self._clock = on_due, on_missed, clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> CronAlarm:
        self._thread.start()
        return self

    def replace(self, timetable: Timetable) -> None:
        with self._lock:
            self._timetable = timetable
        self._wake.set()

    def next_run(self, sync_type: str) -> datetime | None:
        with self._lock:
            return self._timetable.next_run(sync_type)

    def job_count(self) -> int:
        with self._lock:
            return len(self._timetable.jobs)

    def check(self) -> None:
        """Fire whatever is due now (the loop calls this; tests may call it directly)."""
        with self._lock:
            now = self._clock()
            due = self._timetable.due(now)
            missed, self._timetable.missed = self._timetable.missed, []
        for item in missed:
            self._on_missed(item)
        for item in due:
            try:
                self._on_due(item)
            except Exception:  # a failed tick must not kill the clinic's timer
                log.exception("scheduled %s sync could not be queued", item.sync_type)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.check()
            with self._lock:
                target = self._timetable.next_wake()
            now = self._clock()
            delay = (
                MAX_SLEEP_S if target is None else min(MAX_SLEEP_S, (target - now).total_seconds())
            )
            self._wake.wait(max(delay, 0.05))
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
