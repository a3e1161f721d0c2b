"""``schedule_syncs``: one row per sync, its state machine, progress and results.

States (contract §3.3): ``queued`` → ``running`` → ``completed`` | ``partial`` | ``failed``, or
``interrupted`` from either active state. Two partial unique indexes make the database refuse a
second active sync of one type per clinic, and a second running sync of any type per clinic, so
HTTP, cron and the CLI can never run two syncs of one clinic at once.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from daemon.store.audits import close_orphaned, close_running
from daemon.store.database import Database
from daemon.store.models import ACTIVE_SYNC_STATUSES, ScheduleSync
from daemon.store.types import utcnow

FINAL_STATUSES = ("completed", "partial", "failed", "interrupted")
MAX_ERRORS = 50
RETENTION = timedelta(days=90)

#: Contract §5.1: a ``running`` sync whose heartbeat is older than this has lost its process
#: (the heartbeat moves at least every 10 s); it is marked ``interrupted``.
HEARTBEAT_TIMEOUT = timedelta(minutes=2)


def iso_utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TickTaken(RuntimeError):
    """This cron tick was already queued (by another replica, or before a hand-over)."""

    def __init__(self, sync_type: str, scheduled_for: datetime) -> None:
        super().__init__(f"the {sync_type} tick of {iso_utc(scheduled_for)} was already queued")
        self.sync_type = sync_type
        self.scheduled_for = scheduled_for


class SyncInProgress(RuntimeError):
    def __init__(self, sync_id: uuid.UUID, sync_type: str, status: str) -> None:
        super().__init__(f"a {sync_type} sync is already {status} for this clinic ({sync_id})")
        self.sync_id = sync_id
        self.sync_type = sync_type
        self.status = status


@dataclass(frozen=True)
class SyncRecord:
    id: uuid.UUID
    clinic_id: uuid.UUID
    sync_type: str
    trigger: str
    status: str
    error_code: str | None
    start_date: date | None
    end_date: date | None
    options: dict[str, Any]
    total_items: int
    processed_items: int
    stats: dict[str, Any]
    errors: list[dict[str, Any]] = field(default_factory=list)
    queued_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: int | None = None
    heartbeat_at: datetime | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def progress_json(self) -> dict[str, Any]:
        total, processed = self.total_items, min(self.processed_items, self.total_items)
        if self.is_final and self.status == "completed":
            percentage = 100
        else:
            percentage = 0 if total <= 0 else int(processed * 100 // total)
        return {"total": total, "processed": processed, "percentage": percentage}

    def status_json(self) -> dict[str, Any]:
        """The status object of contract §3.3."""
        return {
            "syncId": str(self.id),
            "type": self.sync_type,
            "status": self.status,
            "trigger": self.trigger,
            "progress": self.progress_json(),
            "stats": self.stats,
            "startedAt": iso_utc(self.started_at),
            "completedAt": iso_utc(self.completed_at),
            "durationMs": self.duration_ms,
            "errors": self.errors,
        }

    def result_json(self) -> dict[str, Any]:
        """The finished-sync object of contract §3.2."""
        return {
            "success": self.status == "completed",
            "syncId": str(self.id),
            "status": self.status,
            "stats": self.stats,
            "durationMs": self.duration_ms,
            "errors": self.errors,
        }


def _record(row: ScheduleSync) -> SyncRecord:
    return SyncRecord(
        id=row.id,
        clinic_id=row.clinic_id,
        sync_type=row.sync_type,
        trigger=row.trigger,
        status=row.status,
        error_code=row.error_code,
        start_date=row.start_date,
        end_date=row.end_date,
        options=dict(row.options or {}),
        total_items=row.total_items,
        processed_items=row.processed_items,
        stats=dict(row.stats or {}),
        errors=list(row.errors or []),
        queued_at=row.queued_at,
        started_at=row.started_at,
        completed_at=row.completed_at,
        duration_ms=row.duration_ms,
        heartbeat_at=row.heartbeat_at,
    )


class SyncRunRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Told the id of every row this process changed, after the commit (waiters of the
        # HTTP API are woken by it instead of re-reading the row on a timer).
        self._listeners: list[Callable[[uuid.UUID], None]] = []

    def on_change(self, listener: Callable[[uuid.UUID], None]) -> Callable[[], None]:
        """Call ``listener(sync_id)`` after each committed change; returns the unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _changed(self, sync_id: uuid.UUID) -> None:
        for listener in list(self._listeners):
            with contextlib.suppress(Exception):  # a waiter's trouble never fails a write
                listener(sync_id)

    # -- creation and transitions -------------------------------------------------------------

    def enqueue(
        self,
        clinic_id: uuid.UUID,
        sync_type: str,
        trigger: str,
        *,
        start_date: date | None = None,
        end_date: date | None = None,
        options: dict[str, Any] | None = None,
        sync_id: uuid.UUID | None = None,
        scheduled_for: datetime | None = None,
    ) -> SyncRecord:
        """Insert a ``queued`` row; raises :class:`SyncInProgress` naming the active one, or
        :class:`TickTaken` when the cron tick ``scheduled_for`` has a row already."""
        # Two attempts: the conflicting sync may finish between our insert and our look-up,
        # in which case the second insert simply succeeds.
        for _attempt in range(2):
            now = utcnow()
            row = ScheduleSync(
                id=sync_id or uuid.uuid4(),
                clinic_id=clinic_id,
                sync_type=sync_type,
                trigger=trigger,
                status="queued",
                start_date=start_date,
                end_date=end_date,
                options=options or {},
                total_items=0,
                processed_items=0,
                stats={},
                errors=[],
                queued_at=now,
                heartbeat_at=now,
                scheduled_for=scheduled_for,
            )
            try:
                with self.db.session() as session:
                    session.add(row)
                    session.flush()
                    return _record(row)
            except IntegrityError:
                if scheduled_for is not None and self._tick_taken(
                    clinic_id, sync_type, scheduled_for
                ):
                    raise TickTaken(sync_type, scheduled_for) from None
                active = self.active_of_type(clinic_id, sync_type)
                if active is not None:
                    raise SyncInProgress(active.id, sync_type, active.status) from None
        raise RuntimeError(f"could not queue a {sync_type} sync: the database kept refusing it")

    def _tick_taken(self, clinic_id: uuid.UUID, sync_type: str, scheduled_for: datetime) -> bool:
        with self.db.session() as session:
            return (
                session.execute(
                    select(ScheduleSync.id).where(
                        ScheduleSync.clinic_id == clinic_id,
                        ScheduleSync.sync_type == sync_type,
                        ScheduleSync.scheduled_for == scheduled_for,
                    )
                ).first()
                is not None
            )

    def start(self, sync_id: uuid.UUID) -> bool:
        """``queued`` → ``running``. False when another sync of the clinic is running (the
        database's partial unique index says so) or when this one is no longer queued."""
        now = utcnow()
        try:
            with self.db.session() as session:
                result = session.execute(
                    update(ScheduleSync)
                    .where(ScheduleSync.id == sync_id, ScheduleSync.status == "queued")
                    .values(status="running", started_at=now, heartbeat_at=now)
                )
                started = bool(result.rowcount)  # type: ignore[attr-defined]
        except IntegrityError:
            return False
        if started:
            self._changed(sync_id)
        return started

    def set_range(self, sync_id: uuid.UUID, start_date: date, end_date: date) -> None:
        with self.db.session() as session:
            session.execute(
                update(ScheduleSync)
                .where(ScheduleSync.id == sync_id)
                .values(start_date=start_date, end_date=end_date)
            )

    def progress(self, sync_id: uuid.UUID, *, total: int, processed: int) -> None:
        with self.db.session() as session:
            session.execute(
                update(ScheduleSync)
                .where(ScheduleSync.id == sync_id, ScheduleSync.status == "running")
                .values(total_items=total, processed_items=processed, heartbeat_at=utcnow())
            )
        self._changed(sync_id)

    def heartbeat(self, sync_id: uuid.UUID) -> None:
        with self.db.session() as session:
            session.execute(
                update(ScheduleSync)
                .where(ScheduleSync.id == sync_id, ScheduleSync.status == "running")
                .values(heartbeat_at=utcnow())
            )

    def finish(
        self,
        sync_id: uuid.UUID,
        *,
        status: str,
        stats: dict[str, Any],
        errors: list[dict[str, Any]],
        error_code: str | None,
        total: int | None = None,
        processed: int | None = None,
    ) -> SyncRecord:
        if status not in FINAL_STATUSES:
            raise ValueError(f"not a final status: {status}")
        now = utcnow()
        with self.db.session() as session:
            row = session.get(ScheduleSync, sync_id)
            if row is None:
                raise LookupError(f"sync {sync_id} does not exist")
            if row.status in FINAL_STATUSES:
                return _record(row)  # already marked (e.g. interrupted by a sweeper)
            started = row.started_at or row.queued_at
            row.status = status
            row.stats = stats
            row.errors = errors[:MAX_ERRORS]
            row.error_code = error_code
            if total is not None:
                row.total_items = total
            if processed is not None:
                row.processed_items = processed
            row.completed_at = now
            row.heartbeat_at = now
            row.duration_ms = int((now - started).total_seconds() * 1000) if started else 0
            session.flush()
            record = _record(row)
        self._changed(sync_id)
        return record

    def interrupt(self, sync_id: uuid.UUID, message: str) -> SyncRecord | None:
        with self.db.session() as session:
            row = session.get(ScheduleSync, sync_id)
            if row is None or row.status in FINAL_STATUSES:
                return None if row is None else _record(row)
            now = utcnow()
            started = row.started_at or row.queued_at
            row.status = "interrupted"
            row.error_code = "interrupted"
            row.errors = [*(row.errors or []), {"code": "interrupted", "message": message}][
                :MAX_ERRORS
            ]
            row.completed_at = now
            row.duration_ms = int((now - started).total_seconds() * 1000) if started else 0
            # Its audit row ends with it, in the same transaction: never one without the other.
            close_running(session, sync_id, "interrupted", message, now)
            session.flush()
            record = _record(row)
        self._changed(sync_id)
        return record

    def interrupt_stale(
        self, *, heartbeat_older_than: timedelta, include_queued: bool, now: datetime | None = None
    ) -> list[uuid.UUID]:
        """Mark dead runs ``interrupted`` (contract §5.1): running rows whose heartbeat is old,
        and, at start-up, every queued row left by a dead process."""
        now = now or utcnow()
        cutoff = now - heartbeat_older_than
        conditions = [
            and_(
                ScheduleSync.status == "running",
                or_(ScheduleSync.heartbeat_at.is_(None), ScheduleSync.heartbeat_at < cutoff),
            )
        ]
        if include_queued:
            conditions.append(ScheduleSync.status == "queued")
        with self.db.session() as session:
            ids = list(session.execute(select(ScheduleSync.id).where(or_(*conditions))).scalars())
        for sync_id in ids:
            self.interrupt(sync_id, "the run stopped reporting (process died or hung)")
        close_orphaned(self.db)
        return ids

    def purge(self, *, older_than: timedelta = RETENTION) -> int:
        cutoff = utcnow() - older_than
        with self.db.session() as session:
            result = session.execute(
                delete(ScheduleSync).where(
                    ScheduleSync.queued_at < cutoff, ScheduleSync.status.in_(FINAL_STATUSES)
                )
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    # -- reading ------------------------------------------------------------------------------

    def get(self, sync_id: uuid.UUID) -> SyncRecord | None:
        with self.db.session() as session:
            row = session.get(ScheduleSync, sync_id)
            return None if row is None else _record(row)

    def active_of_type(self, clinic_id: uuid.UUID, sync_type: str) -> SyncRecord | None:
        with self.db.session() as session:
            row = (
                session.execute(
                    select(ScheduleSync).where(
                        ScheduleSync.clinic_id == clinic_id,
                        ScheduleSync.sync_type == sync_type,
                        ScheduleSync.status.in_(ACTIVE_SYNC_STATUSES),
                    )
                )
                .scalars()
                .first()
            )
            return None if row is None else _record(row)

    def active(self, clinic_id: uuid.UUID | None = None) -> list[SyncRecord]:
        with self.db.session() as session:
            query = select(ScheduleSync).where(ScheduleSync.status.in_(ACTIVE_SYNC_STATUSES))
            if clinic_id is not None:
                query = query.where(ScheduleSync.clinic_id == clinic_id)
            return [
                _record(r)
                for r in session.execute(query.order_by(ScheduleSync.queued_at)).scalars()
            ]

    def latest(
        self, clinic_id: uuid.UUID, sync_type: str, *, trigger: str | None = None
    ) -> SyncRecord | None:
        with self.db.session() as session:
            query = select(ScheduleSync).where(
                ScheduleSync.clinic_id == clinic_id, ScheduleSync.sync_type == sync_type
            )
            if trigger is not None:
                query = query.where(ScheduleSync.trigger == trigger)
            row = (
                session.execute(query.order_by(ScheduleSync.queued_at.desc()).limit(1))
                .scalars()
                .first()
            )
            return None if row is None else _record(row)

    def last_successes(self) -> list[tuple[uuid.UUID, str, datetime]]:
        """(clinic, type, completed_at) of each clinic's latest completed sync per type."""
        with self.db.session() as session:
            rows = session.execute(
                select(
                    ScheduleSync.clinic_id,
                    ScheduleSync.sync_type,
                    func.max(ScheduleSync.completed_at),
                )
                .where(ScheduleSync.status == "completed")
                .group_by(ScheduleSync.clinic_id, ScheduleSync.sync_type)
            ).all()
        return [
            (clinic_id, sync_type, when) for clinic_id, sync_type, when in rows if when is not None
        ]
