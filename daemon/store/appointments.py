"""``pims_appointments``: the clinic's calendar as the PIMS last showed it.

Rows are keyed by (``clinic_id``, ``external_id``) and never hard-deleted: an appointment the
PIMS stopped returning gets ``deleted_at``, and loses it again when it comes back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, and_, or_, select, update

from daemon.store.database import Database
from daemon.store.models import PimsAppointment
from daemon.store.upsert import upsert

APPOINTMENT_TABLE: Table = PimsAppointment.__table__  # type: ignore[assignment]

#: The columns that describe the appointment (what ``sync_hash`` covers).
CONTENT_COLUMNS = (
    "starts_at",
    "ends_at",
    "local_date",
    "patient_name",
    "client_name",
    "client_phone",
    "provider_name",
    "room_id",
    "appointment_type",
    "title",
    "consultation_id",
    "status",
    "is_block",
)
UPDATE_COLUMNS = (*CONTENT_COLUMNS, "sync_hash", "last_synced_at", "deleted_at", "updated_at")
ROW_KEYS = ("id", "clinic_id", "external_id", *UPDATE_COLUMNS, "created_at")
ID_CHUNK = 5000


@dataclass(frozen=True)
class StoredAppointment:
    external_id: str
    local_date: date
    sync_hash: str | None
    deleted_at: datetime | None


@dataclass(frozen=True)
class AppointmentRow:
    """A full row, for readers (tests, the availability check)."""

    external_id: str
    starts_at: datetime
    ends_at: datetime
    local_date: date
    status: str
    is_block: bool
    title: str | None
    appointment_type: str | None
    deleted_at: datetime | None


class AppointmentRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def known(
        self,
        clinic_id: uuid.UUID,
        external_ids: Iterable[str],
        start: date,
        end: date,
    ) -> dict[str, StoredAppointment]:
        """Rows with one of these ids, or whose local date lies in ``start`` … ``end``."""
        ids = sorted(set(external_ids))
        chunks = [ids[i : i + ID_CHUNK] for i in range(0, len(ids), ID_CHUNK)] or [[]]
        found: dict[str, StoredAppointment] = {}
        with self.db.session() as session:
            for chunk in chunks:
                in_range = and_(
                    PimsAppointment.local_date >= start, PimsAppointment.local_date <= end
                )
                condition = or_(PimsAppointment.external_id.in_(chunk), in_range)
                rows = session.execute(
                    select(
                        PimsAppointment.external_id,
                        PimsAppointment.local_date,
                        PimsAppointment.sync_hash,
                        PimsAppointment.deleted_at,
                    ).where(PimsAppointment.clinic_id == clinic_id, condition)
                ).all()
                for external_id, local_date, sync_hash, deleted_at in rows:
                    found[external_id] = StoredAppointment(
                        external_id, local_date, sync_hash, deleted_at
                    )
        return found

    def apply(
        self,
        clinic_id: uuid.UUID,
        *,
        upserts: Sequence[dict[str, Any]],
        unchanged: Sequence[str],
        removed: Sequence[str],
        at: datetime,
    ) -> int:
        """One transaction: upsert changed rows, move ``last_synced_at`` of unchanged ones
        (bookkeeping: the PIMS confirmed them) and soft-delete the vanished ones. Returns how
        many rows were soft-deleted."""
        deleted = 0
        with self.db.session() as session:
            if upserts:
                upsert(
                    session,
                    APPOINTMENT_TABLE,
                    [{key: row[key] for key in ROW_KEYS} for row in upserts],
                    conflict_columns=("clinic_id", "external_id"),
                    update_columns=UPDATE_COLUMNS,
                )
            for start in range(0, len(unchanged), ID_CHUNK):
                session.execute(
                    update(PimsAppointment)
                    .where(
                        PimsAppointment.clinic_id == clinic_id,
                        PimsAppointment.external_id.in_(unchanged[start : start + ID_CHUNK]),
                    )
                    .values(last_synced_at=at)
                )
            for start in range(0, len(removed), ID_CHUNK):
                result = session.execute(
                    update(PimsAppointment)
                    .where(
                        PimsAppointment.clinic_id == clinic_id,
                        PimsAppointment.external_id.in_(removed[start : start + ID_CHUNK]),
                        PimsAppointment.deleted_at.is_(None),
                    )
                    .values(deleted_at=at, last_synced_at=at, updated_at=at)
                )
                deleted += int(result.rowcount)  # type: ignore[attr-defined]
        return deleted

    def in_range(
        self, clinic_id: uuid.UUID, start: date, end: date, *, include_deleted: bool = False
    ) -> list[AppointmentRow]:
        with self.db.session() as session:
            query = select(PimsAppointment).where(
                PimsAppointment.clinic_id == clinic_id,
                PimsAppointment.local_date >= start,
                PimsAppointment.local_date <= end,
            )
            if not include_deleted:
                query = query.where(PimsAppointment.deleted_at.is_(None))
            rows = session.execute(
                query.order_by(PimsAppointment.starts_at, PimsAppointment.external_id)
            ).scalars()
            return [
                AppointmentRow(
                    external_id=r.external_id,
                    starts_at=r.starts_at,
                    ends_at=r.ends_at,
                    local_date=r.local_date,
                    status=r.status,
                    is_block=r.is_block,
                    title=r.title,
                    appointment_type=r.appointment_type,
                    deleted_at=r.deleted_at,
                )
                for r in rows
            ]
