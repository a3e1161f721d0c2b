"""Counters the tests and benchmarks read back."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from providers.ezyvet.simulator.faults import ENDPOINTS

EVENTS: tuple[str, ...] = ("tokens_issued", "token_failures", "unauthorized", "rate_limited")


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

    def snapshot(self) -> dict[str, int]:
        """Every endpoint and event is present, zero when nothing happened yet; ``requests`` is
        the total over the endpoints."""
        with self._lock:
            result = {name: self._counts[name] for name in (*sorted(ENDPOINTS), *EVENTS)}
        result["requests"] = sum(result[name] for name in ENDPOINTS)
        return result


def merged(counts: dict[str, int], peaks: dict[str, int], active_tokens: int) -> dict[str, Any]:
    result: dict[str, Any] = dict(counts)
    result["peak_per_window"] = peaks
    result["active_tokens"] = active_tokens
    return result
