"""BrowserPoolActor: owns the Chromium processes that logins borrow.

The actor decides the pool's lifecycle and reports its state. The pool starts only once a clinic
whose provider logs in through a browser is served (``ClinicServed``): a daemon whose clinics
all use API providers never runs Chromium, and its ``/ready`` does not depend on one. Leases go
straight to the thread-safe pool engine (``providers.browsers.pool``): a clinic actor waiting
for a free browser must never block this actor's mailbox, and the browsers never leave the
pool's own thread. The pool repairs a dead Playwright driver or Chromium itself; this actor
turns what it reports into metrics and the ``/ready`` check.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import pykka

from actors.messages import ClinicServed, PoolStatus
from daemon.observability import metrics
from providers.browsers.pool import BrowserPool
from providers.registry import UnknownProvider, provider_class

log = logging.getLogger("pims_sync.browser")

NOT_NEEDED = "not needed: no active clinic logs in through a browser"


class _PoolMetrics:
    """The pool's health in metrics; called on the pool's thread (prometheus is thread-safe)."""

    def on_health(self, ok: bool, problem: str | None) -> None:
        metrics.BROWSER_POOL_UP.set(1 if ok else 0)

    def on_driver_restart(self) -> None:
        metrics.ACTOR_RESTARTS_TOTAL.labels(actor="browser_driver").inc()


class BrowserPoolActor(pykka.ThreadingActor):
    def __init__(
        self, pool: BrowserPool, *, is_served: Callable[[uuid.UUID], bool] | None = None
    ) -> None:
        super().__init__()
        self.pool = pool
        # Whether a clinic is still served (deactivated ones stop needing browsers).
        self.is_served = is_served or (lambda _clinic_id: True)
        self.browser_clinics: set[uuid.UUID] = set()
        self.started = False
        self.start_error: str | None = None

    def on_start(self) -> None:
        metrics.BROWSER_POOL_SIZE.set(self.pool.size)
        metrics.BROWSER_POOL_IN_USE.set(0)
        metrics.BROWSER_POOL_UP.set(1)  # nothing needs a browser yet
        self.pool.set_observer(_PoolMetrics())

    def on_stop(self) -> None:
        self.pool.stop()
        metrics.BROWSER_POOL_IN_USE.set(0)
        log.info("browser pool stopped")

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, ClinicServed):
            return self.clinic_served(message.clinic_id, message.provider)
        if isinstance(message, PoolStatus):
            return self.status()
        raise TypeError(f"BrowserPoolActor cannot handle {type(message).__name__}")

    def clinic_served(self, clinic_id: uuid.UUID, provider: str) -> None:
        """A clinic actor started: if its provider logs in through a browser, the pool runs."""
        try:
            needs_browser = provider_class(provider).needs_browser
        except UnknownProvider:
            return  # the clinic actor reports an unknown provider on its first sync
        if not needs_browser:
            return
        self.browser_clinics.add(clinic_id)
        if not self.started:
            self._start_pool()

    def _start_pool(self) -> None:
        """Start Playwright and launch one browser in the background, proving Chromium works;
        a launch that fails is retried by the pool with backoff (and shown meanwhile)."""
        self.started = True
        try:
            self.pool.start()
            self.pool.warm_up_soon()
        except Exception as exc:  # a bad CHROMIUM_PATH: nothing will fix it but the operator
            self.start_error = f"{type(exc).__name__}: {str(exc)[:200]}"
            metrics.BROWSER_POOL_UP.set(0)
            log.error("the browser pool could not start: %s", self.start_error)
            return
        log.info("browser pool started (Chromium at %s)", self.pool.executable)

    def needed(self) -> bool:
        return any(self.is_served(clinic_id) for clinic_id in self.browser_clinics)

    def status(self) -> dict[str, Any]:
        """The pool for ``/ready``: ``warmed`` is the check's outcome, ``error`` (or
        ``message``) its explanation."""
        stats = self.pool.stats()
        metrics.BROWSER_POOL_IN_USE.set(int(stats.get("in_use", 0)))
        if not self.needed():
            metrics.BROWSER_POOL_UP.set(1)
            return {**stats, "needed": False, "warmed": True, "error": None, "message": NOT_NEEDED}
        if self.start_error is not None:
            return {**stats, "needed": True, "warmed": False, "error": self.start_error}
        problem = stats.get("problem")
        if problem is not None:
            return {**stats, "needed": True, "warmed": False, "error": f"browser pool: {problem}"}
        if not stats.get("launched"):
            return {**stats, "needed": True, "warmed": False, "error": "Chromium not started yet"}
        return {**stats, "needed": True, "warmed": True, "error": None}
