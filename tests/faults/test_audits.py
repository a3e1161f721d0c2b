"""``case_sync_audits`` rows end with their sync when it is marked ``interrupted`` without the
runner (the sweeper, the start-up sweep, shutdown), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from daemon.store import Store
from daemon.store.audits import AuditRepository
from daemon.store.models import CaseSyncAudit, ScheduleSync


def _clinic(store: Store) -> uuid.UUID:
    return store.clinics.add(
        name="Audited", timezone="America/Los_Angeles", provider="idexx-neo", base_url=None
    ).id


def _running_with_audit(store: Store, clinic_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    sync = store.syncs.enqueue(clinic_id, "cases", "api")
    assert store.syncs.start(sync.id)
    audit_id = AuditRepository(store.db).start(
        clinic_id=clinic_id,
        sync_id=sync.id,
        sync_type="full",
        start_date=date(2026, 3, 1),
        end_date=date(2026, 3, 4),
    )
    return sync.id, audit_id


def test_interrupting_a_sync_closes_its_audit(store: Store) -> None:
    clinic_id = _clinic(store)
    sync_id, _audit = _running_with_audit(store, clinic_id)
    store.syncs.interrupt(sync_id, "the daemon shut down before this sync finished")
    audit = AuditRepository(store.db).for_sync(sync_id)
    assert audit is not None
    assert audit.status == "interrupted" and audit.completed_at is not None
    assert audit.errors[-1]["code"] == "interrupted"


def test_sweeps_close_audits_of_stale_and_already_ended_syncs(store: Store) -> None:
    clinic_id = _clinic(store)
    stale_id, _ = _running_with_audit(store, clinic_id)
    with store.db.session() as session:
        row = session.get(ScheduleSync, stale_id)
        assert row is not None
        row.heartbeat_at = datetime.now(UTC) - timedelta(minutes=3)
    # An audit left running by an older process whose sync did end.
    ended = store.syncs.enqueue(clinic_id, "reconciliation", "api")
    store.syncs.finish(ended.id, status="failed", stats={}, errors=[], error_code="internal")
    with store.db.session() as session:
        session.add(
            CaseSyncAudit(
                clinic_id=clinic_id,
                sync_id=ended.id,
                sync_type="reconciliation",
                status="running",
                start_date=date(2026, 3, 1),
                end_date=date(2026, 3, 4),
                started_at=datetime.now(UTC) - timedelta(hours=1),
            )
        )
    assert store.syncs.interrupt_stale(
        heartbeat_older_than=timedelta(minutes=2), include_queued=False
    ) == [stale_id]
    audits = AuditRepository(store.db)
    stale_audit, ended_audit = audits.for_sync(stale_id), audits.for_sync(ended.id)
    assert stale_audit is not None and stale_audit.status == "interrupted"
    assert ended_audit is not None and ended_audit.status == "failed"
    assert ended_audit.completed_at is not None
