"""The IDEXX Neo provider: a browser to log in, plain HTTP for everything else.

A cached session is reused without starting a browser and without asking Neo first; the first
JSON call that finds it dead triggers one fresh login (however many calls found it dead at the
same time), and the call is retried once. A second rejection is :class:`SessionLost`, and so is
every later rejection of that provider's session: a login that did not help once is not tried
again until :meth:`authenticate`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from datetime import date, time
from typing import Any, ClassVar

from providers.base import (
    Appointment,
    AuthenticationFailed,
    BranchPickerShown,
    BrowserUnavailable,
    Consultation,
    CredentialField,
    Credentials,
    NotFound,
    PimsProvider,
    PimsUnavailable,
    ProviderContext,
    ProviderError,
    ScheduleConfig,
    SecondFactorRequired,
    SessionLost,
)
from providers.idexx_neo import payloads
from providers.idexx_neo.client import (
    ClientSettings,
    NeoJsonClient,
    SessionExpired,
    consultation_path,
)
from providers.idexx_neo.login import LoginTimeouts, SessionState, login_job

log = logging.getLogger("pims_sync.auth")

DEFAULT_BASE_URL = "https://us.idexxneo.com"

CALENDAR_PATH = "/appointments/getCalendarEventData"
APPOINTMENT_VIEW_PATH = "/appointments/getAppointmentView"


class EndpointMissing(PimsUnavailable):
    """A listing endpoint answered 404: the PIMS is not where the clinic's base URL says.
    Asking again would get the same answer."""

    retryable = False


@dataclass(frozen=True, slots=True)
class NeoSettings:
    """Timeouts and retry pacing; the defaults are the contract's, tests shorten them."""

    client: ClientSettings = field(default_factory=ClientSettings)
    login: LoginTimeouts = field(default_factory=LoginTimeouts)
    lease_timeout_s: float = 60.0


