"""The provider interface: what every PIMS integration offers the sync engine.

Nothing outside ``providers/`` knows which PIMS a clinic runs. The sync services see only the
neutral value objects and errors defined here, and a provider sees only what it is given in a
:class:`ProviderContext` (never the database, never an actor). Browsers, cookies and pages stay
inside the providers that need them; ``BrowserSource`` is the one seam through which such a
provider borrows a browser for its login.
"""

from __future__ import annotations

import abc
import asyncio
import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, ClassVar, Protocol, TypeVar
from zoneinfo import ZoneInfo

T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# Value objects


class AppointmentStatus(enum.StrEnum):
    """Normalised appointment status, the same for every PIMS."""

    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    FINALIZED = "finalized"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"

    @property
    def is_finalized(self) -> bool:
        return self is AppointmentStatus.FINALIZED

    @property
    def is_dead(self) -> bool:
        """Cancelled or no-show: occupies no time and should have no live case."""
        return self in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)


@dataclass(frozen=True, slots=True)
class Patient:
    id: str | None = None
    name: str | None = None
    species: str | None = None
    breed: str | None = None


@dataclass(frozen=True, slots=True)
class Client:
    id: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class StaffMember:
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Appointment:
    """One calendar event of the PIMS: an appointment or a block of time.

    ``starts_at`` and ``ends_at`` are timezone-aware (the clinic's zone), converted from the PIMS's
    wall time; ``ends_at`` may fall on a later local date than ``local_date`` (the start's date).
    Staff roster entries are never returned: they are not appointments.
    """

    id: str
    starts_at: datetime
    ends_at: datetime
    local_date: date
    status: AppointmentStatus
    raw_status: str | None = None
    consultation_id: str | None = None
    is_block: bool = False
    patient: Patient = field(default_factory=Patient)
    client: Client = field(default_factory=Client)
    provider: StaffMember = field(default_factory=StaffMember)
    room_id: str | None = None
    type: str | None = None
    reason: str | None = None
    title: str | None = None

    @property
    def duration_minutes(self) -> int:
        # Real elapsed time: subtracting two times of one zone compares clock readings, which
        # is wrong across a DST change.
        elapsed = self.ends_at.astimezone(UTC) - self.starts_at.astimezone(UTC)
        return round(elapsed.total_seconds() / 60)


@dataclass(frozen=True, slots=True)
class Consultation:
    """The clinical record behind a finished appointment."""

    id: str
    status: str
    notes: str | None = None
    discharge_summary: str | None = None
    products_services: str | None = None
    declined_products_services: str | None = None
    reason: str | None = None
    date: str | None = None
    species: str | None = None
    breed: str | None = None


#: Called with each consultation id as it is settled: its consultation, or the error that
#: stopped it.
ConsultationCallback = Callable[[str, "Consultation | ProviderError"], None]


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Opening hours for one weekday (0 = Sunday … 6 = Saturday), clinic wall time."""

    day_of_week: int
    opens: time
    closes: time


@dataclass(frozen=True, slots=True)
class NamedItem:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    slot_interval_minutes: int | None = None
    business_hours: tuple[BusinessHours, ...] = ()
    appointment_types: tuple[NamedItem, ...] = ()
    rooms: tuple[NamedItem, ...] = ()
    providers: tuple[NamedItem, ...] = ()


@dataclass(frozen=True, slots=True)
class CredentialField:
    """One field of a provider's login, as ``pims-sync credentials set`` takes it.

    Each provider declares its own fields (:attr:`PimsProvider.credential_fields`); the CLI and
    the credential store work from that declaration, so neither knows any PIMS's login shape.
    """

    #: The stored name, e.g. ``username`` or ``client_secret``.
    name: str
    #: The CLI option that carries it, e.g. ``--username``; a secret arrives on standard input
    #: through ``--<option>-stdin`` (``--password-stdin``, ``--secret-stdin``) instead.
    option: str
    #: Read from standard input and never echoed (passwords, client secrets).
    secret: bool = False
    required: bool = True


class Credentials:
    """A clinic's PIMS login: the values of its provider's credential fields, by name.

    The repr names the fields only, never a value, so a login can be logged by mistake without
    leaking it.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values: dict[str, str] = dict(values)

    @classmethod
    def of(cls, **values: str | None) -> Credentials:
        """``Credentials.of(username="u", password="p", company_id=None)``; ``None`` is left out."""
        return cls({name: value for name, value in values.items() if value is not None})

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def require(self, name: str) -> str:
        """The field's value; a missing field is a login the PIMS could never accept."""
        value = self._values.get(name)
        if value is None or value == "":
            raise AuthenticationFailed(f"the stored credentials have no {name!r}")
        return value

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._values))

    def values(self) -> tuple[str, ...]:
        """Every value (for scrubbing echoes of them out of PIMS messages)."""
        return tuple(self._values.values())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Credentials) and other._values == self._values

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._values.items())))

    def __repr__(self) -> str:
        return f"Credentials(fields={list(self.names())!r})"


