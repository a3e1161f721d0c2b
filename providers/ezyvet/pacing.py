"""Staying inside ezyVet's rate limits: a client-side budget per endpoint and per site.

ezyVet allows about 60 requests a minute per endpoint and 180 per site (``facts.py``). Every
sync of a clinic in this process draws from the same :class:`SitePacer` (see :func:`pacer_for`),
so two syncs of one clinic never add up to more than the site allows. Each pacer keeps the send
times of the last window per endpoint and for the site (a sliding window, which keeps any fixed
window the server may count in under the limit as well).

A 429 pauses every request to the site until ``x-ratelimit-reset`` has passed: the requests
already in flight may meet the same 429, nothing new is sent meanwhile. Syncs run in event loops
of their own threads, so the state is guarded by a thread lock and waiting is done by the caller
(:meth:`SitePacer.reserve` only says how long).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass

from providers.base import RateLimited
from providers.ezyvet import facts


@dataclass(frozen=True, slots=True)
class PacingSettings:
    per_endpoint: int = facts.RATE_LIMIT_PER_ENDPOINT
    per_site: int = facts.RATE_LIMIT_PER_SITE
    #: The limits' window; tests scale a "minute" down to a second or two.
    window_s: float = facts.RATE_WINDOW_S
    #: A request counts against the window a little longer than the window itself, so that
    #: network jitter between our clock and the server's never squeezes one too many in.
    margin_fraction: float = 0.03
    #: How long to pause on a 429 that does not say (no ``x-ratelimit-reset``/``Retry-After``).
    default_pause_s: float | None = None
    #: The most a sync waits for the limits in all before failing with ``RateLimited``.
    max_wait_s: float = facts.MAX_RATE_LIMIT_WAIT_S

    @property
    def span_s(self) -> float:
        return self.window_s * (1.0 + self.margin_fraction)

    @property
    def pause_s(self) -> float:
        return self.window_s if self.default_pause_s is None else self.default_pause_s


class SitePacer:
    """The send budget of one ezyVet site, shared by every sync of it in the process."""

    def __init__(self, settings: PacingSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._site: deque[float] = deque()
        self._endpoints: dict[str, deque[float]] = {}
        self._paused_until = 0.0

    def reserve(self, endpoint: str, now: float | None = None) -> float:
        """Take a send slot now and return 0, or return how long to wait before asking again."""
        now = time.monotonic() if now is None else now
        span = self.settings.span_s
        with self._lock:
            if self._paused_until > now:
                return self._paused_until - now
            sent = self._endpoints.setdefault(endpoint, deque())
            waits = []
            for log, limit in (
                (sent, self.settings.per_endpoint),
                (self._site, self.settings.per_site),
            ):
                while log and log[0] <= now - span:
                    log.popleft()
                if len(log) >= max(1, limit):
                    waits.append(log[0] + span - now)
            if waits:
                return max(max(waits), 0.001)
            sent.append(now)
            self._site.append(now)
            return 0.0

    def pause(self, seconds: float | None, now: float | None = None) -> None:
        """A 429 arrived: nothing is sent to the site for ``seconds`` (or the default pause)."""
        now = time.monotonic() if now is None else now
        wait = self.settings.pause_s if seconds is None else max(0.0, seconds)
        with self._lock:
            self._paused_until = max(self._paused_until, now + wait)


_registry: dict[tuple[str, str, PacingSettings], SitePacer] = {}
_registry_lock = threading.Lock()


def pacer_for(base_url: str, site: str, settings: PacingSettings) -> SitePacer:
    """The process-wide pacer of a site (``site``: the site uid, else the API client's id)."""
    key = (base_url.rstrip("/"), site, settings)
    with _registry_lock:
        pacer = _registry.get(key)
        if pacer is None:
            pacer = _registry[key] = SitePacer(settings)
        return pacer


class WaitBudget:
    """The time one sync has spent waiting for the rate limits (overlapping waits count once).

    Used from the sync's own event loop only.
    """

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self._spent = 0.0
        self._waiting = 0
        self._since = 0.0
        self.waits = 0

    def spent(self) -> float:
        extra = time.monotonic() - self._since if self._waiting else 0.0
        return self._spent + extra

    async def wait(self, seconds: float, why: str) -> None:
        if self.spent() + seconds > self.limit_s:
            raise RateLimited(
                f"ezyVet rate limit: waiting another {seconds:.0f} s ({why}) would exceed the "
                f"sync's budget of {self.limit_s:.0f} s"
            )
        self.waits += 1
        if self._waiting == 0:
            self._since = time.monotonic()
        self._waiting += 1
        try:
            await asyncio.sleep(seconds)
        finally:
            self._waiting -= 1
            if self._waiting == 0:
                self._spent += time.monotonic() - self._since
