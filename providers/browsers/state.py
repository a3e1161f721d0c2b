"""What the browser pool's parts share: its slots, its counters and whether it is stopping.

All of it is changed only on the pool's own loop, but ``stats()`` and ``pss_bytes()`` read it
from other threads, so every change they read is made under ``lock`` (and they read under it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from playwright.async_api import Browser

# How long closing a browser or the driver, or the pool taking a lease back, may take: a hung
# close must not hang a lease or stop(); what survives is killed instead.
CLOSE_TIMEOUT_S = 10.0


@dataclass
class Slot:
    """One place for a browser."""

    index: int
    browser: Browser | None = None
    pid: int | None = None
    uses: int = 0
    busy: bool = False
    idle_since: float = 0.0  # loop time of the last release


@dataclass
class Counters:
    """Totals since the pool started, as ``stats()`` reports them."""

    launched: int = 0
    retired: int = 0
    reaped: int = 0
    crashed: int = 0
    driver_restarts: int = 0
    outages: int = 0


@dataclass
class PoolState:
    size: int
    slots: list[Slot] = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counters = field(default_factory=Counters)
    # Set once by BrowserPool.stop(); from then on every part refuses new work.
    stopping: bool = False

    def __post_init__(self) -> None:
        self.slots = [Slot(index) for index in range(self.size)]

    def browser_pids(self) -> list[int]:
        """Pids of the running browsers (each its process group's leader); hold ``lock``."""
        return [slot.pid for slot in self.slots if slot.browser is not None and slot.pid]
