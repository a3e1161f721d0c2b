"""``reconciliation``: the lookback repair of ``cases`` (contract §5.4).

Every case the syncs manage (``source`` ``pims:*``, or an extension case a sync adopted) that
is scheduled in the window is compared with the PIMS's calendar, fetched from the window's
start through today + the horizon so that an appointment moved forward is found, not lost:

- appointment absent, ``cancelled`` or ``no_show`` → soft-delete (already deleted: skipped);
- present and alive but moved or changed → update (a soft-deleted case is restored);
- otherwise → skipped.

The guard is decided on the complete plan, before anything is written: a PIMS answer with no
appointments while 3 or more live cases are in the window, or one that would delete more than
half of 4 or more live cases, writes nothing and fails with ``reconciliation_guard`` unless the
request said ``force``. A failed fetch never gets this far (the run fails with the provider's
code, and ``force`` does not change that).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import ClassVar

from daemon.store.cases import CaseWrite, StoredCase
from daemon.store.clinics import ClinicView
from daemon.sync.case_rules import (
    Planned,
    appointment_id_of,
    is_sync_managed,
    plan_soft_delete,
    rebase_soft_delete,
    refresh,
)
from daemon.sync.context import SyncContext
from daemon.sync.guard import guard_trips
from daemon.sync.neutral import appointment_json, case_hash
from daemon.sync.ranges import DateRange, reconciliation_window
from daemon.sync.requests import SyncRequest
from daemon.sync.service import SyncService, authenticate, unique_by_id
from providers.base import Appointment, PimsProvider

WRITE_BATCH = 100
REMOVED_FROM_PIMS = "removed_from_pims"


class Reconciliation(SyncService):
    sync_type: ClassVar[str] = "reconciliation"
    audit_type: ClassVar[str | None] = "reconciliation"
    log_area: ClassVar[str] = "reconciliation"

    def date_range(self, request: SyncRequest, clinic: ClinicView, today: date) -> DateRange:
        return reconciliation_window(today, request.lookback_days)

    async def run(self, ctx: SyncContext, provider: PimsProvider) -> None:
        await authenticate(ctx, provider)
        window = ctx.date_range
        fetch_end = ctx.today + timedelta(days=ctx.clinic.horizon_days)
        appointments = unique_by_id(await provider.fetch_appointments(window.start, fetch_end))
        by_id = {a.id: a for a in appointments}
        ctx.progress.checkpoint()

        start, end = window.utc_bounds(ctx.zone)
        cases = [
            case
            for case in ctx.repos.cases.scheduled_between(ctx.clinic.id, start, end)
            if is_sync_managed(case)
        ]
        ctx.report.stats["total"] = len(cases)
        ctx.progress.set_total(len(cases))
        plans = [(case, self._plan(ctx, provider, case, by_id)) for case in cases]

        live = sum(1 for case in cases if not case.is_deleted)
        deleting = sum(1 for _, plan in plans if plan.outcome == "deleted")
        pims_empty = not any(not a.is_block for a in appointments)
        if guard_trips(live, deleting, pims_empty):
            message = (
                f"the PIMS returned {'no appointments' if pims_empty else 'a calendar'} that "
                f"would delete {deleting} of {live} live cases in the window; nothing was "
                "changed (repeat with force to apply it)"
            )
            if not ctx.request.force:
                ctx.report.fail("reconciliation_guard", message)
                ctx.report.count("skipped", len(cases))
                ctx.progress.advance(len(cases))
                return
            ctx.log.warning(
                "reconciliation guard overridden by force",
                extra={"live": live, "deleting": deleting},
            )
        await self._apply(ctx, provider, plans, by_id)

    def _plan(
        self,
        ctx: SyncContext,
        provider: PimsProvider,
        case: StoredCase,
        by_id: dict[str, Appointment],
    ) -> Planned:
        now = ctx.now()
        appointment_id = appointment_id_of(case, provider.name)
        if appointment_id is None:
            return Planned("skipped")  # not tied to an appointment we can check
        appointment = by_id.get(appointment_id)
        if appointment is None:
            return plan_soft_delete(case, reason=REMOVED_FROM_PIMS, now=now)
        if appointment.status.is_dead:
            return plan_soft_delete(case, reason=appointment.status.value, now=now)
        document = appointment_json(appointment)
        stored_consultation = case.meta.get("pimsConsultation")
        consultation = stored_consultation if isinstance(stored_consultation, dict) else None
        digest = case_hash(document, consultation)
        if not case.is_deleted and digest == case.sync_hash:
            return Planned("skipped")
        write = refresh(case, appointment, document, consultation, provider.name, now, digest)
        return Planned("updated", write)

    async def _apply(
        self,
        ctx: SyncContext,
        provider: PimsProvider,
        plans: list[tuple[StoredCase, Planned]],
        by_id: dict[str, Appointment],
    ) -> None:
        def rebase_update(write: CaseWrite, current: StoredCase) -> CaseWrite | None:
            # The case was edited since it was read: apply the PIMS's changes to its new
            # version (keeping whatever the other writer changed).
            appointment = by_id[write.row["metadata"]["pimsAppointment"]["id"]]
            stored = current.meta.get("pimsConsultation")
            return refresh(
                current,
                appointment,
                write.row["metadata"]["pimsAppointment"],
                stored if isinstance(stored, dict) else None,
                provider.name,
                write.row["updated_at"],
            )

        for start in range(0, len(plans), WRITE_BATCH):
            batch = [plan for _, plan in plans[start : start + WRITE_BATCH]]
            updates = [p.write for p in batch if p.write is not None and p.outcome == "updated"]
            deletions = [p.write for p in batch if p.write is not None and p.outcome == "deleted"]
            if updates:
                ctx.repos.cases.write(updates, rebase=rebase_update)
            if deletions:
                ctx.repos.cases.write(deletions, rebase=rebase_soft_delete)
            for plan in batch:
                ctx.report.count(plan.outcome)
            ctx.progress.advance(len(batch))
            ctx.progress.checkpoint()
