"""Runs one queued sync from start to final row: the engine's single entry point.

``SyncRunner.run`` is blocking and meant for a worker thread (a clinic actor, the CLI): it waits
for the clinic's running sync to finish, runs the service in a private event loop, keeps the
row's progress and heartbeat moving from a side thread, and always ends with a final row —
``completed``, ``partial``, ``failed`` or ``interrupted`` — plus the audit row and metrics.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.exc import InterfaceError, OperationalError

from daemon.observability import metrics
from daemon.observability.context import log_context
from daemon.observability.logging import get_logger
from daemon.store import Store
from daemon.store.clinics import ClinicView
from daemon.store.database import DatabaseUnavailable
from daemon.store.syncs import SyncRecord
from daemon.sync.cases import CaseSync
from daemon.sync.context import Repositories, SyncContext
from daemon.sync.heartbeat import HEARTBEAT_INTERVAL_S, Heartbeat
from daemon.sync.inbound import InboundSync
from daemon.sync.progress import Progress
from daemon.sync.providers import ProviderFactory
from daemon.sync.ranges import Clock, InvalidRange, clinic_today, utc_clock
from daemon.sync.reconciliation import Reconciliation
from daemon.sync.report import SyncAborted, SyncCancelled, SyncReport, error_code_of
from daemon.sync.requests import SyncRequest, queue
from daemon.sync.service import SyncService
from providers.backoff import Backoff

SERVICES: dict[str, SyncService] = {
    service.sync_type: service for service in (InboundSync(), CaseSync(), Reconciliation())
}

WAIT_POLL_S = 0.5
#: After a stop was asked for, how long a service gets to reach its next checkpoint before its
#: task is cancelled (a PIMS call may hang for up to its timeout).
CANCEL_GRACE_S = 5.0
WATCH_INTERVAL_S = 0.1
#: How long the final write of a run keeps being retried while the database is away. A run's
#: real outcome is worth waiting for: otherwise its row stays ``running`` until swept, with no
#: code. Past this, the sweeper marks it.
FINAL_WRITE_PATIENCE_S = 300.0
FINAL_WRITE_BACKOFF = Backoff(first_s=0.5, max_s=10.0)
#: Errors that mean "the database is not answering", worth retrying; any other is a bug.
DATABASE_DOWN = (OperationalError, InterfaceError, DatabaseUnavailable)

T = TypeVar("T")


class SyncRunner:
    def __init__(
        self,
        store: Store,
        providers: ProviderFactory,
        clock: Clock = utc_clock,
        *,
        wait_poll_s: float = WAIT_POLL_S,
        cancel_grace_s: float = CANCEL_GRACE_S,
        heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S,
        final_write_patience_s: float = FINAL_WRITE_PATIENCE_S,
    ) -> None:
        self.store = store
        self.providers = providers
        self.clock = clock
        self.repos = Repositories.of(store)
        self.wait_poll_s = wait_poll_s
        self.cancel_grace_s = cancel_grace_s
        self.heartbeat_interval_s = heartbeat_interval_s
        self.final_write_patience_s = final_write_patience_s

    # -- entry points -----------------------------------------------------------------------

    def enqueue(self, clinic_id: uuid.UUID, request: SyncRequest) -> SyncRecord:
        """Queue a sync (raises ``SyncInProgress`` when one of that type is queued/running)."""
        return queue(self.store.syncs, clinic_id, request)

    def submit_and_run(
        self,
        clinic_id: uuid.UUID,
        request: SyncRequest,
        cancel: threading.Event | None = None,
    ) -> SyncRecord:
        return self.run(self.enqueue(clinic_id, request).id, cancel)

    def run(self, sync_id: uuid.UUID, cancel: threading.Event | None = None) -> SyncRecord:
        """Run the queued sync ``sync_id`` and return its final row."""
        cancel = cancel or threading.Event()
        record = self.store.syncs.get(sync_id)
        if record is None:
            raise LookupError(f"sync {sync_id} does not exist")
        if record.status != "queued":
            return record  # already run, running elsewhere, or swept
        with log_context(
            clinic_id=record.clinic_id,
            sync_id=record.id,
            sync_type=record.sync_type,
            trigger=record.trigger,
        ):
            waited = self._wait_turn(record, cancel)
            if waited is not None:
                return waited
            return self._execute(record, cancel)

    def _stored(
        self, what: str, write: Callable[[], T], cancel: threading.Event, area_log: logging.Logger
    ) -> T:
        """``write()``, retried with backoff while the database is away (bounded; at shutdown
        one last try only)."""
        deadline = time.monotonic() + self.final_write_patience_s
        announced = False
        for attempt in itertools.count(1):
            try:
                result = write()
            except DATABASE_DOWN as error:
                delay = FINAL_WRITE_BACKOFF.delay(attempt)
                if cancel.is_set() or time.monotonic() + delay > deadline:
                    area_log.error("gave up writing the %s: the database is unreachable", what)
                    raise
                if not announced:
                    area_log.warning(
                        "could not write the %s (%s); retrying until the database is back",
                        what,
                        type(error).__name__,
                    )
                    announced = True
                cancel.wait(delay)
                continue
            if announced:
                area_log.info("wrote the %s: the database is back", what)
            return result
        raise AssertionError("unreachable")  # itertools.count never ends

    # -- waiting ----------------------------------------------------------------------------

    def _wait_turn(self, record: SyncRecord, cancel: threading.Event) -> SyncRecord | None:
        """None once this sync is ``running``; else the row that ended the wait."""
        announced = False
        while not self.store.syncs.start(record.id):
            current = self.store.syncs.get(record.id)
            if current is None or current.status != "queued":
                return current  # swept, or another runner took it
            if not announced:
                get_logger(SERVICES[record.sync_type].log_area).info(
                    "waiting for the clinic's running sync to finish"
                )
                announced = True
            if cancel.wait(self.wait_poll_s):
                stopped = self.store.syncs.interrupt(
                    record.id, "stopped while waiting for the clinic's running sync"
                )
                if stopped is not None:
                    self._record_metrics(stopped, 0.0)
                return stopped
        return None

    # -- running ----------------------------------------------------------------------------

    def _execute(self, record: SyncRecord, cancel: threading.Event) -> SyncRecord:
        began = time.monotonic()
        service = SERVICES[record.sync_type]
        request = _request_of(record)
        report = SyncReport.for_type(record.sync_type)
        progress = Progress(cancel)
        audit_id: uuid.UUID | None = None
        interrupted = False
        area_log = get_logger(service.log_area)
        with Heartbeat(
            self.store.syncs,
            record.id,
            progress,
            heartbeat_interval_s=self.heartbeat_interval_s,
        ):
            try:
                clinic = self.store.clinics.get(record.clinic_id)
                with log_context(provider=clinic.provider):
                    today = clinic_today(self.clock, ZoneInfo(clinic.timezone))
                    span = service.date_range(request, clinic, today)
                    self.store.syncs.set_range(record.id, span.start, span.end)
                    if service.audit_type is not None:
                        audit_id = self.repos.audits.start(
                            clinic_id=clinic.id,
                            sync_id=record.id,
                            sync_type=service.audit_type,
                            start_date=span.start,
                            end_date=span.end,
                        )
                    ctx = SyncContext(
                        sync_id=record.id,
                        clinic=clinic,
                        request=request,
                        store=self.store,
                        repos=self.repos,
                        clock=self.clock,
                        today=today,
                        date_range=span,
                        progress=progress,
                        log=area_log,
                        report=report,
                    )
                    area_log.info(
                        "sync started",
                        extra={
                            "start_date": span.start.isoformat(),
                            "end_date": span.end.isoformat(),
                        },
                    )
                    asyncio.run(self._run_service(service, ctx, clinic))
            except SyncCancelled:
                interrupted = True
            except InvalidRange as error:
                report.fail("internal", f"invalid range: {error}")
            except Exception as error:
                self._fail(report, error, area_log)
        return self._finish(
            record, report, progress, audit_id, interrupted, began, area_log, cancel
        )

    async def _run_service(
        self, service: SyncService, ctx: SyncContext, clinic: ClinicView
    ) -> None:
        provider = self.providers.create(clinic, ctx.request.parallel_batch_size)
        async with provider:
            task = asyncio.create_task(service.run(ctx, provider))
            asked_at: float | None = None
            while not task.done():
                await asyncio.wait({task}, timeout=WATCH_INTERVAL_S)
                if ctx.progress.cancelled and not task.done():
                    asked_at = asked_at or time.monotonic()
                    if time.monotonic() - asked_at >= self.cancel_grace_s:
                        # Stuck in a PIMS call: stop waiting for it. Writes are transactions,
                        # so nothing is left half-written.
                        task.cancel()
            try:
                task.result()
            except asyncio.CancelledError:
                raise SyncCancelled("the sync was stopped during a PIMS call") from None

    @staticmethod
    def _fail(report: SyncReport, error: BaseException, area_log: logging.Logger) -> None:
        code = error_code_of(error)
        if code == "internal":
            # The stack goes to the log; the row gets no text that could carry a secret.
            area_log.exception("sync failed unexpectedly")
            report.fail("internal", f"internal error ({type(error).__name__}); see the logs")
            return
        message = error.message if isinstance(error, SyncAborted) else str(error)
        area_log.warning("sync failed", extra={"error_code": code})
        report.fail(code, message or code)

    def _finish(
        self,
        record: SyncRecord,
        report: SyncReport,
        progress: Progress,
        audit_id: uuid.UUID | None,
        interrupted: bool,
        began: float,
        area_log: logging.Logger,
        cancel: threading.Event,
    ) -> SyncRecord:
        status = report.status(interrupted=interrupted)
        if interrupted:
            report.fail("interrupted", "the sync was stopped before it finished")
        total, processed, _ = progress.snapshot()
        final = self._stored(
            "sync's final status",
            lambda: self.store.syncs.finish(
                record.id,
                status=status,
                stats=dict(report.stats),
                errors=report.errors,
                error_code=report.error_code,
                total=max(total, report.total()),
                processed=processed,
            ),
            cancel,
            area_log,
        )
        if audit_id is not None:
            found = audit_id
            self._stored(
                "audit row",
                lambda: self.repos.audits.finish(
                    found, status=final.status, stats=report.stats, errors=report.errors
                ),
                cancel,
                area_log,
            )
        seconds = time.monotonic() - began
        self._record_metrics(final, seconds)
        area_log.info(
            "sync finished",
            extra={
                "status": final.status,
                "stats": final.stats,
                "duration_ms": final.duration_ms,
                "error_code": final.error_code,
            },
        )
        return final

    @staticmethod
    def _record_metrics(record: SyncRecord, seconds: float) -> None:
        metrics.record_sync(str(record.clinic_id), record.sync_type, record.status, seconds)
        for outcome, count in record.stats.items():
            if outcome in ("total", "appointments") or not isinstance(count, int) or count <= 0:
                continue
            metrics.ITEMS_TOTAL.labels(record.sync_type, outcome).inc(count)


def _request_of(record: SyncRecord) -> SyncRequest:
    if record.options:
        request = SyncRequest.from_options(record.options)
        if request.sync_type == record.sync_type:
            return request
    return SyncRequest(
        sync_type=record.sync_type,
        trigger=record.trigger,
        start_date=record.start_date,
        end_date=record.end_date,
    )
