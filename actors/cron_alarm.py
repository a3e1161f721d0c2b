"""The thread that fires a clinic's cron ticks on time, even while its actor is busy syncing.

A tick does not wait for the clinic actor's mailbox: it queues the sync in ``schedule_syncs``
right away (the database refuses it when that type is already queued or running, which is the
overlap rule of contract §5.5) and only then tells the actor to run it.

A tick that cannot be queued (the database is down) is not dropped: it is tried again every
``RETRY_S`` for as long as it is within the misfire grace of contract §5.5 (less than 10
minutes late runs once), then counted as missed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from actors.timetable import Due, Timetable
from daemon.schedule import MISFIRE_GRACE

MAX_SLEEP_S = 60.0  # wake at least once a minute, so a wall-clock jump is noticed quickly
RETRY_S = 5.0

log = logging.getLogger("pims_sync.scheduler")


class CronAlarm:
    def __init__(
        self,
        timetable: Timetable,
        on_due: Callable[[Due], None],
        on_missed: Callable[[Due], None],
        clock: Callable[[], datetime],
        name: str,
        *,
        retry_s: float = RETRY_S,
    ) -> None:
        self._timetable = timetable
        self._on_due, self._on_missed, self._clock = on_due, on_missed, clock
        self._retry_s = retry_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._pending: dict[str, Due] = {}  # ticks that could not be queued, by sync type
        self._announced: set[tuple[str, datetime]] = set()  # retries already logged
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> CronAlarm:
        self._thread.start()
        return self

    def replace(self, timetable: Timetable) -> None:
        with self._lock:
            self._timetable = timetable
        self._wake.set()

    def job_count(self) -> int:
        with self._lock:
            return len(self._timetable.jobs)

    def pending(self) -> list[Due]:
        with self._lock:
            return list(self._pending.values())

    def check(self) -> None:
        """Fire whatever is due now (the loop calls this; tests may call it directly)."""
        with self._lock:
            now = self._clock()
            due = self._timetable.due(now)
            missed, self._timetable.missed = self._timetable.missed, []
            # A new tick of a type still pending coalesces with it (contract §5.5).
            waiting = {**self._pending, **{item.sync_type: item for item in due}}
            self._pending = {}
        for item in missed:
            self._on_missed(item)
        for item in waiting.values():
            if now - item.scheduled_for > MISFIRE_GRACE:
                # Only a retried tick gets here (the timetable sorts out fresh ones).
                self._give_up(item)
                continue
            try:
                self._on_due(item)
            except Exception as error:  # a failed tick must not kill the clinic's timer
                self._keep_for_retry(item, error)
            else:
                self._announced.discard((item.sync_type, item.scheduled_for))

    def _give_up(self, item: Due) -> None:
        self._announced.discard((item.sync_type, item.scheduled_for))
        log.warning(
            "scheduled %s sync for %s could not be queued within the grace period",
            item.sync_type,
            item.scheduled_for.isoformat(),
        )
        self._on_missed(item)

    def _keep_for_retry(self, item: Due, error: Exception) -> None:
        with self._lock:
            self._pending.setdefault(item.sync_type, item)
        key = (item.sync_type, item.scheduled_for)
        if key not in self._announced:
            self._announced.add(key)
            log.warning(
                "scheduled %s sync for %s could not be queued (%s); retrying every %.0f s",
                item.sync_type,
                item.scheduled_for.isoformat(),
                type(error).__name__,
                self._retry_s,
            )

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.check()
            with self._lock:
                target = self._timetable.next_wake()
                retrying = bool(self._pending)
            now = self._clock()
            delay = (
                MAX_SLEEP_S if target is None else min(MAX_SLEEP_S, (target - now).total_seconds())
            )
            if retrying:
                delay = min(delay, self._retry_s)
            self._wake.wait(max(delay, 0.05))
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
