"""The Playwright driver: the Node.js process behind every Playwright call of the pool.

Every browser is launched through the driver and talks to us through it, so when the driver
dies (killed, out of memory) every Playwright call fails at once while ``Browser.is_connected()``
still answers True, and the browsers die with it (their pipes close). Playwright offers no event
for this, so the pool watches the process itself (:meth:`Driver.alive`) and starts a new one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Playwright, async_playwright

from providers.browsers import procfs

log = logging.getLogger("pims_sync.browser")

# The driver's pid is the child that appeared while Playwright started; one start at a time in
# this process keeps that unambiguous when several pools start at once (tests do).
_START_LOCK = threading.Lock()
_DRIVER_ARGUMENT = "run-driver"
# Playwright leaves this error on a future nobody reads when its driver dies; we report the
# death ourselves, so asyncio need not print it as "never retrieved".
_DRIVER_GONE = "Connection closed while reading from the driver"


@dataclass
class Driver:
    playwright: Playwright
    pid: int | None  # None where /proc cannot tell (then only Playwright's own flag is read)

    def alive(self) -> bool:
        return not _connection_closed(self.playwright) and self._process_alive()

    def _process_alive(self) -> bool:
        if self.pid is None:
            return True
        stat = procfs.read_stat(self.pid)
        # A zombie is dead; a pid with another parent was recycled by an unrelated process.
        return stat is not None and stat.state != "Z" and stat.ppid == os.getpid()

    async def stop(self, timeout_s: float) -> None:
        """Stop Playwright (closing whatever browsers are left); kill the driver if it hangs."""
        try:
            await asyncio.wait_for(self.playwright.stop(), timeout_s)
        except Exception as error:
            log.warning("Playwright did not stop", extra={"error": type(error).__name__})
        if self.pid is not None and self._process_alive():
            with suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)


async def start_driver(timeout_s: float) -> Driver:
    """Start Playwright (its driver process) and find that process's pid. A driver that does
    not answer within ``timeout_s`` is killed: a hung start must not hang the pool's repair."""
    with _START_LOCK:
        before = _driver_children()
        try:
            playwright = await asyncio.wait_for(async_playwright().start(), timeout_s)
        except BaseException:
            for stray in _driver_children() - before:
                with suppress(OSError):
                    os.kill(stray, signal.SIGKILL)
            raise
        started = _driver_children() - before
    pid = started.pop() if len(started) == 1 else None
    log.info("Playwright driver started", extra={"pid": pid})
    return Driver(playwright, pid)


def _driver_children() -> set[int]:
    me = os.getpid()
    found = set()
    for pid in procfs.all_pids():
        stat = procfs.read_stat(pid)
        if stat is not None and stat.ppid == me and _DRIVER_ARGUMENT in procfs.cmdline(pid):
            found.add(pid)
    return found


def _connection_closed(playwright: Playwright) -> bool:
    """Playwright's own "the driver went away" flag, where this version keeps it (private, so
    read defensively: a version without it leaves the decision to /proc)."""
    connection: Any = getattr(getattr(playwright, "_impl_obj", None), "_connection", None)
    return getattr(connection, "_closed_error", None) is not None


def quiet_about_the_driver(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """An exception handler for the loop Playwright runs on."""
    if str(context.get("exception")) == _DRIVER_GONE:
        return  # the pool reports and repairs the driver's death itself
    loop.default_exception_handler(context)
