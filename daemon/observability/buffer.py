"""The bounded queue between the threads that log and the thread that ships.

Putting never waits for the shipper (a few microseconds under a lock). When the queue is full
the oldest events go first: during an outage the newest lines, the ones that explain what is
happening now, are the ones that survive. Every dropped event is reported to ``on_drop``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence


class DropOldestBuffer:
    """A FIFO of encoded events with a fixed capacity and batch-or-linger taking."""

    def __init__(self, capacity: int, on_drop: Callable[[int], None]) -> None:
        if capacity < 1:
            raise ValueError("buffer capacity must be at least 1")
        self.capacity = capacity
        self._on_drop = on_drop
        self._items: deque[str] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._closed = False
        # Monotonic time from which the oldest waiting event counts as due; None when empty.
        self._due_from: float | None = None

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def put(self, item: str) -> None:
        dropped = 0
        with self._cond:
            if len(self._items) >= self.capacity:
                self._items.popleft()
                dropped = 1
            self._items.append(item)
            if self._due_from is None:
                self._due_from = time.monotonic()
                self._cond.notify()  # the shipper starts its linger clock now
        if dropped:
            self._on_drop(dropped)

    def put_back(self, items: Sequence[str]) -> None:
        """Return a batch that could not be sent to the front, ready to go at once.

        Those events are older than anything queued, so when space is short the oldest of
        them are the ones dropped.
        """
        with self._cond:
            room = max(0, self.capacity - len(self._items))
            kept = list(items[len(items) - room :]) if room < len(items) else list(items)
            self._items.extendleft(reversed(kept))
            if self._items:
                self._due_from = float("-inf")
            self._cond.notify()
        if len(kept) < len(items):
            self._on_drop(len(items) - len(kept))

    def take(self, max_items: int, linger_s: float) -> list[str]:
        """Wait for ``max_items`` events, or for the oldest to have waited ``linger_s``.

        Returns at once with what there is after :meth:`close` or :meth:`hurry`; an empty
        list only after :meth:`close` with nothing left.
        """
        with self._cond:
            while not self._closed:
                if len(self._items) >= max_items:
                    break
                if self._due_from is None:
                    self._cond.wait()
                    continue
                remaining = self._due_from + linger_s - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            batch = [self._items.popleft() for _ in range(min(max_items, len(self._items)))]
            # What is left was queued before this batch went out: it is due at the next take.
            self._due_from = float("-inf") if self._items else None
            return batch

    def hurry(self) -> None:
        """Make whatever is queued due now (``Handler.flush``)."""
        with self._cond:
            if self._items:
                self._due_from = float("-inf")
                self._cond.notify()

    def close(self) -> None:
        """Stop lingering: from now on :meth:`take` never waits."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def discard_all(self) -> int:
        """Empty the queue (the shipper gave up at shutdown); returns how many were dropped."""
        with self._cond:
            count = len(self._items)
            self._items.clear()
            self._due_from = None
        if count:
            self._on_drop(count)
        return count