# ---------------------------------------------------------------------------------------------
# Errors: a provider failure is always an exception, never an empty answer.


class ProviderError(Exception):
    """Base of every provider failure. ``code`` is the sync error code of the contract."""

    code: ClassVar[str] = "internal"
    retryable: ClassVar[bool] = False


class AuthenticationFailed(ProviderError):
    """The PIMS rejected the credentials. Never retried in a loop."""

    code = "pims_auth_failed"


class SecondFactorRequired(AuthenticationFailed):
    code = "pims_second_factor"


class BranchPickerShown(AuthenticationFailed):
    code = "pims_branch_picker"


class SessionLost(ProviderError):
    """The session was rejected and one fresh login did not help."""

    code = "pims_session_lost"


class PimsUnavailable(ProviderError):
    """Timeouts, connection errors, 5xx or 429 after the retries ran out."""

    code = "pims_unavailable"
    retryable = True


class RateLimited(PimsUnavailable):
    """The PIMS's rate limit could not be waited out within the sync's budget."""

    code = "pims_rate_limited"


class BadRequest(ProviderError):
    """The PIMS refused the request with a 4xx that is neither an auth failure, a 404 nor a
    429: a bug or a refusal on our side, never an outage, and never retried."""

    code = "pims_bad_request"


class NotFound(ProviderError):
    """The PIMS says the item does not exist (e.g. a consultation 404)."""

    code = "not_found"


class UnexpectedPayload(ProviderError):
    """The PIMS answered with something we cannot read."""

    code = "pims_bad_payload"


class BrowserUnavailable(ProviderError):
    """No browser could be leased or launched for a login."""

    code = "pims_unavailable"
    retryable = True


# ---------------------------------------------------------------------------------------------
# What a provider is given


class SessionStore(Protocol):
    """Persists a provider's opaque session state (encrypted by the caller, never logged)."""

    def load(self) -> str | None: ...

    def save(self, state: str, expires_at: datetime | None) -> None: ...

    def clear(self) -> None: ...


class BrowserLease(Protocol):
    """A browser reserved for the holder. ``run`` executes ``job(browser)`` on the pool's own
    event loop (the browser object never leaves it) and returns the job's plain-data result."""

    async def run(self, job: Callable[[Any], Awaitable[T]]) -> T: ...


class BrowserSource(Protocol):
    """Hands out browser leases; the lease is returned when the context manager exits."""

    def lease(self, timeout_s: float = 60.0) -> AbstractAsyncContextManager[BrowserLease]: ...


class RequestObserver(Protocol):
    """Receives one call per PIMS request and login (metrics live outside ``providers/``)."""

    def on_request(self, endpoint: str, outcome: str, seconds: float) -> None: ...

    def on_login(self, outcome: str) -> None: ...


class NullObserver:
    def on_request(self, endpoint: str, outcome: str, seconds: float) -> None:
        return None

    def on_login(self, outcome: str) -> None:
        return None


