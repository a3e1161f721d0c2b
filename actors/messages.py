"""The messages actors send each other: small, typed, immutable values."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from daemon.store.clinics import ClinicView


@dataclass(frozen=True)
class RunSync:
    """Run this queued ``schedule_syncs`` row (to a ClinicActor)."""

    sync_id: uuid.UUID


@dataclass(frozen=True)
class ScheduleTick:
    """The clinic's timer fired: see which cron entries are due (to a ClinicActor)."""


@dataclass(frozen=True)
class Reconfigure:
    """The clinic's configuration changed (to a ClinicActor)."""

    clinic: ClinicView


@dataclass(frozen=True)
class ApplyConfig:
    """The current set of active clinics (ConfigWatcher → Supervisor)."""

    clinics: tuple[ClinicView, ...]


@dataclass(frozen=True)
class ChildFailed:
    """A clinic actor died (ClinicActor → Supervisor)."""

    clinic_id: uuid.UUID
    reason: str


@dataclass(frozen=True)
class RestartChild:
    """The backoff of a failed clinic actor has passed (Supervisor → itself)."""

    clinic_id: uuid.UUID
    generation: int


@dataclass(frozen=True)
class PollNow:
    """Reload configuration now (SIGHUP, or the ConfigWatcher's timer)."""


@dataclass(frozen=True)
class Sweep:
    """Mark syncs whose heartbeat stopped as interrupted (the Sweeper's timer)."""
