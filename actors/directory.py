"""Who serves which clinic, readable from any thread.

The supervisor writes it; the HTTP dispatcher and health checks read it without asking a
(possibly busy) actor. Every decision of the form "which actor runs this clinic" goes through
this one seam, so that leases in PostgreSQL can take it over when several replicas share the
database.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Any

import pykka


@dataclass(frozen=True)
class RunningSync:
    sync_id: uuid.UUID
    clinic_id: uuid.UUID
    sync_type: str


class ClinicDirectory:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._actors: dict[uuid.UUID, pykka.ActorRef[Any]] = {}
        self._running: dict[uuid.UUID, RunningSync] = {}
        self._cancels: dict[uuid.UUID, threading.Event] = {}
        self._jobs: dict[uuid.UUID, int] = {}

    # -- clinic actors -------------------------------------------------------------------------

    def register(self, clinic_id: uuid.UUID, ref: pykka.ActorRef[Any]) -> None:
        with self._lock:
            self._actors[clinic_id] = ref

    def unregister(self, clinic_id: uuid.UUID) -> None:
        with self._lock:
            self._actors.pop(clinic_id, None)
            self._jobs.pop(clinic_id, None)

    def set_jobs(self, clinic_id: uuid.UUID, count: int) -> None:
        with self._lock:
            self._jobs[clinic_id] = count

    def scheduled_jobs(self) -> int:
        with self._lock:
            return sum(self._jobs.values())

    def actor_for(self, clinic_id: uuid.UUID) -> pykka.ActorRef[Any] | None:
        with self._lock:
            ref = self._actors.get(clinic_id)
        return ref if ref is not None and ref.is_alive() else None

    def clinic_count(self) -> int:
        with self._lock:
            return len(self._actors)

    # -- syncs in progress in this process -----------------------------------------------------

    def sync_started(self, run: RunningSync, cancel: threading.Event) -> None:
        with self._lock:
            self._running[run.sync_id] = run
            self._cancels[run.sync_id] = cancel

    def sync_finished(self, sync_id: uuid.UUID) -> None:
        with self._lock:
            self._running.pop(sync_id, None)
            self._cancels.pop(sync_id, None)

    def running(self) -> list[RunningSync]:
        with self._lock:
            return list(self._running.values())

    def cancel_all(self) -> int:
        with self._lock:
            events = list(self._cancels.values())
        for event in events:
            event.set()
        return len(events)
