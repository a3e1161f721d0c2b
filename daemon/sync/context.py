"""What a sync service is handed for one run: the clinic, the request, the range, the store
and the report it fills in. Services see the PIMS only as a :class:`PimsProvider`."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from daemon.store import Store
from daemon.store.appointments import AppointmentRepository
from daemon.store.audits import AuditRepository
from daemon.store.cases import CaseRepository
from daemon.store.clinics import ClinicView
from daemon.store.slots import SlotRepository
from daemon.sync.progress import Progress
from daemon.sync.ranges import Clock, DateRange
from daemon.sync.report import SyncReport
from daemon.sync.requests import SyncRequest


@dataclass
class Repositories:
    """The sync engine's tables, over the store's database."""

    cases: CaseRepository
    appointments: AppointmentRepository
    slots: SlotRepository
    audits: AuditRepository

    @classmethod
    def of(cls, store: Store) -> Repositories:
        return cls(
            cases=CaseRepository(store.db),
            appointments=AppointmentRepository(store.db),
            slots=SlotRepository(store.db),
            audits=AuditRepository(store.db),
        )


@dataclass
class SyncContext:
    sync_id: uuid.UUID
    clinic: ClinicView
    request: SyncRequest
    store: Store
    repos: Repositories
    clock: Clock
    today: date
    date_range: DateRange
    progress: Progress
    log: logging.Logger
    report: SyncReport

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.clinic.timezone)

    def now(self) -> datetime:
        return self.clock()
