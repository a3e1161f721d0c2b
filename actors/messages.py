"""The messages actors send each other: small, typed, immutable values.

Every actor of the daemon is driven the same way: a message is told (fire and forget) or asked
(the caller waits for the answer), and each actor's ``on_receive`` says what it does with each
message. Nothing calls an actor's methods through a proxy.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from daemon.store.clinics import ClinicView


@dataclass(frozen=True)
class RunSync:
    """Run this queued ``schedule_syncs`` row (to a ClinicActor)."""

    sync_id: uuid.UUID


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
    """A clinic actor failed while handling a message (ClinicActor → Supervisor).

    ``actor_urn`` names the actor that failed, so a late report about an actor the supervisor
    has already replaced is ignored."""

    clinic_id: uuid.UUID
    reason: str
    actor_urn: str = ""


@dataclass(frozen=True)
class RestartChild:
    """The backoff of a failed clinic actor has passed (Supervisor → itself)."""

    clinic_id: uuid.UUID
    generation: int


@dataclass(frozen=True)
class CheckChildren:
    """Look at every clinic actor: a dead one is restarted however it died, one healthy long
    enough after a restart has its backoff reset (the Supervisor's timer)."""


@dataclass(frozen=True)
class Drain:
    """Shutdown is under way: restart nothing, apply no configuration (to the Supervisor)."""


@dataclass(frozen=True)
class StopChildren:
    """Hand over every clinic actor for stopping; answers their refs (to the Supervisor)."""


@dataclass(frozen=True)
class PollNow:
    """Reload configuration now (SIGHUP, or the ConfigWatcher's timer)."""


@dataclass(frozen=True)
class Sweep:
    """Mark syncs whose heartbeat stopped as interrupted (the Sweeper's timer)."""


@dataclass(frozen=True)
class ClinicServed:
    """A clinic actor started for this provider (to the BrowserPoolActor, which starts
    Chromium the first time a clinic that logs in through a browser is served)."""

    clinic_id: uuid.UUID
    provider: str


@dataclass(frozen=True)
class PoolStatus:
    """Answer the browser pool's state for ``/ready`` (to the BrowserPoolActor)."""


@dataclass(frozen=True)
class LeaseTick:
    """Renew, balance and report (the LeaseKeeper's timer, or a notification)."""


@dataclass(frozen=True)
class Notification:
    """A PostgreSQL ``NOTIFY`` another replica sent on a lease or work channel (the
    listener → LeaseKeeper)."""

    channel: str
    payload: str


@dataclass(frozen=True)
class StopClaiming:
    """Shutdown is under way: take no new lease, count for nobody's share (to the
    LeaseKeeper; the leases held stay while syncs finish)."""


@dataclass(frozen=True)
class ReleaseLeases:
    """After the syncs ended: release every lease at once and answer how many (to the
    LeaseKeeper)."""
