"""``schedule_slots``: the availability the phone agent books into, one row per slot start.

Slots are derived data: a sync rebuilds a date range as a whole. Only slots whose content
changed are written and slots that no longer exist are deleted, so a rebuild that changes
nothing writes nothing, and the range is never seen half-empty (one transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime

from sqlalchemy import Table, delete, select

from daemon.store.database import Database
from daemon.store.models import ScheduleSlot
from daemon.store.upsert import upsert

SLOT_TABLE: Table = ScheduleSlot.__table__  # type: ignore[assignment]
CONTENT_COLUMNS = (
    "ends_at",
    "local_date",
    "local_start",
    "capacity",
    "booked",
    "is_blocked",
    "block_reason",
)
ID_CHUNK = 5000


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    ends_at: datetime
    local_date: date
    local_start: str  # HH:MM, clinic wall time
    capacity: int
    booked: int
    is_blocked: bool = False
    block_reason: str | None = None


@dataclass(frozen=True)
class SlotChanges:
    written: int
    removed: int


def _slot(row: ScheduleSlot) -> Slot:
    return Slot(
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        local_date=row.local_date,
        local_start=row.local_start,
        capacity=row.capacity,
        booked=row.booked,
        is_blocked=row.is_blocked,
        block_reason=row.block_reason,
    )


class SlotRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def in_range(self, clinic_id: uuid.UUID, start: date, end: date) -> list[Slot]:
        with self.db.session() as session:
            rows = session.execute(
                select(ScheduleSlot)
                .where(
                    ScheduleSlot.clinic_id == clinic_id,
                    ScheduleSlot.local_date >= start,
                    ScheduleSlot.local_date <= end,
                )
                .order_by(ScheduleSlot.starts_at)
            ).scalars()
            return [_slot(row) for row in rows]

    def replace_range(
        self,
        clinic_id: uuid.UUID,
        start: date,
        end: date,
        slots: Sequence[Slot],
        *,
        now: datetime,
    ) -> SlotChanges:
        """Make the range hold exactly ``slots`` (whose local dates must lie in it)."""
        wanted = {slot.starts_at: slot for slot in slots}
        if len(wanted) != len(slots):
            raise ValueError("two slots start at the same instant")
        for slot in slots:
            if not start <= slot.local_date <= end:
                raise ValueError(f"slot on {slot.local_date} is outside {start} … {end}")
        with self.db.session() as session:
            existing = {
                row.starts_at: (row.id, _slot(row))
                for row in session.execute(
                    select(ScheduleSlot).where(
                        ScheduleSlot.clinic_id == clinic_id,
                        ScheduleSlot.local_date >= start,
                        ScheduleSlot.local_date <= end,
                    )
                ).scalars()
            }
            session.expunge_all()
            changed = [
                slot for at, slot in wanted.items() if at not in existing or existing[at][1] != slot
            ]
            gone = [row_id for at, (row_id, _) in existing.items() if at not in wanted]
            if changed:
                upsert(
                    session,
                    SLOT_TABLE,
                    [
                        {
                            "id": uuid.uuid4(),
                            "clinic_id": clinic_id,
                            **asdict(slot),
                            "updated_at": now,
                        }
                        for slot in changed
                    ],
                    conflict_columns=("clinic_id", "starts_at"),
                    update_columns=(*CONTENT_COLUMNS, "updated_at"),
                )
            for i in range(0, len(gone), ID_CHUNK):
                chunk = gone[i : i + ID_CHUNK]
                session.execute(delete(ScheduleSlot).where(ScheduleSlot.id.in_(chunk)))
        return SlotChanges(written=len(changed), removed=len(gone))

    def remove_after(self, clinic_id: uuid.UUID, last: date) -> int:
        """Delete the clinic's slots dated after ``last``; answers how many there were."""
        with self.db.session() as session:
            result = session.execute(
                delete(ScheduleSlot).where(
                    ScheduleSlot.clinic_id == clinic_id, ScheduleSlot.local_date > last
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)
