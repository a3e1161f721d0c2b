"""BrowserPoolActor: owns the Chromium processes that logins borrow.

The actor decides the pool's lifecycle (started in order, stopped in reverse, warmed up once so
``/ready`` can say Chromium works) and reports its state. Leases themselves go straight to the
thread-safe pool engine (``providers.browsers.pool``): a clinic actor waiting for a free browser
must never block this actor's mailbox, and the browsers never leave the pool's own thread.
"""

from __future__ import annotations

import logging
from typing import Any

import pykka

from daemon.observability import metrics
from providers.base import BrowserSource
from providers.browsers.pool import BrowserPool

log = logging.getLogger("pims_sync.browser")


class BrowserPoolActor(pykka.ThreadingActor):
    def __init__(self, pool: BrowserPool) -> None:
        super().__init__()
        self.pool = pool
        self.warmed = False
        self.warm_error: str | None = None

    def on_start(self) -> None:
        self.pool.start()
        metrics.BROWSER_POOL_SIZE.set(self.pool.size)
        metrics.BROWSER_POOL_IN_USE.set(0)

    def on_stop(self) -> None:
        self.pool.stop()
        metrics.BROWSER_POOL_IN_USE.set(0)
        log.info("browser pool stopped")

    def source(self) -> BrowserSource:
        return self.pool

    def warm_up(self) -> bool:
        """Launch one browser once, proving Chromium is there and starts."""
        try:
            self.pool.warm_up()
        except Exception as exc:
            self.warm_error = f"{type(exc).__name__}: {str(exc)[:200]}"
            log.error("Chromium could not be started: %s", self.warm_error)
            return False
        self.warmed, self.warm_error = True, None
        log.info("browser pool ready (Chromium at %s)", self.pool.executable)
        return True

    def status(self) -> dict[str, Any]:
        stats = self.pool.stats()
        metrics.BROWSER_POOL_IN_USE.set(int(stats.get("in_use", 0)))
        return {**stats, "warmed": self.warmed, "error": self.warm_error}
