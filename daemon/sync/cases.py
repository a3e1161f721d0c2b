"""``cases``: finalized appointments with their consultations into ``cases`` (contract §5.3).

Three phases:

1. fetch the appointments of the range (a failure fails the run; nothing is written);
2. look up the clinic's existing cases for all of them in one query, by our external id and by
   the provider's alternate ids (the browser extension's), and settle everything that needs no
   consultation: blocks, unfinished appointments, finalized ones without a consultation
   (``skipped``), cancelled and no-show ones (their case soft-deleted);
3. fetch the consultations of the rest with one ``fetch_consultations`` call (the provider
   batches them, or asks at most ``parallelBatchSize`` at once), settle each item as its
   consultation arrives (progress moves per item) and upsert the cases in batches while later
   fetches are still running. A consultation the PIMS says does not exist is ``skipped``; one
   that fails to load is ``failed`` with its code (no row is written, so the next run tries
   again) and the sync ends ``partial``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from daemon.store.cases import CaseWrite, StoredCase
from daemon.store.clinics import ClinicView
from daemon.sync.case_rules import (
    Planned,
    case_source,
    external_id,
    plan_soft_delete,
    plan_upsert,
    rebase_soft_delete,
    refresh,
)
from daemon.sync.context import SyncContext
from daemon.sync.neutral import appointment_json, consultation_json
from daemon.sync.ranges import DateRange, cases_default, resolve_range
from daemon.sync.report import error_code_of
from daemon.sync.requests import SyncRequest
from daemon.sync.service import SyncService, authenticate, unique_by_id
from providers.base import (
    Appointment,
    Consultation,
    NotFound,
    PimsProvider,
    ProviderError,
    UnexpectedPayload,
)

#: Rows per write transaction: a 300-appointment range is a handful of statements.
WRITE_BATCH = 100
#: Longest a settled item waits for its batch to be written when consultations arrive slowly.
FLUSH_AFTER_S = 1.0
#: Wakes the consumer to write what has arrived (see ``_fetch_and_upsert``).
_TICK: tuple[str, Consultation | ProviderError] = ("", NotFound("tick"))


@dataclass(frozen=True)
class _Item:
    """A finalized appointment whose consultation must be fetched, and its case if any."""

    appointment: Appointment
    existing: StoredCase | None


@dataclass(frozen=True)
class _Fetched:
    item: _Item
    planned: Planned | None = None  # None: failed or skipped without a write
    outcome: str = "skipped"


def find_case(
    found: dict[str, StoredCase], appointment_id: str, provider: PimsProvider
) -> StoredCase | None:
    """Our case for the appointment, else the extension's (to adopt), else None."""
    ours = found.get(external_id(provider.name, appointment_id))
    if ours is not None:
        return ours
    for alternate in provider.alternate_case_ids(appointment_id):
        theirs = found.get(alternate)
        if theirs is not None:
            return theirs
    return None


def may_touch(case: StoredCase, provider: PimsProvider) -> bool:
    """Our own cases and adopted ones; an extension case becomes ours only by adoption (which
    needs a consultation), so a cancelled appointment leaves an unadopted one alone."""
    source = case_source(provider.name)
    return case.source == source or case.meta.get("adoptedBy") == source


