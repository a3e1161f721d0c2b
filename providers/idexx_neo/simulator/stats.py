"""Request counters the tests and benchmarks read back."""

from __future__ import annotations

import threading
from collections import Counter

from providers.idexx_neo.simulator.faults import ENDPOINTS

EVENTS: tuple[str, ...] = (
    "logins",
    "login_failures",
    "second_factor_prompts",
    "branch_prompts",
    "sessions_expired",
)


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def snapshot(self, active_sessions: int) -> dict[str, int]:
        """Every endpoint and event name is present, zero when nothing happened yet."""
        with self._lock:
            result = {name: self._counts[name] for name in (*sorted(ENDPOINTS), *EVENTS)}
        result["active_sessions"] = active_sessions
        return result
