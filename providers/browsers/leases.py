"""Lending browsers: a caller's lease, the wait for a free (and working) browser, the jobs.

A lease is asked for on the caller's thread and loop, and granted on the pool's: the caller
waits for a free slot whose browser runs, and, while the pool is under repair, for the repair
(up to its timeout). Jobs run on the pool's loop; only their plain-data result comes back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from concurrent.futures import Future
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeVar

from playwright.async_api import Error as PlaywrightError

from providers.base import BrowserUnavailable
from providers.browsers.doctor import Doctor
from providers.browsers.health import Health
from providers.browsers.loop_thread import PoolThread
from providers.browsers.slots import Slots
from providers.browsers.state import CLOSE_TIMEOUT_S, PoolState, Slot

log = logging.getLogger("pims_sync.browser")

T = TypeVar("T")


class Claim:
    """One caller's request for a browser, shared by both threads.

    If the caller gives up (cancelled) at the very moment the pool grants the browser, exactly
    one side sees the other's move under the lock and returns the browser.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abandoned = False
        self._slot: Slot | None = None

    def grant(self, slot: Slot) -> bool:
        """Pool side: False when the caller is already gone."""
        with self._lock:
            if self._abandoned:
                return False
            self._slot = slot
            return True

    def abandon(self) -> Slot | None:
        """Caller side: the slot granted in the meantime, if any, to be returned."""
        with self._lock:
            self._abandoned = True
            return self._slot


class Lease:
    """The holder's handle on one browser; valid until the ``lease()`` block exits."""

    def __init__(self, leases: Leases, slot: Slot, timeout_s: float) -> None:
        self._leases = leases
        self._slot = slot
        self._timeout_s = timeout_s  # also bounds a wait for a new driver inside run()
        self.returned = False

    async def run(self, job: Callable[[Any], Awaitable[T]]) -> T:
        if self.returned:
            raise RuntimeError("this browser lease was already returned")
        return await self._leases.run(self._slot, job, self._timeout_s)


class Leases:
    def __init__(
        self, state: PoolState, thread: PoolThread, slots: Slots, doctor: Doctor, health: Health
    ) -> None:
        self._state = state
        self._thread = thread
        self._slots = slots
        self._doctor = doctor
        self._health = health

    # -- on the caller's thread and loop ---------------------------------------------------

    @asynccontextmanager
    async def lease(self, timeout_s: float) -> AsyncIterator[Lease]:
        """Reserve one browser on the running pool; raises :class:`BrowserUnavailable` after
        ``timeout_s``."""
        claim = Claim()
        future = self._thread.submit(self._as_request(self._acquire(timeout_s, claim)))
        try:
            slot = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            granted = claim.abandon()
            if granted is not None:
                self._release_soon(granted)
            raise
        lease = Lease(self, slot, timeout_s)
        try:
            yield lease
        finally:
            lease.returned = True
            released = self._release_soon(slot)
            if released is not None and not self._state.stopping:
                # Wait until the pool has taken it back, so that stats() and the next lease
                # see it free; shielded so a cancellation cannot skip the release itself, and
                # bounded because a pool stopping meanwhile never runs the callback.
                with suppress(TimeoutError):
                    await asyncio.wait_for(
                        asyncio.shield(asyncio.wrap_future(released)), CLOSE_TIMEOUT_S
                    )

    async def run(self, slot: Slot, job: Callable[[Any], Awaitable[T]], timeout_s: float) -> T:
        future = self._thread.submit(self._as_request(self._run_job(slot, job, timeout_s)))
        return await asyncio.wrap_future(future)

    def _release_soon(self, slot: Slot) -> Future[None] | None:
        """Hand a slot back from any thread; the future completes once the pool took it."""
        return self._thread.call_soon(lambda: self._slots.give_back(slot))

    # -- on the pool's loop ----------------------------------------------------------------

    async def _as_request(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """A caller's request on the pool's loop: stop() cancels it and the caller learns why."""
        try:
            return await self._thread.serve(coroutine)
        except asyncio.CancelledError:
            if self._state.stopping:
                raise BrowserUnavailable("the browser pool stopped") from None
            raise

    async def warm_up(self, timeout_s: float) -> None:
        slot = await self._acquire(timeout_s, None, count_use=False)
        self._slots.give_back(slot)

    async def warm_up_quietly(self, timeout_s: float) -> None:
        try:
            await self.warm_up(timeout_s)
        except BrowserUnavailable as error:
            if not self._state.stopping:  # a pool being stopped failed nothing: its launch was cut
                log.error("Chromium could not be started: %s", error)

    async def _acquire(
        self, timeout_s: float, claim: Claim | None, *, count_use: bool = True
    ) -> Slot:
        if self._state.stopping:
            raise BrowserUnavailable("the browser pool is stopping")
        self._doctor.notice()
        try:
            async with asyncio.timeout(timeout_s):
                # A pool under repair is usually back within seconds: wait for it.
                await self._health.wait()
                slot = await self._slots.take()
        except TimeoutError:
            if self._health.problem is not None:
                raise BrowserUnavailable(self._health.problem) from None
            raise BrowserUnavailable(
                f"no browser free within {timeout_s:g} s (all {self._state.size} in use)"
            ) from None
        try:
            await self._doctor.ensure_browser(slot)
        except BaseException:
            self._slots.give_back(slot)
            raise
        if count_use:
            slot.uses += 1
        if claim is not None and not claim.grant(slot):
            self._slots.give_back(slot)  # the caller gave up while we launched: nobody will use it
        return slot

    async def _run_job(self, slot: Slot, job: Callable[[Any], Awaitable[T]], timeout_s: float) -> T:
        if not slot.busy:
            raise RuntimeError("this browser lease was already returned")
        doctor = self._doctor
        for attempt in (1, 2):
            await doctor.wait_for_driver(timeout_s)
            await doctor.ensure_browser(slot)  # it may have died since the lease was granted
            browser = slot.browser
            try:
                return await job(browser)
            except Exception as error:
                doctor.notice()
                if doctor.driver_alive():
                    if not isinstance(error, PlaywrightError):
                        raise
                    # Playwright's errors stay on this thread; the holder gets ours.
                    if browser is None or not browser.is_connected():
                        raise BrowserUnavailable("the browser died during the job") from None
                    raise BrowserUnavailable("the browser job failed in Playwright") from None
                # Whatever the job made of it, it failed because the driver died under it:
                # once more on the new driver (a login that never finished is safe to redo).
                if attempt == 2:
                    raise BrowserUnavailable("the Playwright driver died during the job") from None
                log.warning("the Playwright driver died during a browser job; running it again")
        raise AssertionError("unreachable")