class CaseSync(SyncService):
    sync_type: ClassVar[str] = "cases"
    audit_type: ClassVar[str | None] = "full"
    log_area: ClassVar[str] = "case-sync"

    def date_range(self, request: SyncRequest, clinic: ClinicView, today: date) -> DateRange:
        return resolve_range(request.start_date, request.end_date, cases_default(today))

    async def run(self, ctx: SyncContext, provider: PimsProvider) -> None:
        await authenticate(ctx, provider)
        span = ctx.date_range
        appointments = unique_by_id(await provider.fetch_appointments(span.start, span.end))
        ctx.report.stats["total"] = len(appointments)
        ctx.progress.set_total(len(appointments))
        ctx.progress.checkpoint()

        to_fetch = self._settle_without_consultation(ctx, provider, appointments)
        ctx.progress.checkpoint()
        await self._fetch_and_upsert(ctx, provider, to_fetch)

    # -- phase 2 ----------------------------------------------------------------------------

    def _settle_without_consultation(
        self, ctx: SyncContext, provider: PimsProvider, appointments: Sequence[Appointment]
    ) -> list[_Item]:
        ids: list[str] = []
        for appointment in appointments:
            if not appointment.is_block:
                ids.append(external_id(provider.name, appointment.id))
                ids.extend(provider.alternate_case_ids(appointment.id))
        found = ctx.repos.cases.by_external_ids(ctx.clinic.id, ids)
        now = ctx.now()
        to_fetch: list[_Item] = []
        deletions: list[CaseWrite] = []
        settled = 0
        for appointment in appointments:
            existing = None if appointment.is_block else find_case(found, appointment.id, provider)
            if appointment.is_block:
                ctx.report.count("skipped")
            elif appointment.status.is_dead:
                planned = (
                    plan_soft_delete(existing, reason=appointment.status.value, now=now)
                    if existing is not None and may_touch(existing, provider)
                    else Planned("skipped")
                )
                ctx.report.count(planned.outcome)
                if planned.write is not None:
                    deletions.append(planned.write)
            elif not appointment.status.is_finalized or not appointment.consultation_id:
                ctx.report.count("skipped")
            else:
                to_fetch.append(_Item(appointment, existing))
                continue
            settled += 1
        for start in range(0, len(deletions), WRITE_BATCH):
            ctx.repos.cases.write(deletions[start : start + WRITE_BATCH], rebase=rebase_soft_delete)
        ctx.progress.advance(settled)
        return to_fetch

    # -- phase 3 ----------------------------------------------------------------------------

    async def _fetch_and_upsert(
        self, ctx: SyncContext, provider: PimsProvider, items: list[_Item]
    ) -> None:
        """Ask the provider for every consultation in one call (it batches or paces as its
        PIMS allows) and settle each item as its consultation arrives: progress moves per
        item, rows are written in batches while later fetches go on."""
        if not items:
            return
        by_consultation: dict[str, list[_Item]] = {}
        for item in items:
            by_consultation.setdefault(item.appointment.consultation_id or "", []).append(item)
        arrivals: asyncio.Queue[tuple[str, Consultation | ProviderError] | None] = asyncio.Queue()

        def on_result(consultation_id: str, result: Consultation | ProviderError) -> None:
            arrivals.put_nowait((consultation_id, result))

        async def fetch_all() -> None:
            try:
                results = await provider.fetch_consultations(list(by_consultation), on_result)
                # Ids the provider answered without calling back are settled here (the
                # consumer ignores the ones it has seen already).
                for consultation_id, result in results.items():
                    on_result(consultation_id, result)
            except ProviderError as error:
                # The whole call failed: every consultation not yet settled failed with it.
                for consultation_id in by_consultation:
                    on_result(consultation_id, error)
            finally:
                arrivals.put_nowait(None)

        task = asyncio.ensure_future(fetch_all())
        seen: set[str] = set()
        pending: list[_Fetched] = []
        by_external_id: dict[str, _Item] = {}
        loop = asyncio.get_running_loop()
        first_pending_at = 0.0
        try:
            while True:
                timeout = (
                    None
                    if not pending
                    else max(0.0, FLUSH_AFTER_S - (loop.time() - first_pending_at))
                )
                try:
                    entry = await asyncio.wait_for(arrivals.get(), timeout)
                except TimeoutError:
                    entry = _TICK
                if entry is None:
                    break
                if entry is not _TICK:
                    consultation_id, result = entry
                    if consultation_id in seen or consultation_id not in by_consultation:
                        continue
                    seen.add(consultation_id)
                    if not pending:
                        first_pending_at = loop.time()
                    for item in by_consultation[consultation_id]:
                        pending.append(self._settle(ctx, provider, item, result))
                        ctx.progress.advance(1)
                    if (
                        len(pending) < WRITE_BATCH
                        and loop.time() - first_pending_at < FLUSH_AFTER_S
                        and not ctx.progress.cancelled
                    ):
                        continue
                await self._flush(ctx, provider, pending, by_external_id)
                pending = []
                ctx.progress.checkpoint()
            await task  # a failure other than a ProviderError ends the run here
            for consultation_id in by_consultation.keys() - seen:
                error = UnexpectedPayload("the provider returned no answer for this consultation")
                for item in by_consultation[consultation_id]:
                    pending.append(self._settle(ctx, provider, item, error))
                    ctx.progress.advance(1)
            await self._flush(ctx, provider, pending, by_external_id)
            ctx.progress.checkpoint()
        finally:
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _settle(
        self,
        ctx: SyncContext,
        provider: PimsProvider,
        item: _Item,
        result: Consultation | ProviderError,
    ) -> _Fetched:
        """An item's outcome from its consultation, or from the error that stopped it."""
        appointment = item.appointment
        consultation_id = appointment.consultation_id or ""
        if isinstance(result, NotFound):
            ctx.log.info(
                "consultation not found in the PIMS; appointment skipped",
                extra={"appointment_id": appointment.id, "consultation_id": consultation_id},
            )
            return _Fetched(item, outcome="skipped")
        if isinstance(result, ProviderError):
            code = error_code_of(result)
            ctx.log.warning(
                "consultation could not be loaded",
                extra={
                    "appointment_id": appointment.id,
                    "consultation_id": consultation_id,
                    "error_code": code,
                },
            )
            ctx.report.error(
                code,
                f"consultation {consultation_id} of appointment {appointment.id} could not be "
                f"loaded: {result}",
                item_id=appointment.id,
            )
            return _Fetched(item, outcome="failed")
        planned = plan_upsert(
            item.existing,
            appointment,
            appointment_json(appointment),
            consultation_json(result),
            clinic_id=ctx.clinic.id,
            provider=provider.name,
            now=ctx.now(),
            force=ctx.request.force_full_sync,
        )
        return _Fetched(item, planned=planned, outcome=planned.outcome)

    async def _flush(
        self,
        ctx: SyncContext,
        provider: PimsProvider,
        results: list[_Fetched],
        by_external_id: dict[str, _Item],
    ) -> None:
        writes: list[CaseWrite] = []
        for result in results:
            if result.planned is not None and result.planned.write is not None:
                writes.append(result.planned.write)
                by_external_id[result.planned.write.row["external_id"]] = result.item
        if writes:

            def rebase(write: CaseWrite, current: StoredCase) -> CaseWrite | None:
                # Someone edited the case since phase 2: merge into their version.
                item = by_external_id[write.row["external_id"]]
                meta = write.row["metadata"]
                return refresh(
                    current,
                    item.appointment,
                    meta["pimsAppointment"],
                    meta["pimsConsultation"],
                    provider.name,
                    write.row["updated_at"],
                )

            # The database call runs in a thread so that fetches go on meanwhile.
            await asyncio.to_thread(ctx.repos.cases.write, writes, rebase=rebase)
        for result in results:
            ctx.report.count(result.outcome)