class MemorySessionStore:
    """A session store that keeps state in memory (shell use, tests)."""

    def __init__(self) -> None:
        self.state: str | None = None
        self.expires_at: datetime | None = None

    def load(self) -> str | None:
        return self.state

    def save(self, state: str, expires_at: datetime | None) -> None:
        self.state, self.expires_at = state, expires_at

    def clear(self) -> None:
        self.state, self.expires_at = None, None


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """Per-clinic settings a provider may need to read its PIMS (stored with the clinic, set with
    ``pims-sync clinic set``). Providers that have no use for one ignore it."""

    #: Status name (lower case) -> normalised status; overrides a provider's own word rules.
    status_map: Mapping[str, AppointmentStatus] = field(default_factory=dict)
    #: Appointment type names (lower case) that are blocks of time, beyond the provider's rules.
    block_types: tuple[str, ...] = ()

    def status_override(self, status_name: str | None) -> AppointmentStatus | None:
        """The clinic's status for this PIMS status name (any case), or None without one."""
        if not status_name or not self.status_map:
            return None
        return self.status_map.get(status_name.strip().lower())

    def is_block_type(self, type_name: str | None) -> bool:
        """Whether the clinic names this appointment type (any case) a block of time."""
        if not type_name:
            return False
        return type_name.strip().lower() in self.block_types


@dataclass
class ProviderContext:
    """Everything a provider instance works with, for one clinic."""

    clinic_id: str
    timezone: ZoneInfo
    base_url: str | None = None
    session_store: SessionStore = field(default_factory=MemorySessionStore)
    browsers: BrowserSource | None = None
    max_concurrency: int = 5
    observer: RequestObserver = field(default_factory=NullObserver)
    settings: ProviderSettings = field(default_factory=ProviderSettings)


# ---------------------------------------------------------------------------------------------
# The interface


class PimsProvider(abc.ABC):
    """One PIMS integration for one clinic.

    Date ranges are clinic-local dates, both ends included. Every method raises a
    :class:`ProviderError` on failure; none returns an empty result to mean "it failed".
    """

    name: ClassVar[str]
    #: True when a login needs a browser from ``ProviderContext.browsers``.
    needs_browser: ClassVar[bool] = False
    #: The fields of this PIMS's login, in the order the CLI shows them.
    credential_fields: ClassVar[tuple[CredentialField, ...]] = ()

    def __init__(self, context: ProviderContext) -> None:
        self.context = context

    @abc.abstractmethod
    async def authenticate(self, credentials: Credentials) -> None:
        """Make the provider ready to call the PIMS: reuse a cached session when there is one,
        otherwise log in. Raises :class:`AuthenticationFailed` (or a subclass)."""

    @abc.abstractmethod
    def is_authenticated(self) -> bool: ...

    @abc.abstractmethod
    async def fetch_schedule_config(self) -> ScheduleConfig: ...

    @abc.abstractmethod
    async def fetch_appointments(self, start: date, end: date) -> list[Appointment]:
        """Every event overlapping the local dates ``start`` … ``end`` (blocks included)."""

    @abc.abstractmethod
    async def fetch_consultation(self, consultation_id: str) -> Consultation:
        """Raises :class:`NotFound` when the PIMS says it does not exist."""

    async def fetch_consultations(
        self,
        consultation_ids: Sequence[str],
        on_result: ConsultationCallback | None = None,
    ) -> dict[str, Consultation | ProviderError]:
        """Every consultation of ``consultation_ids``: each id maps to its consultation or to the
        :class:`ProviderError` that stopped it (:class:`NotFound` when the PIMS says it does not
        exist). One id failing never fails the others. ``on_result`` is called as each one is
        settled, so that progress moves as items finish.

        This default asks for one id at a time, at most ``context.max_concurrency`` at once;
        a PIMS that can answer a batch in one request overrides it.
        """
        gate = asyncio.Semaphore(max(1, self.context.max_concurrency))
        results: dict[str, Consultation | ProviderError] = {}

        async def one(consultation_id: str) -> None:
            async with gate:
                result: Consultation | ProviderError
                try:
                    result = await self.fetch_consultation(consultation_id)
                except ProviderError as error:
                    result = error
            results[consultation_id] = result
            if on_result is not None:
                on_result(consultation_id, result)

        await asyncio.gather(*(one(cid) for cid in dict.fromkeys(consultation_ids)))
        return results

    @abc.abstractmethod
    async def close(self) -> None: ...

    def alternate_case_ids(self, appointment_id: str) -> tuple[str, ...]:
        """External ids that other writers (the browser extension) use for this appointment's
        case; such a case is adopted instead of duplicated."""
        return ()

    async def __aenter__(self) -> PimsProvider:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
