"""Trigger requests per key and minute (``API_RATE_LIMIT_PER_MIN``, contract §3.1).

A sliding log: a key may make ``limit`` requests in any window of 60 seconds, never a burst of
twice that across a window boundary (which a fixed window or a token bucket would allow).
Memory is bounded by ``limit`` timestamps per key that was used within the last minute.

Used only from the server's event loop thread, so it needs no lock.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable

WINDOW_S = 60.0


class RateLimiter:
    def __init__(
        self,
        limit: int,
        *,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._hits: dict[Hashable, deque[float]] = {}
        self._next_sweep = clock() + window_s

    def hit(self, key: Hashable) -> int | None:
        """Count one request; None when allowed, else the whole seconds to wait
        (``Retry-After``) until the oldest counted request leaves the window."""
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        hits = self._hits.setdefault(key, deque())
        self._expire(hits, now)
        if len(hits) >= self.limit:
            return max(1, math.ceil(hits[0] + self.window_s - now))
        hits.append(now)
        return None

    def _expire(self, hits: deque[float], now: float) -> None:
        cutoff = now - self.window_s
        while hits and hits[0] <= cutoff:
            hits.popleft()

    def _sweep(self, now: float) -> None:
        """Drop keys idle for a whole window (once a window, so a hit stays O(1))."""
        for key in list(self._hits):
            self._expire(self._hits[key], now)
            if not self._hits[key]:
                del self._hits[key]
        self._next_sweep = now + self.window_s