class IdexxNeoProvider(PimsProvider):
    name: ClassVar[str] = "idexx-neo"
    needs_browser: ClassVar[bool] = True
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField("username", "--username"),
        CredentialField("password", "--password", secret=True),
        # Some IDEXX Neo tenants have no company field on their login page.
        CredentialField("company_id", "--company-id", required=False),
    )

    def __init__(self, context: ProviderContext, settings: NeoSettings | None = None) -> None:
        super().__init__(context)
        self.settings = settings or NeoSettings()
        self.base_url = (context.base_url or DEFAULT_BASE_URL).rstrip("/")
        self._client = NeoJsonClient(
            self.base_url,
            max_concurrency=context.max_concurrency,
            settings=self.settings.client,
            observer=context.observer,
            on_cookies_refreshed=self._save_refreshed_cookies,
        )
        self._credentials: Credentials | None = None
        self._session: SessionState | None = None
        # Bumped by every login: a caller whose request failed under an older generation knows
        # somebody already logged in again and only needs to retry.
        self._generation = 0
        self._login_error: ProviderError | None = None
        self._login_lock = asyncio.Lock()
        # Set when Neo refused the session a re-login had just made: logging in again would not
        # help either, so a session found dead from then on is lost at once (no loop of logins).
        self._relogin_failed = False
        # A session Neo rotated (Set-Cookie on an answer) waiting to be saved; saves run one
        # at a time, off the event loop (see _save_rotated_session).
        self._session_rotated = False
        self._save_lock = asyncio.Lock()

    # -- authentication ------------------------------------------------------------------

    async def authenticate(self, credentials: Credentials) -> None:
        self._credentials = credentials
        self._login_error = None
        self._relogin_failed = False
        cached = self._load_cached_session()
        if cached is not None:
            self._generation += 1
            self._use(cached)
            log.info("reusing the cached IDEXX Neo session", extra=self._log_fields())
            return
        async with self._login_lock:
            await self._log_in()

    def is_authenticated(self) -> bool:
        return self._session is not None

    def _load_cached_session(self) -> SessionState | None:
        text = self.context.session_store.load()
        if not text:
            return None
        state = SessionState.from_json(text)
        if state is None or state.base_url != self.base_url:
            self.context.session_store.clear()  # unreadable, or made for another Neo site
            return None
        return state

    def _use(self, state: SessionState) -> None:
        self._session = state
        self._client.set_cookies(state.cookies)

    async def _log_in(self) -> None:
        """One browser login; the caller holds ``_login_lock``."""
        self._generation += 1
        self._session = None
        self._client.set_cookies([])
        try:
            state = await self._run_login_job()
        except ProviderError as error:
            # Remembered so that calls queued behind this login fail the same way instead of
            # each trying again: repeated wrong passwords get accounts locked.
            self._login_error = error
            raise
        self.context.session_store.save(state.to_json(), state.expires_at())
        self._use(state)
        self._login_error = None

    async def _run_login_job(self) -> SessionState:
        if self._credentials is None:
            raise SessionLost("IDEXX Neo: not authenticated (call authenticate first)")
        browsers = self.context.browsers
        if browsers is None:
            self.context.observer.on_login("no_browser")
            raise BrowserUnavailable("IDEXX Neo needs a browser to log in and none was given")
        job = login_job(self.base_url, self._credentials, self.settings.login)
        try:
            async with browsers.lease(self.settings.lease_timeout_s) as lease:
                state = await lease.run(job)
        except BaseException as error:
            self.context.observer.on_login(_login_outcome(error))
            raise
        self.context.observer.on_login("ok")
        return state

    async def _relogin(self, failed_generation: int, expired: SessionExpired) -> None:
        async with self._login_lock:
            if self._generation == failed_generation:
                if self._relogin_failed:
                    raise SessionLost(f"{expired}; a fresh login did not help earlier") from None
                log.info("IDEXX Neo session expired; logging in again", extra=self._log_fields())
                self.context.session_store.clear()
                await self._log_in()
                return
        # Another call logged in again while this one waited; use its result.
        if self._session is None:
            raise self._failure()

    def _failure(self) -> ProviderError:
        """A fresh copy of the last login's error (one exception object per raise)."""
        error = self._login_error
        if error is None:
            return SessionLost("IDEXX Neo: not authenticated (call authenticate first)")
        return type(error)(str(error))

    def _save_refreshed_cookies(self, cookies: list[dict[str, Any]]) -> None:
        """Called by the client, on the event loop, as an answer rotates the session: it is
        used at once and saved after the request (:meth:`_save_rotated_session`)."""
        if self._session is None:
            return
        self._session = SessionState(self.base_url, cookies, self._session.created_at)
        self._session_rotated = True

    async def _save_rotated_session(self) -> None:
        """Save a session Neo rotated. The write goes to the database: it runs in a thread, so
        the requests in flight on this loop are not held up, and one at a time, so an older
        state never lands after a newer one."""
        if not self._session_rotated:
            return
        async with self._save_lock:
            state = self._session
            if not self._session_rotated or state is None:
                return
            self._session_rotated = False
            store = self.context.session_store
            try:
                await asyncio.to_thread(store.save, state.to_json(), state.expires_at())
            except Exception as error:
                # The session in use is current; only its copy for the next sync is behind.
                # Never fail the request it came with: try again after the next one.
                self._session_rotated = True
                log.warning(
                    "could not save the rotated IDEXX Neo session (%s)",
                    type(error).__name__,
                    extra=self._log_fields(),
                )

    # -- JSON calls ----------------------------------------------------------------------

    async def _get(self, endpoint: str, path: str, params: dict[str, str] | None = None) -> Any:
        for attempt in (1, 2):
            if self._session is None and self._login_lock.locked():
                # Another call is logging in again right now: wait for its outcome rather than
                # failing a request that merely started during the re-login.
                async with self._login_lock:
                    pass
            if self._session is None:
                raise self._failure()  # no new login until authenticate() is called again
            generation = self._generation
            try:
                return await self._client.get_json(endpoint, path, params)
            except SessionExpired as expired:
                if attempt == 2:
                    self._relogin_failed = True
                    raise SessionLost(f"{expired} again after a fresh login") from None
                await self._relogin(generation, expired)
            finally:
                await self._save_rotated_session()
        raise AssertionError("unreachable")

    async def _get_listing(
        self, endpoint: str, path: str, params: dict[str, str] | None = None
    ) -> Any:
        """An endpoint that always exists: its 404 is a fault (the base URL points somewhere
        that is not IDEXX Neo), never "nothing there"."""
        try:
            return await self._get(endpoint, path, params)
        except NotFound:
            raise EndpointMissing(f"IDEXX Neo {endpoint} endpoint not found (HTTP 404)") from None

    async def fetch_appointments(self, start: date, end: date) -> list[Appointment]:
        if end < start:
            raise ValueError("fetch_appointments: end is before start")
        query = {
            "start": payloads.format_wall_time(start, time(0, 0, 0)),
            "end": payloads.format_wall_time(end, time(23, 59, 59)),
        }
        body = await self._get_listing("calendar", CALENDAR_PATH, query)
        return [
            self._with_clinic_settings(a)
            for a in payloads.parse_calendar(body, self.context.timezone)
        ]

    def _with_clinic_settings(self, appointment: Appointment) -> Appointment:
        """The clinic's overrides (``clinic set --status-map/--block-type``) over Neo's own."""
        settings = self.context.settings
        status = settings.status_override(appointment.raw_status)
        block = not appointment.is_block and settings.is_block_type(appointment.type)
        if status is None and not block:
            return appointment
        return replace(
            appointment,
            status=status or appointment.status,
            is_block=appointment.is_block or block,
        )

    async def fetch_consultation(self, consultation_id: str) -> Consultation:
        if not consultation_id.strip():
            raise ValueError("fetch_consultation: empty consultation id")
        body = await self._get("consultation", consultation_path(consultation_id))
        return payloads.parse_consultation(body, consultation_id)

    async def fetch_schedule_config(self) -> ScheduleConfig:
        body = await self._get_listing("appointment_view", APPOINTMENT_VIEW_PATH)
        return payloads.parse_schedule_config(body)

    def alternate_case_ids(self, appointment_id: str) -> tuple[str, ...]:
        return (f"idexx-appt-{appointment_id}",)

    async def close(self) -> None:
        await self._save_rotated_session()
        await self._client.close()

    def _log_fields(self) -> dict[str, Any]:
        return {"clinic_id": self.context.clinic_id, "provider": self.name}


def _login_outcome(error: BaseException) -> str:
    """A short label for metrics; the order matters (the subclasses first)."""
    if isinstance(error, SecondFactorRequired):
        return "second_factor"
    if isinstance(error, BranchPickerShown):
        return "branch_picker"
    if isinstance(error, AuthenticationFailed):
        return "auth_failed"
    if isinstance(error, SessionLost):
        return "session_lost"
    if isinstance(error, BrowserUnavailable):
        return "no_browser"
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    return "unavailable"
