"""The seam between the HTTP server and the rest of the daemon.

The HTTP layer validates and authenticates; everything it asks of the running system goes
through a :class:`Dispatcher` (implemented by the daemon's actor system, and by a small
database-backed stand-in in the HTTP tests). Status, progress and results are read from
``schedule_syncs`` by the HTTP layer itself, never from a busy actor.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from daemon.store.syncs import SyncRecord
from daemon.sync.requests import SyncRequest


class ClinicNotServed(RuntimeError):
    """The clinic has no running actor (inactive, or not loaded yet)."""


class Draining(RuntimeError):
    """The daemon is shutting down and accepts no new work."""


@dataclass(frozen=True)
class ReadinessCheck:
    name: str
    ok: bool
    message: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "message": self.message}


@dataclass(frozen=True)
class HealthSnapshot:
    clinics: int
    running_syncs: int
    scheduler_enabled: bool
    scheduler_jobs: int
    browser_pss_bytes: int
    extra: dict[str, Any] = field(default_factory=dict)


class Dispatcher(Protocol):
    @property
    def draining(self) -> bool: ...

    def submit(self, clinic_id: uuid.UUID, request: SyncRequest) -> SyncRecord:
        """Queue a sync for the clinic and hand it to the clinic's actor; returns the queued
        row at once. Raises ``SyncInProgress`` (a sync of that type is queued or running),
        ``ClinicNotServed`` or ``Draining``. Never blocks on a running sync."""
        ...

    def health(self) -> HealthSnapshot: ...

    def readiness(self) -> list[ReadinessCheck]:
        """Database answers, schema current, scheduler loaded (when enabled), browser pool
        started; may block briefly (call it from an executor)."""
        ...

    def schedules(self, clinic_id: uuid.UUID) -> list[dict[str, Any]]:
        """``[{type, cron, enabled, nextRunAt, lastRun: {syncId, status, startedAt} | null}]``"""
        ...
