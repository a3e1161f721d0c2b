"""``case_sync_audits``: one row per ``cases`` sync (``full``) or ``reconciliation`` sync.

Written when the run starts (``running``) and completed when it ends, whatever the ending, so
no audit row is left behind ``running`` by a run that found nothing to do.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.store.database import Database
from daemon.store.models import ACTIVE_SYNC_STATUSES, CaseSyncAudit, ScheduleSync
from daemon.store.types import utcnow

MAX_ERRORS = 50


@dataclass(frozen=True)
class AuditRecord:
    id: uuid.UUID
    clinic_id: uuid.UUID
    sync_id: uuid.UUID
    sync_type: str
    status: str
    start_date: date
    end_date: date
    appointments_found: int
    cases_created: int
    cases_updated: int
    cases_skipped: int
    cases_deleted: int
    cases_failed: int
    errors: list[dict[str, Any]]
    started_at: datetime
    completed_at: datetime | None
    duration_ms: int | None


def _record(row: CaseSyncAudit) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        clinic_id=row.clinic_id,
        sync_id=row.sync_id,
        sync_type=row.sync_type,
        status=row.status,
        start_date=row.start_date,
        end_date=row.end_date,
        appointments_found=row.appointments_found,
        cases_created=row.cases_created,
        cases_updated=row.cases_updated,
        cases_skipped=row.cases_skipped,
        cases_deleted=row.cases_deleted,
        cases_failed=row.cases_failed,
        errors=list(row.errors or []),
        started_at=row.started_at,
        completed_at=row.completed_at,
        duration_ms=row.duration_ms,
    )


class AuditRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def start(
        self,
        *,
        clinic_id: uuid.UUID,
        sync_id: uuid.UUID,
        sync_type: str,
        start_date: date,
        end_date: date,
    ) -> uuid.UUID:
        row = CaseSyncAudit(
            id=uuid.uuid4(),
            clinic_id=clinic_id,
            sync_id=sync_id,
            sync_type=sync_type,
            status="running",
            start_date=start_date,
            end_date=end_date,
            appointments_found=0,
            cases_created=0,
            cases_updated=0,
            cases_skipped=0,
            cases_deleted=0,
            cases_failed=0,
            errors=[],
            started_at=utcnow(),
        )
        with self.db.session() as session:
            session.add(row)
        return row.id

    def finish(
        self,
        audit_id: uuid.UUID,
        *,
        status: str,
        stats: dict[str, int],
        errors: list[dict[str, Any]],
    ) -> None:
        now = utcnow()
        with self.db.session() as session:
            row = session.get(CaseSyncAudit, audit_id)
            if row is None:
                return
            row.status = status
            row.appointments_found = int(stats.get("total", 0))
            row.cases_created = int(stats.get("created", 0))
            row.cases_updated = int(stats.get("updated", 0))
            row.cases_skipped = int(stats.get("skipped", 0))
            row.cases_deleted = int(stats.get("deleted", 0))
            row.cases_failed = int(stats.get("failed", 0))
            row.errors = list(errors[:MAX_ERRORS])
            row.completed_at = now
            row.duration_ms = int((now - row.started_at).total_seconds() * 1000)

    def for_sync(self, sync_id: uuid.UUID) -> AuditRecord | None:
        with self.db.session() as session:
            row = session.execute(
                select(CaseSyncAudit).where(CaseSyncAudit.sync_id == sync_id)
            ).scalar_one_or_none()
            return None if row is None else _record(row)


def close_running(
    session: Session, sync_id: uuid.UUID, status: str, message: str, now: datetime
) -> int:
    """Close the ``running`` audit rows of a sync that just ended without the runner (marked
    ``interrupted`` by a sweeper, at start-up or at shutdown), in the caller's transaction."""
    rows = session.execute(
        select(CaseSyncAudit).where(
            CaseSyncAudit.sync_id == sync_id, CaseSyncAudit.status == "running"
        )
    ).scalars()
    closed = 0
    for row in rows:
        row.status = status
        row.errors = [*(row.errors or []), {"code": status, "message": message}][:MAX_ERRORS]
        row.completed_at = now
        row.duration_ms = int((now - row.started_at).total_seconds() * 1000)
        closed += 1
    return closed


def close_orphaned(db: Database) -> int:
    """Close audit rows left ``running`` although their sync has ended (older processes)."""
    with db.session() as session:
        rows = session.execute(
            select(CaseSyncAudit, ScheduleSync.status)
            .join(ScheduleSync, ScheduleSync.id == CaseSyncAudit.sync_id)
            .where(
                CaseSyncAudit.status == "running",
                ScheduleSync.status.not_in(ACTIVE_SYNC_STATUSES),
            )
        ).all()
        now = utcnow()
        for audit, sync_status in rows:
            audit.status = sync_status
            audit.completed_at = now
            audit.duration_ms = int((now - audit.started_at).total_seconds() * 1000)
        return len(rows)
