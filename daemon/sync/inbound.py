"""``inbound``: the PIMS calendar into ``pims_appointments``, and ``schedule_slots`` rebuilt.

Contract §5.2. Order matters for safety: the calendar is fetched first and a failed fetch
writes nothing; the appointment rows are then written in one transaction (upserts, restores,
soft deletes); the slots of the range are rebuilt last, in one transaction of their own. When
the clinic's hours cannot be known (no configuration, or the PIMS's could not be read) the
appointments are still written and the sync ends ``partial``; when only the PIMS's hours could
not be read, the slots already published keep their times and have their bookings recounted.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from daemon.store.clinics import ClinicView
from daemon.store.slots import Slot
from daemon.sync.context import SyncContext
from daemon.sync.guard import guard_trips
from daemon.sync.neutral import appointment_row_hash
from daemon.sync.ranges import DateRange, inbound_default, resolve_range
from daemon.sync.report import error_code_of
from daemon.sync.requests import SyncRequest
from daemon.sync.service import SyncService, authenticate, unique_by_id
from daemon.sync.slots import (
    Hours,
    build_slots,
    has_hours,
    hours_from_daily,
    hours_from_pims,
    recount_slots,
    slot_minutes,
)
from providers.base import Appointment, PimsProvider, ProviderError, ScheduleConfig


def appointment_row(
    clinic_id: uuid.UUID, appointment: Appointment, now: datetime
) -> dict[str, Any]:
    """A ``pims_appointments`` row: real instants in UTC, the local date of the start."""
    a = appointment
    content: dict[str, Any] = {
        "starts_at": a.starts_at.astimezone(UTC),
        "ends_at": a.ends_at.astimezone(UTC),
        "local_date": a.local_date,
        "patient_name": a.patient.name,
        "client_name": a.client.name,
        "client_phone": a.client.phone,
        "provider_name": a.provider.name,
        "room_id": a.room_id,
        "appointment_type": a.type,
        "title": a.title,
        "consultation_id": a.consultation_id,
        "status": a.status.value,
        "is_block": a.is_block,
    }
    return {
        "id": uuid.uuid4(),
        "clinic_id": clinic_id,
        "external_id": a.id,
        **content,
        "sync_hash": appointment_row_hash(content),
        "last_synced_at": now,
        "deleted_at": None,
        "created_at": now,
        "updated_at": now,
    }


class InboundSync(SyncService):
    sync_type: ClassVar[str] = "inbound"
    log_area: ClassVar[str] = "schedule"

    def date_range(self, request: SyncRequest, clinic: ClinicView, today: date) -> DateRange:
        return resolve_range(
            request.start_date, request.end_date, inbound_default(today, clinic.horizon_days)
        )

    async def run(self, ctx: SyncContext, provider: PimsProvider) -> None:
        await authenticate(ctx, provider)
        span = ctx.date_range
        appointments = unique_by_id(await provider.fetch_appointments(span.start, span.end))
        ctx.progress.set_total(len(appointments))
        ctx.report.stats["appointments"] = len(appointments)
        ctx.progress.checkpoint()

        config, config_error = await self._schedule_config(ctx, provider)
        if not self._write_appointments(ctx, appointments):
            return  # the deletion guard tripped: nothing written, slots left as they were
        ctx.progress.checkpoint()
        self._rebuild_slots(ctx, appointments, config, config_error)
        self._drop_slots_past_horizon(ctx)

    def _drop_slots_past_horizon(self, ctx: SyncContext) -> None:
        """A run over the clinic's own horizon owns availability up to its end: slots dated
        later were published when the horizon was longer (or by a run over an explicit
        range) and no run keeps them true any more, so they go rather than offer times that
        may have been booked since."""
        if ctx.request.start_date is not None or ctx.request.end_date is not None:
            return
        dropped = ctx.repos.slots.remove_after(ctx.clinic.id, ctx.date_range.end)
        if dropped:
            ctx.log.info(
                "removed slots past the clinic's horizon",
                extra={"slots": dropped, "after": ctx.date_range.end.isoformat()},
            )

    async def _schedule_config(
        self, ctx: SyncContext, provider: PimsProvider
    ) -> tuple[ScheduleConfig | None, ProviderError | None]:
        """The PIMS's hours and slot interval, fetched only when the clinic's own
        configuration leaves one of them open."""
        if ctx.clinic.daily_hours is not None and ctx.clinic.slot_minutes:
            return None, None
        try:
            return await provider.fetch_schedule_config(), None
        except ProviderError as error:
            ctx.log.warning(
                "could not read the PIMS schedule configuration",
                extra={"error_code": error_code_of(error)},
            )
            return None, error

    def _write_appointments(self, ctx: SyncContext, appointments: list[Appointment]) -> bool:
        span, clinic_id, now = ctx.date_range, ctx.clinic.id, ctx.now()
        known = ctx.repos.appointments.known(
            clinic_id, [a.id for a in appointments], span.start, span.end
        )
        upserts: list[dict[str, Any]] = []
        unchanged: list[str] = []
        rewrite = ctx.request.force_full_sync
        for appointment in appointments:
            row = appointment_row(clinic_id, appointment, now)
            stored = known.get(appointment.id)
            if stored is None:
                ctx.report.count("created")
                upserts.append(row)
            elif rewrite or stored.deleted_at is not None or stored.sync_hash != row["sync_hash"]:
                ctx.report.count("updated")  # a restored row is "updated" too
                upserts.append(row)
            else:
                ctx.report.count("unchanged")
                unchanged.append(appointment.id)
        fetched = {a.id for a in appointments}
        vanished = sorted(
            external_id
            for external_id, stored in known.items()
            if stored.deleted_at is None
            and span.start <= stored.local_date <= span.end
            and external_id not in fetched
        )
        live = sum(
            1
            for stored in known.values()
            if stored.deleted_at is None and span.start <= stored.local_date <= span.end
        )
        pims_empty = not any(not a.is_block for a in appointments)
        # The deletion guard of contract §5.4 protects availability too: an empty or
        # collapsed calendar (a PIMS hiccup answering 200) must not free every booked slot,
        # or the phone agent would double-book. Only an explicit ``force`` overrides it;
        # ``forceFullSync`` merely rewrites rows (contract §7: the two are kept apart, since
        # one forced rewrite during a glitch once freed every booked slot).
        tripped = guard_trips(live, len(vanished), pims_empty)
        if tripped and not ctx.request.force:
            ctx.report.fail(
                "reconciliation_guard",
                f"the PIMS returned {'no appointments' if pims_empty else 'a calendar'} that "
                f"would remove {len(vanished)} of {live} live appointments in the range; "
                "nothing was changed (repeat with force to apply it)",
            )
            ctx.report.stats.update(created=0, updated=0, unchanged=len(appointments))
            ctx.progress.advance(len(appointments))
            return False
        if tripped:
            ctx.log.warning(
                "deletion guard overridden by force",
                extra={"live": live, "removing": len(vanished)},
            )
        removed = ctx.repos.appointments.apply(
            clinic_id, upserts=upserts, unchanged=unchanged, removed=vanished, at=now
        )
        ctx.report.count("removed", removed)
        ctx.progress.advance(len(appointments))
        return True

    def _rebuild_slots(
        self,
        ctx: SyncContext,
        appointments: list[Appointment],
        config: ScheduleConfig | None,
        config_error: ProviderError | None,
    ) -> None:
        clinic, span = ctx.clinic, ctx.date_range
        if config_error is not None:
            # Without the PIMS's hours no slot can be laid out, but the calendar was read:
            # the slots already published keep their times and have their bookings and blocks
            # counted again, so that a slot booked since the last run does not stay free for
            # the phone agent to double-book.
            published = ctx.repos.slots.in_range(clinic.id, span.start, span.end)
            recounted = recount_slots(published, clinic.default_capacity, appointments)
            ctx.repos.slots.replace_range(clinic.id, span.start, span.end, recounted, now=ctx.now())
            ctx.report.error(
                error_code_of(config_error),
                "the PIMS schedule configuration could not be read; the slots already "
                "published were kept, their bookings and blocks counted again",
            )
            ctx.report.stats["slots"] = len(recounted)
            ctx.report.stats["blockedSlots"] = sum(1 for s in recounted if s.is_blocked)
            return
        hours: Hours = (
            hours_from_daily(clinic.daily_hours)
            if clinic.daily_hours is not None
            else hours_from_pims(config or ScheduleConfig())
        )
        slots: list[Slot] = []
        if has_hours(hours):
            slots = build_slots(
                span,
                ctx.zone,
                hours,
                slot_minutes(clinic.slot_minutes, config),
                clinic.default_capacity,
                appointments,
            )
        else:
            ctx.report.error(
                "no_business_hours",
                "neither the clinic's daily hours nor the PIMS define opening hours; "
                "no availability slots were published",
            )
        ctx.repos.slots.replace_range(clinic.id, span.start, span.end, slots, now=ctx.now())
        ctx.report.stats["slots"] = len(slots)
        ctx.report.stats["blockedSlots"] = sum(1 for s in slots if s.is_blocked)
