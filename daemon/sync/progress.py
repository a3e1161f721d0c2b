"""Progress of a running sync, shared between the service (event loop) and the runner's
heartbeat thread, plus the cancellation check the services call between batches."""

from __future__ import annotations

import threading

from daemon.sync.report import SyncCancelled


class Progress:
    """``total`` and ``processed`` counters; the heartbeat thread reads, the service writes."""

    def __init__(self, cancel: threading.Event | None = None) -> None:
        self._lock = threading.Lock()
        self._total = 0
        self._processed = 0
        self._version = 0
        self.cancel = cancel or threading.Event()

    def set_total(self, total: int) -> None:
        with self._lock:
            self._total = max(0, total)
            self._version += 1

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self._processed += n
            self._version += 1

    def snapshot(self) -> tuple[int, int, int]:
        """``(total, processed, version)``; the version changes with every update."""
        with self._lock:
            return self._total, min(self._processed, self._total), self._version

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def checkpoint(self) -> None:
        """Raise :class:`SyncCancelled` when a stop was asked for (between batches)."""
        if self.cancel.is_set():
            raise SyncCancelled("the sync was stopped before it finished")
