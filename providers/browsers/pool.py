"""A bounded set of Chromium processes, lent out briefly for logins.

Playwright objects belong to the event loop that created them, so the pool runs its own loop on
its own thread and every browser lives and dies there. Callers on any thread or loop take a
lease (an async context manager) and hand it a job, ``job(browser)``; the job runs on the pool's
loop and only its plain-data result comes back. Two leases are two browsers, so two logins run
at the same time.

Browsers are launched on first need, reused across leases, retired after ``max_uses`` leases
(long-lived Chromium grows), closed after ``idle_timeout_s`` without a lease, replaced when they
crash, and all closed — and their process groups killed if anything is left — by
:meth:`BrowserPool.stop`.

A watcher on the pool's loop (the doctor) notices a dead Playwright driver (which takes every
browser with it) and a Chromium that no longer starts, repairs them with backoff, and until then
says so: ``stats()["problem"]``, the observer, and leases that wait (up to their timeout) for the
pool to be back instead of failing at once.

This module is the pool's face and wiring; each part has its own module:

- ``loop_thread``: the pool's thread and event loop, and calls into it from other threads;
- ``leases``: a caller's lease, the wait for a free and working browser, running jobs;
- ``slots``: handing slots out and back, retiring worn and closing idle browsers;
- ``launcher``: the Chromium processes (launch, crash, close, leftovers);
- ``doctor`` (with ``driver``): the Playwright driver's lifecycle and the repair of failures;
- ``health``: whether the pool can serve and who is told (the observer);
- ``state``: what these parts share, and what :meth:`BrowserPool.stats` reads.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from providers.backoff import Backoff
from providers.base import BrowserUnavailable
from providers.browsers import chromium, procfs
from providers.browsers.doctor import Doctor
from providers.browsers.driver import quiet_about_the_driver
from providers.browsers.health import Health, PoolObserver
from providers.browsers.launcher import Launcher
from providers.browsers.leases import Lease, Leases
from providers.browsers.loop_thread import PoolThread
from providers.browsers.slots import Slots
from providers.browsers.state import PoolState

__all__ = ["BrowserPool", "PoolObserver"]

log = logging.getLogger("pims_sync.browser")


class BrowserPool:
    """Thread-safe owner of up to ``size`` Chromium processes (implements ``BrowserSource``)."""

    def __init__(
        self,
        size: int = 2,
        chromium_path: str | None = None,
        max_uses: int = 50,
        *,
        launch_timeout_s: float = 30.0,
        idle_timeout_s: float | None = 300.0,
        watch_interval_s: float = 1.0,
        backoff: Backoff | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("a browser pool needs at least one browser")
        if max_uses < 1:
            raise ValueError("max_uses must be at least 1")
        self.size = size
        self.max_uses = max_uses
        self._chromium_path = chromium_path
        self._launch_timeout_s = launch_timeout_s
        self._idle_timeout_s = idle_timeout_s
        self._start_lock = threading.Lock()
        self._started = threading.Event()
        self._state = PoolState(size)
        self._health = Health(self._state)
        self._thread = PoolThread("browser-pool", quiet_about_the_driver)
        self._launcher = Launcher(self._state, launch_timeout_s)
        self._slots = Slots(self._state, self._launcher, self._thread, max_uses)
        self._doctor = Doctor(
            self._state,
            self._health,
            self._launcher,
            self._slots,
            launch_timeout_s=launch_timeout_s,
            watch_interval_s=watch_interval_s,
            backoff=backoff or Backoff(first_s=0.5, max_s=30.0),
        )
        self._leases = Leases(self._state, self._thread, self._slots, self._doctor, self._health)

    # -- lifecycle (any thread) ------------------------------------------------------------

    @property
    def executable(self) -> str | None:
        """The Chromium binary in use, once :meth:`start` resolved it."""
        return self._launcher.executable

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the pool's thread, its loop and Playwright. Launches no browser. Idempotent."""
        with self._start_lock:
            if self._state.stopping:
                raise BrowserUnavailable("the browser pool was stopped")
            starting = not self._thread.is_open
            if starting:
                self._thread.open()
        if not starting:
            # Another thread is starting the pool (or did): wait for it to finish.
            if not self._started.wait(timeout_s) or self.executable is None:
                raise BrowserUnavailable("the browser pool did not start")
            return
        try:
            self._thread.call(self._start_playwright(), timeout_s)
        except BaseException:
            self.stop()
            raise
        finally:
            self._started.set()

    def warm_up(self, timeout_s: float = 60.0) -> None:
        """Make sure one browser runs (launching it if none does): proves Chromium works."""
        self.start()
        self._thread.call(self._leases.warm_up(timeout_s), timeout_s + self._launch_timeout_s)

    def warm_up_soon(self, timeout_s: float = 60.0) -> None:
        """:meth:`warm_up` without waiting: the outcome shows in :meth:`stats` (``launched``,
        ``problem``), and a failed launch is retried with backoff."""
        self.start()
        self._thread.submit(self._leases.warm_up_quietly(timeout_s))

    def set_observer(self, observer: PoolObserver | None) -> None:
        self._health.observer = observer

    def stop(self, timeout_s: float = 30.0) -> None:
        """Close every browser and Playwright, end the thread; kill whatever survived."""
        with self._start_lock:
            self._state.stopping = True
            if not self._thread.is_open:
                return
        self._thread.stop(timeout_s, close=lambda: self._close(timeout_s))
        self._launcher.kill_leftovers()
        with self._start_lock:
            self._thread.forget()

    def __enter__(self) -> BrowserPool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- leasing (any thread, any loop) ----------------------------------------------------

    def lease(self, timeout_s: float = 60.0) -> AbstractAsyncContextManager[Lease]:
        """Reserve one browser; raises :class:`BrowserUnavailable` after ``timeout_s``."""
        return self._lease(timeout_s)

    @asynccontextmanager
    async def _lease(self, timeout_s: float) -> AsyncIterator[Lease]:
        # Cheap once started. The first lease of a pool nobody started blocks its caller's loop
        # while Playwright starts (about a second): the daemon calls start() at boot instead.
        self.start()
        async with self._leases.lease(timeout_s) as lease:
            yield lease

    # -- observation (any thread) ----------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        state, counts = self._state, self._state.counts
        with state.lock:
            driver = self._doctor.driver
            return {
                "size": self.size,
                "in_use": sum(1 for slot in state.slots if slot.busy),
                "launched": counts.launched,
                "alive": sum(1 for slot in state.slots if slot.browser is not None),
                "pids": state.browser_pids(),
                "retired": counts.retired,
                "reaped": counts.reaped,
                "crashed": counts.crashed,
                "max_uses": self.max_uses,
                "healthy": self._health.problem is None,
                "problem": self._health.problem,
                "driver_pid": None if driver is None else driver.pid,
                "driver_restarts": counts.driver_restarts,
                "outages": counts.outages,
            }

    def pss_bytes(self) -> int:
        """Proportional set size of all our Chromium processes, helpers included."""
        with self._state.lock:
            leaders = self._state.browser_pids()
        return sum(procfs.group_pss_bytes(leader) for leader in leaders)

    # -- on the pool's loop ----------------------------------------------------------------

    async def _start_playwright(self) -> None:
        driver = await self._doctor.start_driver()
        self._launcher.executable = chromium.find_chromium(
            self._chromium_path, driver.playwright.chromium.executable_path
        )
        if self._idle_timeout_s is not None:
            self._thread.spawn(self._slots.reap_idle(self._idle_timeout_s))
        self._thread.spawn(self._doctor.watch())

    def _close(self, timeout_s: float) -> None:
        """From stop(), while the loop runs: end every request and background task, close the
        browsers and Playwright."""
        try:
            self._thread.submit(self._shutdown()).result(timeout_s)
        except Exception as error:
            log.warning("browser pool did not close cleanly", extra={"error": type(error).__name__})

    async def _shutdown(self) -> None:
        await self._thread.cancel_all()
        await asyncio.gather(
            *(self._launcher.close(slot) for slot in self._state.slots), return_exceptions=True
        )
        await self._doctor.stop_driver()
