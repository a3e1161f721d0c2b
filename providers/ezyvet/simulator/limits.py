"""Rate limits as ezyVet applies them: fixed windows per endpoint and per site.

A request over either limit is refused (429) and does not count. The limiter also keeps the
most requests any endpoint (and the site) served within one window, so tests and benchmarks can
check that a client stayed under the limit without a single 429.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass
class _Window:
    started: float = -math.inf
    count: int = 0


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reset_s: float
    remaining: int


class RateLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._peaks: dict[str, int] = {}

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
            self._peaks.clear()

    def check(self, endpoint: str, per_endpoint: int, per_site: int, window_s: float) -> Verdict:
        now = time.monotonic()
        with self._lock:
            pairs = []
            for key, limit in ((endpoint, per_endpoint), ("*site*", per_site)):
                window = self._windows.setdefault(key, _Window())
                if now - window.started >= window_s:
                    window.started, window.count = now, 0
                pairs.append((key, window, limit))
            over = [(w, limit) for _, w, limit in pairs if w.count >= limit]
            if over:
                reset = max(w.started + window_s - now for w, _ in over)
                return Verdict(False, max(reset, 0.0), 0)
            for key, window, _ in pairs:
                window.count += 1
                self._peaks[key] = max(self._peaks.get(key, 0), window.count)
            remaining = min(limit - w.count for _, w, limit in pairs)
            reset = pairs[0][1].started + window_s - now
            return Verdict(True, max(reset, 0.0), remaining)

    def peaks(self) -> dict[str, int]:
        """The most requests served in one window, per endpoint (``site`` for the whole site)."""
        with self._lock:
            return {("site" if k == "*site*" else k): v for k, v in sorted(self._peaks.items())}


def reset_header(seconds: float) -> str:
    """Whole seconds, rounded up (a client that waits this long finds the window reset)."""
    return str(max(1, math.ceil(seconds)))
