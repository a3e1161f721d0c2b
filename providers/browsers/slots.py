"""Handing the pool's slots out and taking them back.

A semaphore counts the free slots, so at most ``size`` browsers are ever lent or being closed.
A slot taken back may first have its browser retired (after ``max_uses`` leases: a long-lived
Chromium grows), and a browser nobody took for a while is closed (with sessions cached, most
syncs need no browser, and an idle Chromium still holds a few hundred MiB). Both keep the slot
busy while they close its browser, so the pool never runs more than ``size`` processes.
"""

from __future__ import annotations

import asyncio
import logging

from providers.browsers.launcher import Launcher
from providers.browsers.loop_thread import PoolThread
from providers.browsers.state import PoolState, Slot

log = logging.getLogger("pims_sync.browser")


class Slots:
    """Used on the pool's loop only."""

    def __init__(
        self, state: PoolState, launcher: Launcher, thread: PoolThread, max_uses: int
    ) -> None:
        self._state = state
        self._launcher = launcher
        self._thread = thread
        self._max_uses = max_uses
        # Made off the pool's loop: it binds to a loop only once a take() has to wait.
        self._free = asyncio.Semaphore(state.size)

    def all_taken(self) -> bool:
        """Every slot is busy (a taker would wait)."""
        return self._free.locked()

    async def take(self) -> Slot:
        """Wait for a free slot and mark it busy; prefer one with a running browser."""
        await self._free.acquire()
        # The semaphore counts free slots, so one exists.
        slot = min(
            (s for s in self._state.slots if not s.busy),
            key=lambda s: (s.browser is None, s.index),
        )
        with self._state.lock:
            slot.busy = True
        return slot

    def give_back(self, slot: Slot) -> None:
        if not slot.busy:
            return
        if slot.browser is not None and slot.uses >= self._max_uses and not self._state.stopping:
            # Stays busy until closed, so the pool never runs more than `size` processes.
            self._thread.spawn(self._retire(slot))
            return
        with self._state.lock:
            slot.busy = False
            slot.idle_since = asyncio.get_running_loop().time()
        self._free.release()

    async def _retire(self, slot: Slot) -> None:
        log.info("recycling a browser after its last lease", extra={"uses": slot.uses})
        await self._launcher.close(slot)
        with self._state.lock:
            self._state.counts.retired += 1
        self.give_back(slot)

    async def reap_idle(self, idle_timeout_s: float) -> None:
        """Close browsers nobody leased for ``idle_timeout_s``; runs until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(30.0, max(0.05, idle_timeout_s / 4)))
            for slot in self._state.slots:
                idle = loop.time() - slot.idle_since
                if slot.busy or slot.browser is None or idle < idle_timeout_s:
                    continue
                if self._free.locked():
                    break  # someone is waiting for a browser: let them have this one
                await self._free.acquire()  # free, so this returns at once
                with self._state.lock:
                    slot.busy = True
                    self._state.counts.reaped += 1
                try:
                    log.info("closing an idle browser", extra={"idle_s": round(idle)})
                    await self._launcher.close(slot)
                finally:
                    self.give_back(slot)
