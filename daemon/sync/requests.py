"""What a caller asks of a sync: one neutral value for HTTP, cron and the CLI.

Stored in ``schedule_syncs.options`` when the sync is queued, so the clinic actor (or a CLI
process) runs exactly what was asked, and a status query can show it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uuid

    from daemon.store.syncs import SyncRecord, SyncRunRepository

DEFAULT_PARALLEL_BATCH_SIZE = 5
DEFAULT_LOOKBACK_DAYS = 7


@dataclass(frozen=True)
class SyncRequest:
    sync_type: str  # inbound | cases | reconciliation
    trigger: str  # api | schedule | cli
    start_date: date | None = None  # inbound, cases: clinic-local dates; None = the default
    end_date: date | None = None
    parallel_batch_size: int = DEFAULT_PARALLEL_BATCH_SIZE  # cases
    force_full_sync: bool = False  # inbound, cases: ignore sync_hash, rewrite every row
    lookback_days: int = DEFAULT_LOOKBACK_DAYS  # reconciliation
    force: bool = False  # inbound, reconciliation: override the deletion guard

    def options_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("start_date", "end_date"):
            data[key] = None if data[key] is None else data[key].isoformat()
        return data

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> SyncRequest:
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in options.items() if k in known}
        for key in ("start_date", "end_date"):
            if isinstance(data.get(key), str):
                data[key] = date.fromisoformat(data[key])
        return cls(**data)


def queue(
    syncs: SyncRunRepository,
    clinic_id: uuid.UUID,
    request: SyncRequest,
    *,
    scheduled_for: datetime | None = None,
) -> SyncRecord:
    """Insert the ``queued`` row for ``request``; raises ``SyncInProgress`` when a sync of that
    type is already queued or running for the clinic, and ``TickTaken`` when the cron tick
    ``scheduled_for`` was already queued (by this or another replica)."""
    return syncs.enqueue(
        clinic_id,
        request.sync_type,
        request.trigger,
        start_date=request.start_date,
        end_date=request.end_date,
        options=request.options_json(),
        scheduled_for=scheduled_for,
    )
