"""The shape every sync service has, and the steps they share."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import date
from typing import ClassVar

from daemon.store.clinics import ClinicView
from daemon.sync.context import SyncContext
from daemon.sync.ranges import DateRange
from daemon.sync.requests import SyncRequest
from providers.base import Appointment, PimsProvider


class SyncService(abc.ABC):
    """One sync of one type for one clinic. Stateless: everything lives in the context."""

    sync_type: ClassVar[str]
    #: ``case_sync_audits.sync_type`` of this service's runs, or None for no audit row.
    audit_type: ClassVar[str | None] = None
    #: The logger area (``pims_sync.<area>``).
    log_area: ClassVar[str]

    @abc.abstractmethod
    def date_range(self, request: SyncRequest, clinic: ClinicView, today: date) -> DateRange:
        """The clinic-local dates this run covers (raises ``InvalidRange``)."""

    @abc.abstractmethod
    async def run(self, ctx: SyncContext, provider: PimsProvider) -> None:
        """Do the work, filling ``ctx.report``. A provider error before anything was written
        propagates (the run fails with its code); per-item failures are recorded instead."""


async def authenticate(ctx: SyncContext, provider: PimsProvider) -> None:
    """Reuse the cached PIMS session or log in (``NoCredentials`` and
    ``UndecryptableSecret`` propagate and fail the run with their codes)."""
    credentials = ctx.store.credentials.get(ctx.clinic.id)
    await provider.authenticate(credentials)


def unique_by_id(appointments: Sequence[Appointment]) -> list[Appointment]:
    """One event per appointment id (a feed may repeat one); the last occurrence wins, in the
    position of the first."""
    latest: dict[str, Appointment] = {}
    for appointment in appointments:
        latest[appointment.id] = appointment
    return list(latest.values())
