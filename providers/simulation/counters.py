"""Thread-safe request and event counters the tests and benchmarks read back."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable


class Counters:
    def __init__(self) -> None:
        # Handlers count on the server's thread while a test reads on its own.
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def counts(self, names: Iterable[str]) -> dict[str, int]:
        """Every name is present, zero when nothing happened yet."""
        with self._lock:
            return {name: self._counts[name] for name in names}
