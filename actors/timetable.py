"""A clinic's cron timetable (contract §5.5), driven by an injected clock.

Pure bookkeeping, no threads: the clinic actor asks which sync types are due *now* and when to
wake up next. Rules:

- one run per wall time (DST repeats and gaps are handled by :mod:`daemon.schedule`);
- a tick found late by no more than the misfire grace (10 minutes) runs once; later than that it
  is counted as missed and waits for the next tick; several missed ticks coalesce into one;
- after downtime, a tick missed while the process was down runs once at start-up when it is
  within the grace and the last ``schedule``-triggered sync is older than that tick;
- a stored cron whose fire times cannot be computed (one that never fires, such as
  ``0 0 31 2 *``) is left out and listed in ``unusable``; the clinic's other schedules run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from daemon.schedule import MISFIRE_GRACE, next_fire_time, previous_fire_time
from daemon.store.clinics import ScheduleEntry


@dataclass
class Job:
    sync_type: str
    cron: str
    next_at: datetime


@dataclass
class Due:
    sync_type: str
    scheduled_for: datetime


@dataclass(frozen=True)
class Unusable:
    sync_type: str
    cron: str
    reason: str


def _next(cron: str, timezone: str, after: datetime) -> datetime | None:
    """The next fire time, or None for a cron that never fires again."""
    try:
        found: datetime | None = next_fire_time(cron, timezone, after)
    except Exception:  # croniter gives up on dates that never come (31 February)
        return None
    return found


def _previous(cron: str, timezone: str, before: datetime) -> datetime | None:
    try:
        return previous_fire_time(cron, timezone, before)
    except Exception:
        return None


@dataclass
class Timetable:
    timezone: str
    jobs: list[Job] = field(default_factory=list)
    missed: list[Due] = field(default_factory=list)
    unusable: list[Unusable] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        entries: tuple[ScheduleEntry, ...],
        timezone: str,
        now: datetime,
        last_scheduled_runs: Mapping[str, datetime | None],
    ) -> Timetable:
        jobs = []
        unusable = []
        for entry in entries:
            if not entry.enabled:
                continue
            upcoming = _next(entry.cron, timezone, now)
            if upcoming is None:
                unusable.append(Unusable(entry.type, entry.cron, "never fires"))
                continue
            previous = _previous(entry.cron, timezone, now)
            last = last_scheduled_runs.get(entry.type)
            missed_while_down = (
                previous is not None
                and now - previous <= MISFIRE_GRACE
                and (last is None or last < previous)
            )
            next_at = previous if missed_while_down and previous else upcoming
            jobs.append(Job(entry.type, entry.cron, next_at))
        return cls(timezone=timezone, jobs=jobs, unusable=unusable)

    def due(self, now: datetime) -> list[Due]:
        """Types whose tick has come; each job advances past ``now`` (coalescing)."""
        ready: list[Due] = []
        for job in list(self.jobs):
            if job.next_at > now:
                continue
            # Several ticks may have passed (a busy machine, a suspended laptop): they coalesce
            # into the latest one, which alone decides whether we are within the grace.
            latest = _previous(job.cron, self.timezone, now)
            tick = job.next_at if latest is None else max(latest, job.next_at)
            upcoming = _next(job.cron, self.timezone, now)
            if upcoming is None:  # its last fire time ever: nothing left to wait for
                self.jobs.remove(job)
                self.unusable.append(Unusable(job.sync_type, job.cron, "fires no more"))
            else:
                job.next_at = upcoming
            if now - tick <= MISFIRE_GRACE:
                ready.append(Due(job.sync_type, tick))
            else:
                self.missed.append(Due(job.sync_type, tick))
        return ready

    def next_wake(self) -> datetime | None:
        return min((job.next_at for job in self.jobs), default=None)


Clock = Callable[[], datetime]
