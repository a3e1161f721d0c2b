"""The Chromium processes in the pool's slots: launching, noticing a crash, closing.

Every browser's process group is remembered (its leader's pid, found through a marker switch
because Playwright does not expose it), so that what a crash or a failed close leaves behind can
be killed, and :meth:`Launcher.kill_leftovers` can make sure no Chromium outlives the pool.
Judging a launch that fails is the doctor's job (``doctor.py``), since the driver may be why.
"""

from __future__ import annotations

import asyncio
import logging

from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError

from providers.base import BrowserUnavailable
from providers.browsers import chromium, procfs
from providers.browsers.driver import Driver
from providers.browsers.state import CLOSE_TIMEOUT_S, PoolState, Slot

log = logging.getLogger("pims_sync.browser")


class Launcher:
    """Used on the pool's loop only, except :meth:`kill_leftovers` (once the loop ended)."""

    def __init__(self, state: PoolState, launch_timeout_s: float) -> None:
        self._state = state
        self._launch_timeout_s = launch_timeout_s
        self.executable: str | None = None  # resolved once the first driver runs
        self._group_ids: set[int] = set()

    @staticmethod
    def running(slot: Slot) -> bool:
        return slot.browser is not None and slot.browser.is_connected()

    async def launch(self, slot: Slot, driver: Driver | None) -> None:
        """Start a browser in ``slot`` through ``driver``; raises Playwright's error when it
        does not start."""
        if driver is None or self.executable is None or self._state.stopping:
            raise BrowserUnavailable("the browser pool is not running")
        marker = chromium.new_marker()
        browser = await driver.playwright.chromium.launch(
            **chromium.launch_options(self.executable, marker, self._launch_timeout_s)
        )
        pid = procfs.find_pid_by_argument(marker)
        browser.on("disconnected", lambda _: self._on_disconnected(slot, browser))
        with self._state.lock:
            slot.browser, slot.pid, slot.uses = browser, pid, 0
            self._state.counts.launched += 1
            if pid is not None:
                self._group_ids.add(pid)
        log.info("launched a browser", extra={"pid": pid, "slot": slot.index})

    def _on_disconnected(self, slot: Slot, browser: Browser) -> None:
        if slot.browser is not browser:
            return  # our own close: close() already detached it
        log.warning("a browser died; it will be replaced", extra={"pid": slot.pid})
        pid = slot.pid
        with self._state.lock:
            slot.browser, slot.pid = None, None
            self._state.counts.crashed += 1
        if pid is not None:
            procfs.kill_group(pid)  # helpers of a killed browser may linger

    async def close(self, slot: Slot) -> None:
        browser, pid = slot.browser, slot.pid
        with self._state.lock:
            slot.browser, slot.pid = None, None
        if browser is not None:
            try:
                await asyncio.wait_for(browser.close(), CLOSE_TIMEOUT_S)
            except (TimeoutError, PlaywrightError) as error:
                log.warning("a browser did not close", extra={"error": type(error).__name__})
        if pid is not None:
            procfs.kill_group(pid)

    def forget_all(self) -> None:
        """The driver is gone and its browsers with it: drop them, kill whatever lingers."""
        state = self._state
        for slot in state.slots:
            with state.lock:
                pid, had = slot.pid, slot.browser is not None
                slot.browser, slot.pid = None, None
                if had:
                    state.counts.crashed += 1
            if pid is not None:
                procfs.kill_group(pid)

    def kill_leftovers(self) -> None:
        """Last resort for a browser whose close failed or timed out: no Chromium outlives us."""
        for group_id in sorted(self._group_ids):
            if procfs.kill_group(group_id):
                log.warning("killed leftover Chromium processes", extra={"pgid": group_id})
