"""Whether the browser pool can serve leases, why not, and who is told.

One outage is one stretch of "cannot serve", however its description changes while the repair
goes on: it is counted, logged and timed once, from its first problem (its cause) until the
pool serves again. Leases wait on :meth:`Health.wait` rather than failing at once, since a pool
under repair is usually back within seconds.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from providers.browsers.state import PoolState

log = logging.getLogger("pims_sync.browser")


class PoolObserver(Protocol):
    """Told about the pool's health (metrics live outside ``providers/``); called on the
    pool's own thread, so it must be quick and thread-safe."""

    def on_health(self, ok: bool, problem: str | None) -> None: ...

    def on_driver_restart(self) -> None: ...


class Health:
    """Changed only on the pool's loop; ``problem`` is read by ``stats()`` under the lock."""

    def __init__(self, state: PoolState) -> None:
        self._state = state
        self.problem: str | None = None  # why the pool cannot serve; None when it can
        self.cause: str | None = None  # the problem that began the current outage
        self._down_since = 0.0  # loop time the current outage began
        self.observer: PoolObserver | None = None
        # Set while the pool can serve leases. Made here, off the pool's loop: since Python 3.10
        # an asyncio primitive binds to a loop only when first waited on, which is the pool's.
        self._healthy = asyncio.Event()
        self._healthy.set()

    async def wait(self) -> None:
        """Return once the pool can serve (at once when it can)."""
        await self._healthy.wait()

    def set_problem(self, problem: str) -> None:
        with self._state.lock:
            previous, self.problem = self.problem, problem
            if previous is None:
                self._state.counts.outages += 1
                self.cause = problem
                self._down_since = asyncio.get_running_loop().time()
        self._healthy.clear()
        if previous is None:
            log.warning("browser pool cannot serve logins: %s", problem)
        if problem != previous and self.observer is not None:
            self.observer.on_health(False, problem)

    def set_healthy(self) -> None:
        with self._state.lock:
            previous, self.problem = self.problem, None
        self._healthy.set()
        if previous is not None:
            down_s = asyncio.get_running_loop().time() - self._down_since
            log.info(
                "browser pool serving logins again after %.1f s",
                down_s,
                extra={"cause": self.cause, "down_s": round(down_s, 1)},
            )
            if self.observer is not None:
                self.observer.on_health(True, None)

    def driver_restarted(self) -> None:
        with self._state.lock:
            self._state.counts.driver_restarts += 1
        if self.observer is not None:
            self.observer.on_driver_restart()
