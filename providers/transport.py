"""HTTP to a PIMS, as every client does it: the session, the retries, what a failed attempt
means, and how each attempt is counted.

Every PIMS client sends its requests with aiohttp and sorts what can go wrong the same way. A
timeout or a broken connection may go through on another attempt (:class:`Transient`); a failure
the client deals with itself — retried, waited out, a token renewed — stays an
:class:`AttemptFailed` that never reaches the caller; everything else is a provider error of
:mod:`providers.base`. Each attempt is reported once, with the outcome label of
``pims_sync_pims_requests_total`` (docs/observability.md) that :func:`outcome_of` gives it.
What each status code means stays with its client: the PIMSes do not agree on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import aiohttp

from providers.backoff import Backoff
from providers.base import (
    AuthenticationFailed,
    BadRequest,
    NotFound,
    PimsUnavailable,
    RequestObserver,
    SessionLost,
    UnexpectedPayload,
)

log = logging.getLogger("pims_sync.pims")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often a :class:`Transient` failure is retried, and how long to wait between tries
    (:class:`Backoff`): a ``Retry-After`` is honoured up to ``max_delay_s``, which bounds a
    sync's waiting."""

    retries: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    jitter: float = 0.3

    def delay(self, retry_number: int, retry_after_s: float | None = None) -> float:
        backoff = Backoff(self.base_delay_s, self.max_delay_s, self.jitter)
        return backoff.delay(retry_number, retry_after_s)


class AttemptFailed(Exception):
    """One attempt failed in a way its client handles itself; ``outcome`` is the metrics label
    and ``reason`` says what happened without naming anything sent."""

    def __init__(self, outcome: str, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


class Transient(AttemptFailed):
    """A later attempt may not fail the same way; ``retry_after_s`` is the server's own wait."""

    def __init__(self, outcome: str, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(outcome, reason)
        self.retry_after_s = retry_after_s


@contextmanager
def wire_failures() -> Iterator[None]:
    """Inside the block, a timeout or a broken connection becomes a :class:`Transient`.

    Only the exception's type is kept in the reason: aiohttp's messages name hosts and URLs.
    """
    try:
        yield
    except TimeoutError:
        raise Transient("timeout", "timeout") from None
    except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as error:
        raise Transient("connection_error", f"connection error ({type(error).__name__})") from None


def outcome_of(error: BaseException) -> str:
    """The metrics outcome of an attempt that ended in ``error``."""
    if isinstance(error, AttemptFailed):
        return error.outcome
    if isinstance(error, SessionLost):
        # An attempt raises it (IDEXX Neo's SessionExpired) when the PIMS answers as if logged
        # out; whether a fresh login helps is for the provider to find out.
        return "session_expired"
    if isinstance(error, AuthenticationFailed):
        return "auth_failed"
    if isinstance(error, NotFound):
        return "not_found"
    if isinstance(error, BadRequest):
        # Its own label: a refused request is not a PIMS failure for the outage alerts.
        return "bad_request"
    if isinstance(error, UnexpectedPayload):
        return "bad_payload"
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    return "error"


async def observed(observer: RequestObserver, endpoint: str, attempt: Awaitable[T]) -> T:
    """Await one attempt and report it to ``observer``: its outcome and how long it took."""
    started = time.monotonic()
    outcome = "ok"
    try:
        return await attempt
    except BaseException as error:
        outcome = outcome_of(error)
        raise
    finally:
        observer.on_request(endpoint, outcome, time.monotonic() - started)


async def with_retries(
    pims: str, endpoint: str, policy: RetryPolicy, attempt: Callable[[], Awaitable[T]]
) -> T:
    """Await a fresh ``attempt()`` until one succeeds or fails with anything but a
    :class:`Transient`; after ``policy.retries`` retries a transient failure is
    :class:`PimsUnavailable`. ``pims`` names the PIMS in the error and the log."""
    retry_number = 0
    while True:
        try:
            return await attempt()
        except Transient as error:
            if retry_number >= policy.retries:
                raise PimsUnavailable(
                    f"{pims} {endpoint} failed after {retry_number + 1} attempts: {error.reason}"
                ) from None
            retry_number += 1
            log.info(
                "%s request failed, retrying",
                pims,
                extra={"endpoint": endpoint, "reason": error.reason, "retry": retry_number},
            )
            await asyncio.sleep(policy.delay(retry_number, error.retry_after_s))


class LazySession:
    """A client's aiohttp session: opened on first use, in the event loop that uses it, and
    opened again after :meth:`close`. Every request gets the client's timeouts, and there is
    no cookie jar (a client that needs cookies sends them by hand, and none keeps what a
    server sets on its own)."""

    def __init__(self, connect_timeout_s: float, total_timeout_s: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=total_timeout_s, connect=connect_timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
