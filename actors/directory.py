"""Who serves which clinic, readable from any thread.

The supervisor writes it; the HTTP dispatcher and health checks read it without asking a
(possibly busy) actor. Every decision of the form "which actor runs this clinic" goes through
this one seam. With several replicas on one PostgreSQL, the lease keeper says which clinics
this replica holds (and under which fencing token); the supervisor starts clinic actors only
for those, and a trigger for a clinic held elsewhere is queued and handed to its owner.
Without leases (SQLite, or ``ENABLE_LEASES=false``) this process holds every clinic.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
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
        # Leases: None = this process holds every clinic (no leases).
        self._held: dict[uuid.UUID, int] | None = None
        self._handover: Callable[[uuid.UUID, uuid.UUID], None] | None = None
        self._replica_id: str | None = None
        self._ttl_s = 0.0
        self._renewed_at: float | None = None

    # -- leases (several replicas) -------------------------------------------------------------

    def use_leases(
        self, replica_id: str, ttl_s: float, handover: Callable[[uuid.UUID, uuid.UUID], None]
    ) -> None:
        """From now on this replica serves only the clinics the lease keeper says it holds;
        ``handover(clinic_id, sync_id)`` wakes the owner of a clinic held elsewhere."""
        with self._lock:
            self._held = {}
            self._replica_id = replica_id
            self._ttl_s = ttl_s
            self._handover = handover

    def set_held(self, held: dict[uuid.UUID, int], *, renewed: bool = True) -> None:
        """The clinics this replica holds now; ``renewed=False`` when they were dropped
        because renewing failed (``/ready`` goes on reporting the last renewal)."""
        with self._lock:
            self._held = dict(held)
            if renewed:
                self._renewed_at = time.monotonic()

    def renewed(self) -> None:
        with self._lock:
            self._renewed_at = time.monotonic()

    def holds(self, clinic_id: uuid.UUID) -> bool:
        with self._lock:
            return self._held is None or clinic_id in self._held

    def token_for(self, clinic_id: uuid.UUID) -> int | None:
        with self._lock:
            return None if self._held is None else self._held.get(clinic_id)

    def held(self) -> set[uuid.UUID] | None:
        with self._lock:
            return None if self._held is None else set(self._held)

    @property
    def leases_enabled(self) -> bool:
        with self._lock:
            return self._held is not None

    def hand_over(self, clinic_id: uuid.UUID, sync_id: uuid.UUID) -> bool:
        """Wake the owner of a clinic this replica does not serve; False without leases."""
        with self._lock:
            handover = self._handover
        if handover is None:
            return False
        handover(clinic_id, sync_id)
        return True

    def replica_facts(self) -> dict[str, Any]:
        """``/health`` extras: this replica's name and how many clinics it holds."""
        with self._lock:
            if self._held is None:
                return {}
            return {"replicaId": self._replica_id, "clinicsHeld": len(self._held)}

    def lease_loop_fresh(self) -> tuple[bool, str] | None:
        """For ``/ready``: None without leases, else whether the loop renewed within the TTL."""
        with self._lock:
            if self._held is None:
                return None
            if self._renewed_at is None:
                return False, "leases not renewed yet"
            age = time.monotonic() - self._renewed_at
            if age > self._ttl_s:
                return False, f"lease loop last renewed {age:.0f} s ago (TTL {self._ttl_s:g} s)"
            return True, f"{len(self._held)} clinic(s) held, renewed {age:.1f} s ago"

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

    def running_clinics(self) -> set[uuid.UUID]:
        with self._lock:
            return {run.clinic_id for run in self._running.values()}

    def cancel_clinic(self, clinic_id: uuid.UUID) -> int:
        """Stop the clinic's running sync (its lease is gone: it could write nothing more)."""
        with self._lock:
            events = [
                self._cancels[sync_id]
                for sync_id, run in self._running.items()
                if run.clinic_id == clinic_id and sync_id in self._cancels
            ]
        for event in events:
            event.set()
        return len(events)

    def cancel_all(self) -> int:
        with self._lock:
            events = list(self._cancels.values())
        for event in events:
            event.set()
        return len(events)
