"""The Playwright driver's lifecycle, and the pool's repair when the driver or Chromium fails.

When the driver dies it takes every browser with it, and nothing tells us (see ``driver.py``),
so the doctor looks every ``watch_interval_s``, and any path about to use the driver looks too
(:meth:`Doctor.notice`). A launch that fails is judged here as well: through a dead driver it is
the driver's fault; otherwise Chromium no longer starts. Either way the pool reports the problem
(``health.py``) and the doctor repairs it with backoff (a new driver, then one browser to prove
Chromium starts), so that leases wait for the repair instead of failing at once.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from playwright.async_api import Error as PlaywrightError

from providers.backoff import Backoff
from providers.base import BrowserUnavailable
from providers.browsers.driver import Driver, start_driver
from providers.browsers.health import Health
from providers.browsers.launcher import Launcher
from providers.browsers.slots import Slots
from providers.browsers.state import CLOSE_TIMEOUT_S, PoolState, Slot

log = logging.getLogger("pims_sync.browser")


class Doctor:
    """Used on the pool's loop only (``stats()`` reads ``driver`` for its pid)."""

    def __init__(
        self,
        state: PoolState,
        health: Health,
        launcher: Launcher,
        slots: Slots,
        *,
        launch_timeout_s: float,
        watch_interval_s: float,
        backoff: Backoff,
    ) -> None:
        self._state = state
        self._health = health
        self._launcher = launcher
        self._slots = slots
        self._launch_timeout_s = launch_timeout_s
        self._watch_interval_s = watch_interval_s
        self._backoff = backoff
        self.driver: Driver | None = None
        # Asks the doctor to look now. Made off the pool's loop: it binds to the loop that
        # first waits on it, the pool's.
        self._wake = asyncio.Event()

    # -- the driver's lifecycle ------------------------------------------------------------

    async def start_driver(self) -> Driver:
        self.driver = await start_driver(self._launch_timeout_s)
        return self.driver

    async def stop_driver(self) -> None:
        if self.driver is not None:
            await self.driver.stop(CLOSE_TIMEOUT_S)
            self.driver = None

    def driver_alive(self) -> bool:
        return self.driver is not None and self.driver.alive()

    async def wait_for_driver(self, timeout_s: float) -> None:
        """Return once the driver runs; a dead one is being replaced, so wait (bounded)."""
        try:
            async with asyncio.timeout(timeout_s):
                while not self.driver_alive():
                    if self._state.stopping:
                        raise BrowserUnavailable("the browser pool is stopping")
                    self.notice()  # makes Health wait until the doctor has a new driver
                    await self._health.wait()
        except TimeoutError:
            raise BrowserUnavailable(self._health.problem or "the Playwright driver died") from None

    # -- noticing and judging --------------------------------------------------------------

    def notice(self) -> None:
        """Cheap check on any path that is about to use the driver: a dead one is reported and
        repaired now rather than at the doctor's next round."""
        if self._health.problem is None and not self.driver_alive() and not self._state.stopping:
            self._health.set_problem("the Playwright driver died; starting a new one")
            self.wake()

    def wake(self) -> None:
        self._wake.set()

    async def ensure_browser(self, slot: Slot) -> None:
        """Make sure ``slot`` has a running browser, launching one if need be; a launch that
        fails raises :class:`BrowserUnavailable` saying whether the driver or Chromium broke."""
        if self._launcher.running(slot):
            return
        if slot.browser is not None:
            await self._launcher.close(slot)
        try:
            # The driver is read only now: a repair may have replaced it during the close.
            await self._launcher.launch(slot, self.driver)
        except PlaywrightError as error:
            self.notice()
            if not self.driver_alive():
                raise BrowserUnavailable("the Playwright driver died; starting a new one") from None
            first_line = (error.message or "").strip().splitlines()[:1]
            problem = (
                f"Chromium failed to start: {first_line[0][:200] if first_line else 'no reason'}"
            )
            self._health.set_problem(problem)
            self.wake()
            raise BrowserUnavailable(problem) from None

    # -- repairing -------------------------------------------------------------------------

    async def watch(self) -> None:
        """Watch the driver every ``watch_interval_s``; while something is broken, repair it
        with backoff, and keep ``problem`` saying what broke and how the repair goes."""
        failures = 0
        while True:
            if failures == 0:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._watch_interval_s)
            else:
                await asyncio.sleep(self._backoff.delay(failures))
            self._wake.clear()
            if self._state.stopping:
                return
            if self._health.problem is None and self.driver_alive():
                continue
            self.notice()
            try:
                await self._repair()
            except Exception as error:
                failures += 1
                detail = str(error)[:200] or type(error).__name__
                self._health.set_problem(
                    f"{self._health.cause} ({failures} attempt(s) failed so far, last: {detail})"
                )
                log.warning(
                    "browser pool repair failed; retrying with backoff",
                    extra={"attempt": failures, "error": detail},
                )
                continue
            failures = 0
            self._health.set_healthy()

    async def _repair(self) -> None:
        if not self.driver_alive():
            self._launcher.forget_all()
            old, self.driver = self.driver, None
            if old is not None:
                await old.stop(CLOSE_TIMEOUT_S)
            self.driver = await start_driver(self._launch_timeout_s)
            self._health.driver_restarted()
        await self._prove_chromium()

    async def _prove_chromium(self) -> None:
        """Launch one browser unless one runs: the pool is healthy only once Chromium starts."""
        if any(self._launcher.running(slot) for slot in self._state.slots):
            return
        if self._slots.all_taken():
            return  # every slot is leased: the holders' own launches will tell
        slot = await self._slots.take()
        try:
            await self.ensure_browser(slot)
        finally:
            self._slots.give_back(slot)
