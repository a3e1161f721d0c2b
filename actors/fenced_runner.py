"""The clinic actor's runner when clinics are leased: each sync runs under its clinic's fencing
token, and a sync whose lease is gone stops writing and ends ``interrupted`` with
``lease_lost`` (contract §7, replicas.md promise 4)."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Protocol

from actors.directory import ClinicDirectory
from daemon.observability import metrics
from daemon.store import Store
from daemon.store.fencing import Fence, LeaseLost, fenced, unfenced
from daemon.store.leases import ROWS_CHANNEL, LeaseStore
from daemon.store.syncs import SyncRecord

log = logging.getLogger("pims_sync.leases")


class Runner(Protocol):
    def run(self, sync_id: uuid.UUID, cancel: threading.Event | None = None) -> SyncRecord: ...


class FencedRunner:
    def __init__(
        self, runner: Runner, store: Store, leases: LeaseStore, directory: ClinicDirectory
    ) -> None:
        self.runner = runner
        self.store = store
        self.leases = leases
        self.directory = directory

    def run(self, sync_id: uuid.UUID, cancel: threading.Event | None = None) -> SyncRecord:
        record = self.store.syncs.get(sync_id)
        if record is None:
            raise LookupError(f"sync {sync_id} does not exist")
        if record.status != "queued":
            return record
        token = self.directory.token_for(record.clinic_id)
        if token is None:
            # The clinic went to another replica while this message waited: its owner runs it.
            return record
        fence = Fence(record.clinic_id, self.leases.replica_id, token, self.leases.ttl_s)
        try:
            with fenced(fence):
                self.leases.mark_runner(sync_id)
                final = self.runner.run(sync_id, cancel)
        except LeaseLost:
            final = self._lease_lost(sync_id)
        self._announce(final)
        return final

    def _lease_lost(self, sync_id: uuid.UUID) -> SyncRecord:
        with unfenced():
            current = self.store.syncs.get(sync_id)
            if current is None:
                raise LookupError(f"sync {sync_id} vanished")
            if current.status != "running":
                return current  # still queued (the new owner runs it) or already closed
            log.warning(
                "lease lost during the sync: it stops, writing nothing more",
                extra={"sync_id": str(sync_id), "clinic_id": str(current.clinic_id)},
            )
            # Its one last write: its own row, unless the new owner closed it already.
            final = self.store.syncs.finish(
                sync_id,
                status="interrupted",
                stats=current.stats,
                errors=[
                    {
                        "code": "lease_lost",
                        "message": "this replica lost the clinic's lease; another replica "
                        "serves the clinic now",
                    }
                ],
                error_code="lease_lost",
            )
        metrics.record_sync(str(final.clinic_id), final.sync_type, final.status, 0.0)
        return final

    def _announce(self, record: SyncRecord) -> None:
        """Wake waiters on other replicas (a trigger or a stream there reads the row)."""
        try:
            with unfenced():
                self.leases.notify(ROWS_CHANNEL, str(record.id))
        except Exception:
            log.debug("could not announce the end of sync %s", record.id)
