"""The fleet at a glance: every clinic's last syncs, next runs and what needs an operator.

Read from the database alone (``clinics``, ``clinic_schedule_configs``, ``pims_credentials``,
``schedule_syncs``), never from a running daemon, so ``pims-sync status`` answers the same from
any machine that reaches the database, and also when the daemon is down — which is one of the
things it has to show. A clinic needs attention when:

- ``not_served``: nobody is running its syncs. An enabled schedule's last tick is overdue by
  more than the misfire window (contract §5.5) with no ``schedule``-triggered row for it, a
  ``running`` row's heartbeat is older than the sweeper's limit, or a row has been ``queued``
  longer than the misfire window with nothing running for the clinic;
- ``credentials_rejected``: the last finished run of a type failed because the PIMS refused the
  login (``pims_auth_failed``, ``pims_second_factor``, ``pims_branch_picker``) and the
  credentials were not replaced since;
- ``no_credentials``: an active clinic with no stored PIMS login;
- ``last_run_failed`` / ``last_run_partial``: the last finished run of a type;
- ``no_business_hours``: the last inbound run published no slots because neither the clinic nor
  the PIMS defines opening hours;
- ``schedule_never_fires``: a stored cron that matches no date (``0 0 31 2 *``).

Inactive clinics are listed, after the others, and never need attention.

With replicas (PostgreSQL), each clinic's ``clinic_leases`` row is shown too: which replica
holds it, or that nobody does. It is read only; the lease loop alone writes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from daemon.names import SYNC_TYPES
from daemon.schedule import MISFIRE_GRACE, ScheduleEntry, next_fire_time, previous_fire_time
from daemon.store import Store
from daemon.store.clinics import ClinicView
from daemon.store.models import (
    Clinic,
    ClinicLease,
    ClinicScheduleConfig,
    PimsCredential,
    ScheduleSync,
)
from daemon.store.syncs import FINAL_STATUSES, HEARTBEAT_TIMEOUT, iso_utc

#: A schedule row is queued a moment after its tick; allow for the two clocks disagreeing.
TICK_SLACK = timedelta(seconds=30)
CREDENTIAL_CODES = frozenset({"pims_auth_failed", "pims_second_factor", "pims_branch_picker"})
#: Most urgent first; a clinic's problems are listed in this order.
ATTENTION_ORDER = (
    "not_served",
    "credentials_rejected",
    "no_credentials",
    "last_run_failed",
    "no_business_hours",
    "schedule_never_fires",
    "last_run_partial",
)


@dataclass(frozen=True)
class SyncRow:
    """What the fleet view shows of one ``schedule_syncs`` row."""

    id: uuid.UUID
    clinic_id: uuid.UUID
    sync_type: str
    trigger: str
    status: str
    error_code: str | None
    errors: tuple[str, ...]  # the codes of its item errors
    queued_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    heartbeat_at: datetime | None

    @property
    def moment(self) -> datetime:
        """When it last did something: finished, else started, else queued."""
        return self.completed_at or self.started_at or self.queued_at

    def active_at(self, moment: datetime) -> bool:
        return self.queued_at <= moment and (
            self.completed_at is None or self.completed_at >= moment
        )

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "syncId": str(self.id),
            "status": self.status,
            "trigger": self.trigger,
            "errorCode": self.error_code,
            "queuedAt": iso_utc(self.queued_at),
            "startedAt": iso_utc(self.started_at),
            "completedAt": iso_utc(self.completed_at),
            "heartbeatAt": iso_utc(self.heartbeat_at),
            "ageSeconds": max(0, int((now - self.moment).total_seconds())),
        }


@dataclass(frozen=True)
class Attention:
    code: str
    message: str
    sync_type: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "syncType": self.sync_type}


@dataclass(frozen=True)
class ScheduleStatus:
    entry: ScheduleEntry
    next_run: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {**self.entry.as_json(), "nextRunAt": iso_utc(self.next_run)}


@dataclass(frozen=True)
class LeaseView:
    """A clinic's ``clinic_leases`` row: the replica named in it serves the clinic only until
    ``expires_at``; past that (or with no owner) nobody does until a replica claims it."""

    owner_id: str | None
    expires_at: datetime
    fencing_token: int

    def held_at(self, now: datetime) -> bool:
        return self.owner_id is not None and self.expires_at > now

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "ownerId": self.owner_id,
            "held": self.held_at(now),
            "expiresAt": iso_utc(self.expires_at),
            "fencingToken": self.fencing_token,
        }


@dataclass(frozen=True)
class ClinicStatus:
    clinic: ClinicView
    has_credentials: bool
    latest: dict[str, SyncRow]  # per sync type, the newest row whatever its status
    last_finished: dict[str, SyncRow]
    schedules: tuple[ScheduleStatus, ...]
    attention: tuple[Attention, ...]
    lease: LeaseView | None = None  # None: no lease row (one daemon, or none claimed it yet)

    @property
    def next_run(self) -> tuple[str, datetime] | None:
        runs = [(s.next_run, s.entry.type) for s in self.schedules if s.next_run is not None]
        if not runs:
            return None
        when, sync_type = min(runs)
        return sync_type, when

    def as_json(self, now: datetime) -> dict[str, Any]:
        syncs: dict[str, Any] = {}
        for sync_type in SYNC_TYPES:
            row, done = self.latest.get(sync_type), self.last_finished.get(sync_type)
            if row is None:
                syncs[sync_type] = None
                continue
            shown = row.as_json(now)
            if done is not None and done.id != row.id:  # the newest is still queued or running
                shown["lastFinished"] = done.as_json(now)
            syncs[sync_type] = shown
        upcoming = self.next_run
        return {
            **self.clinic.as_json(),
            "hasCredentials": self.has_credentials,
            "needsAttention": bool(self.attention),
            "attention": [a.as_json() for a in self.attention],
            "syncs": syncs,
            "schedules": [s.as_json() for s in self.schedules],
            "nextRun": None
            if upcoming is None
            else {"type": upcoming[0], "at": iso_utc(upcoming[1])},
            "lease": None if self.lease is None else self.lease.as_json(now),
        }


@dataclass(frozen=True)
class FleetStatus:
    generated_at: datetime
    clinics: tuple[ClinicStatus, ...] = field(default_factory=tuple)

    @property
    def need_attention(self) -> int:
        return sum(1 for c in self.clinics if c.attention)

    def as_json(self) -> dict[str, Any]:
        return {
            "generatedAt": iso_utc(self.generated_at),
            "needAttention": self.need_attention,
            "clinics": [c.as_json(self.generated_at) for c in self.clinics],
        }


# -- reading ------------------------------------------------------------------------------------


def _newest(
    store: Store, clinic_ids: Sequence[uuid.UUID], *, finished: bool
) -> dict[uuid.UUID, dict[str, SyncRow]]:
    """The newest row per clinic and sync type, among all rows or the finished ones only."""
    rank = (
        func.row_number()
        .over(
            partition_by=(ScheduleSync.clinic_id, ScheduleSync.sync_type),
            order_by=(ScheduleSync.queued_at.desc(), ScheduleSync.id.desc()),
        )
        .label("rank")
    )
    inner = select(ScheduleSync.id, rank).where(ScheduleSync.clinic_id.in_(clinic_ids))
    if finished:
        inner = inner.where(ScheduleSync.status.in_(FINAL_STATUSES))
    ranked = inner.subquery()
    query = select(ScheduleSync).join(ranked, ranked.c.id == ScheduleSync.id)
    found: dict[uuid.UUID, dict[str, SyncRow]] = {}
    with store.db.session() as session:
        for row in session.execute(query.where(ranked.c.rank == 1)).scalars():
            found.setdefault(row.clinic_id, {})[row.sync_type] = SyncRow(
                id=row.id,
                clinic_id=row.clinic_id,
                sync_type=row.sync_type,
                trigger=row.trigger,
                status=row.status,
                error_code=row.error_code,
                errors=tuple(str(e.get("code")) for e in row.errors or [] if isinstance(e, dict)),
                queued_at=row.queued_at,
                started_at=row.started_at,
                completed_at=row.completed_at,
                heartbeat_at=row.heartbeat_at,
            )
    return found


def _last_scheduled(store: Store, clinic_ids: Sequence[uuid.UUID]) -> dict[tuple[Any, str], Any]:
    query = (
        select(ScheduleSync.clinic_id, ScheduleSync.sync_type, func.max(ScheduleSync.queued_at))
        .where(ScheduleSync.clinic_id.in_(clinic_ids), ScheduleSync.trigger == "schedule")
        .group_by(ScheduleSync.clinic_id, ScheduleSync.sync_type)
    )
    with store.db.session() as session:
        return {(c, t): when for c, t, when in session.execute(query).all()}


def _changed_at(store: Store, clinic_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    """When each clinic or its schedule configuration last changed."""
    query = select(Clinic.id, Clinic.updated_at, ClinicScheduleConfig.updated_at).join(
        ClinicScheduleConfig, ClinicScheduleConfig.clinic_id == Clinic.id, isouter=True
    )
    with store.db.session() as session:
        rows = session.execute(query.where(Clinic.id.in_(clinic_ids))).all()
    return {cid: max(a, b) if b is not None else a for cid, a, b in rows}


def _credentials(store: Store, clinic_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    query = select(PimsCredential.clinic_id, PimsCredential.updated_at).where(
        PimsCredential.clinic_id.in_(clinic_ids)
    )
    with store.db.session() as session:
        return dict(session.execute(query).tuples().all())


def _leases(store: Store, clinic_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, LeaseView]:
    query = select(
        ClinicLease.clinic_id,
        ClinicLease.owner_id,
        ClinicLease.expires_at,
        ClinicLease.fencing_token,
    ).where(ClinicLease.clinic_id.in_(clinic_ids))
    with store.db.session() as session:
        return {
            clinic_id: LeaseView(owner, expires, token)
            for clinic_id, owner, expires, token in session.execute(query).all()
        }


def read_fleet(
    store: Store,
    now: datetime,
    *,
    clinic_id: uuid.UUID | None = None,
    scheduler_enabled: bool = True,
    config_poll: timedelta = timedelta(minutes=5),
) -> FleetStatus:
    """Every clinic (or the one asked for; :class:`ClinicNotFound` if it does not exist),
    those needing attention first, then by name."""
    views = [store.clinics.get(clinic_id)] if clinic_id is not None else store.clinics.list()
    ids = [v.id for v in views]
    by_latest = _newest(store, ids, finished=False)
    by_finished = _newest(store, ids, finished=True)
    scheduled = _last_scheduled(store, ids)
    changed = _changed_at(store, ids)
    credentials = _credentials(store, ids)
    leases = _leases(store, ids)
    statuses = []
    for view in views:
        latest_rows = by_latest.get(view.id, {})
        finished_rows = by_finished.get(view.id, {})
        schedules = tuple(
            ScheduleStatus(
                entry,
                next_fire_time(entry.cron, view.timezone, now) if entry.enabled else None,
            )
            for entry in view.schedules
        )
        attention: list[Attention] = []
        if view.is_active:
            attention += _not_served(
                view,
                now,
                latest_rows,
                {t: scheduled.get((view.id, t)) for t in SYNC_TYPES},
                changed.get(view.id),
                scheduler_enabled=scheduler_enabled,
                config_poll=config_poll,
            )
            attention += _run_problems(finished_rows, credentials.get(view.id))
            if view.id not in credentials:
                attention.append(
                    Attention("no_credentials", "no PIMS login stored (pims-sync credentials set)")
                )
            attention += [
                Attention(
                    "schedule_never_fires",
                    f"cron {s.entry.cron!r} matches no date: it never runs",
                    s.entry.type,
                )
                for s in schedules
                if s.entry.enabled and s.next_run is None
            ]
        attention.sort(key=lambda a: ATTENTION_ORDER.index(a.code))
        statuses.append(
            ClinicStatus(
                clinic=view,
                has_credentials=view.id in credentials,
                latest=latest_rows,
                last_finished=finished_rows,
                schedules=schedules,
                attention=tuple(attention),
                lease=leases.get(view.id),
            )
        )
    statuses.sort(key=lambda s: (not s.attention, not s.clinic.is_active, s.clinic.name.lower()))
    return FleetStatus(generated_at=now, clinics=tuple(statuses))


# -- judging ------------------------------------------------------------------------------------


def _ago(now: datetime, then: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def _not_served(
    view: ClinicView,
    now: datetime,
    latest: dict[str, SyncRow],
    last_scheduled: dict[str, datetime | None],
    changed_at: datetime | None,
    *,
    scheduler_enabled: bool,
    config_poll: timedelta,
) -> list[Attention]:
    found: list[Attention] = []
    rows = list(latest.values())
    running = [r for r in rows if r.status == "running"]
    for row in running:
        beat = row.heartbeat_at or row.started_at or row.queued_at
        if now - beat > HEARTBEAT_TIMEOUT:
            found.append(
                Attention(
                    "not_served",
                    f"{row.sync_type} sync {row.id} is running but its heartbeat stopped "
                    f"{_ago(now, beat)} ago",
                    row.sync_type,
                )
            )
    if not running:
        for row in rows:
            if row.status == "queued" and now - row.queued_at > MISFIRE_GRACE:
                found.append(
                    Attention(
                        "not_served",
                        f"{row.sync_type} sync {row.id} has waited {_ago(now, row.queued_at)} "
                        "with nothing running for the clinic",
                        row.sync_type,
                    )
                )
    if not scheduler_enabled:
        return found
    for entry in view.schedules:
        if not entry.enabled:
            continue
        tick = previous_fire_time(entry.cron, view.timezone, now)
        if tick is None or now - tick <= MISFIRE_GRACE:
            continue
        # A schedule (or clinic) changed shortly before the tick may not have reached the
        # daemon yet: it reads configuration every CONFIG_POLL_INTERVAL_S.
        if changed_at is not None and changed_at + config_poll >= tick:
            continue
        ran = last_scheduled.get(entry.type)
        if ran is not None and ran >= tick - TICK_SLACK:
            continue
        newest = latest.get(entry.type)
        if newest is not None and newest.active_at(tick):
            continue  # skipped as an overlap (contract §5.5): that is serving it
        found.append(
            Attention(
                "not_served",
                f"{entry.type} was due {_ago(now, tick)} ago ({iso_utc(tick)}) and did not run",
                entry.type,
            )
        )
    return found


def _run_problems(
    finished: dict[str, SyncRow], credentials_changed: datetime | None
) -> Iterable[Attention]:
    for sync_type in SYNC_TYPES:
        row = finished.get(sync_type)
        if row is None:
            continue
        if row.error_code in CREDENTIAL_CODES:
            if credentials_changed is None or credentials_changed <= row.moment:
                yield Attention(
                    "credentials_rejected",
                    f"the PIMS refused the login ({row.error_code}) in the last {sync_type} "
                    "sync: check the stored credentials",
                    sync_type,
                )
            continue
        if "no_business_hours" in row.errors:
            yield Attention(
                "no_business_hours",
                "no opening hours from the clinic or the PIMS: no slots were published "
                "(pims-sync clinic set --hours)",
                sync_type,
            )
        if row.status == "failed":
            code = f" ({row.error_code})" if row.error_code else ""
            yield Attention("last_run_failed", f"the last {sync_type} sync failed{code}", sync_type)
        elif row.status == "partial" and set(row.errors) - {"no_business_hours"}:
            yield Attention(
                "last_run_partial",
                f"the last {sync_type} sync finished with item errors "
                f"({', '.join(sorted(set(row.errors)))})",
                sync_type,
            )
