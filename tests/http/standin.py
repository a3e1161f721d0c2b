"""A database-backed stand-in for the daemon's dispatcher.

It queues syncs exactly as the daemon does (``store.syncs.enqueue``), and lets the test play
the clinic actor: start, report progress and finish the row from the test's own thread. With
``autorun`` it finishes every queued sync by itself (for the schemathesis run).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from daemon.http.dispatch import ClinicNotServed, Draining, HealthSnapshot, ReadinessCheck
from daemon.store import Store
from daemon.store.syncs import SyncRecord
from daemon.sync.requests import SyncRequest

STATS = {"total": 3, "created": 1, "updated": 1, "skipped": 1, "failed": 0, "deleted": 0}


@dataclass
class StandInDispatcher:
    store: Store
    draining: bool = False
    not_served: set[uuid.UUID] = field(default_factory=set)
    checks: list[ReadinessCheck] = field(
        default_factory=lambda: [ReadinessCheck("database", True, "answers")]
    )
    start_at_once: bool = False  # as an idle clinic actor would: queued, then running
    readiness_error: Exception | None = None
    schedules_error: Exception | None = None
    submitted: list[tuple[uuid.UUID, SyncRequest]] = field(default_factory=list)
    _worker: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    # -- the Dispatcher protocol ---------------------------------------------------------------

    def submit(self, clinic_id: uuid.UUID, request: SyncRequest) -> SyncRecord:
        if self.draining:
            raise Draining()
        if clinic_id in self.not_served:
            raise ClinicNotServed(str(clinic_id))
        self.submitted.append((clinic_id, request))
        record = self.store.syncs.enqueue(
            clinic_id, request.sync_type, request.trigger,
            start_date=request.start_date, end_date=request.end_date,
            options=request.options_json(),
        )  # fmt: skip
        if self.start_at_once:
            assert self.store.syncs.start(record.id), "another sync of the clinic runs"
        return record

    def health(self) -> HealthSnapshot:
        return HealthSnapshot(
            clinics=2, running_syncs=1, scheduler_enabled=True, scheduler_jobs=3,
            browser_pss_bytes=12345, extra={"standIn": True},
        )  # fmt: skip

    def readiness(self) -> list[ReadinessCheck]:
        if self.readiness_error is not None:
            raise self.readiness_error
        return list(self.checks)

    def schedules(self, clinic_id: uuid.UUID) -> list[dict[str, Any]]:
        if self.schedules_error is not None:
            raise self.schedules_error
        result = []
        for entry in self.store.clinics.get(clinic_id).schedules:
            last = self.store.syncs.latest(clinic_id, entry.type, trigger="schedule")
            result.append({
                **entry.as_json(),
                "nextRunAt": None,
                "lastRun": None if last is None else {
                    "syncId": str(last.id), "status": last.status,
                    "startedAt": last.status_json()["startedAt"],
                },
            })  # fmt: skip
        return result

    # -- playing the clinic actor ----------------------------------------------------------------

    def run_to_end(self, sync_id: uuid.UUID, status: str = "completed") -> SyncRecord:
        assert self.store.syncs.start(sync_id), "the sync could not start"
        self.store.syncs.progress(sync_id, total=3, processed=2)
        errors = [] if status == "completed" else [{"code": "pims_unavailable", "message": "x"}]
        return self.store.syncs.finish(
            sync_id, status=status, stats=dict(STATS), errors=errors,
            error_code=None if status == "completed" else "pims_unavailable",
            total=3, processed=3,
        )  # fmt: skip

    def start_autorun(self) -> None:
        """Finish every queued sync shortly after it is queued, until :meth:`close`."""
        self._worker = threading.Thread(target=self._autorun, name="stand-in-actor", daemon=True)
        self._worker.start()

    def _autorun(self) -> None:
        while not self._stop.wait(0.02):
            for record in self.store.syncs.active():
                if record.status == "queued" and self.store.syncs.start(record.id):
                    self.store.syncs.finish(
                        record.id,
                        status="completed",
                        stats=dict(STATS),
                        errors=[],
                        error_code=None,
                        total=3,
                        processed=3,
                    )

    def close(self) -> None:
        self._stop.set()
        if self._worker is not None:
            self._worker.join(10)
