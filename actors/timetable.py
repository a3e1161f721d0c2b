"""A clinic's cron timetable (contract §5.5), driven by an injected clock.

Pure bookkeeping, no threads: the clinic actor asks which sync types are due *now* and when to
wake up next. Rules:

- one run per wall time (DST repeats and gaps are handled by :mod:`daemon.schedule`);
- a tick found late by no more than the misfire grace (10 minutes) runs once; later than that it
  is counted as missed and waits for the next tick; several missed ticks coalesce into one;
- after downtime, a tick missed while the process was down runs once at start-up when it is
  within the grace and the last ``schedule``-triggered sync is older than that tick.
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


@dataclass
class Timetable:
    timezone: str
    jobs: list[Job] = field(default_factory=list)
    missed: list[Due] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        entries: tuple[ScheduleEntry, ...],
        timezone: str,
        now: datetime,
        last_scheduled_runs: Mapping[str, datetime | None],
    ) -> Timetable:
        jobs = []
        for entry in entries:
            if not entry.enabled:
                continue
            previous = previous_fire_time(entry.cron, timezone, now)
            last = last_scheduled_runs.get(entry.type)
            missed_while_down = (
                previous is not None
                and now - previous <= MISFIRE_GRACE
                and (last is None or last < previous)
            )
            next_at = (
                previous
                if missed_while_down and previous
                else next_fire_time(entry.cron, timezone, now)
            )
            if next_at is None:  # a cron that never fires (0 0 31 2 *) has no job
                continue
            jobs.append(Job(entry.type, entry.cron, next_at))
        return cls(timezone=timezone, jobs=jobs)

    def due(self, now: datetime) -> list[Due]:
        """Types whose tick has come; each job advances past ``now`` (coalescing)."""
        ready: list[Due] = []
        for job in list(self.jobs):
            if job.next_at > now:
                continue
            # Several ticks may have passed (a busy machine, a suspended laptop): they coalesce
            # into the latest one, which alone decides whether we are within the grace.
            latest = previous_fire_time(job.cron, self.timezone, now)
            tick = job.next_at if latest is None else max(latest, job.next_at)
            following = next_fire_time(job.cron, self.timezone, now)
            if following is None:
                self.jobs.remove(job)
            else:
                job.next_at = following
            if now - tick <= MISFIRE_GRACE:
                ready.append(Due(job.sync_type, tick))
            else:
                self.missed.append(Due(job.sync_type, tick))
        return ready

    def next_wake(self) -> datetime | None:
        return min((job.next_at for job in self.jobs), default=None)

    def next_run(self, sync_type: str) -> datetime | None:
        for job in self.jobs:
            if job.sync_type == sync_type:
                return job.next_at
        return None


Clock = Callable[[], datetime]
