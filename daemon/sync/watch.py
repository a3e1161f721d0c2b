"""Waiting for a sync's row to change: the one seam between writers and waiters.

A synchronous trigger waits for its sync to end and an SSE stream for its progress to move.
Both subscribe to the sync's id and are woken when its ``schedule_syncs`` row changes, instead
of re-reading the row every few hundred milliseconds. :class:`LocalSyncWatch` is fed by the
repository of this process (``store.syncs.on_change``); a watch fed by the database's own
notifications (PostgreSQL ``LISTEN``/``NOTIFY``) can take its place for changes made by other
processes, with no change to the waiters. Waiters still re-read the row now and then, so a
change nobody announced (another process, a sweeper) is seen late but never missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class Subscription(Protocol):
    async def changed(self, timeout_s: float) -> bool:
        """Wait until the row may have changed since the last call (True), or ``timeout_s``
        passes (False). A change announced while the caller was busy is not lost."""
        ...


class SyncWatch(Protocol):
    def subscribe(self, sync_id: uuid.UUID) -> AbstractContextManager[Subscription]:
        """Subscribe from the event loop that will wait; unsubscribed when the block ends.
        Subscribe *before* reading the row, so a change between the read and the wait
        still wakes the waiter."""
        ...

    def notify(self, sync_id: uuid.UUID) -> None:
        """The row of ``sync_id`` changed (callable from any thread, after the commit)."""
        ...


class _LoopSubscription:
    """One waiter on one event loop; woken from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()

    def wake(self) -> None:
        # A loop that closed under us has nobody waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._event.set)

    async def changed(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self._event.wait(), timeout=max(timeout_s, 0.0))
        except TimeoutError:
            return False
        # Cleared before the caller re-reads the row: a later change sets it again.
        self._event.clear()
        return True


class LocalSyncWatch:
    """Waiters of this process, woken by writers of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[uuid.UUID, set[_LoopSubscription]] = {}

    @contextmanager
    def subscribe(self, sync_id: uuid.UUID) -> Iterator[Subscription]:
        subscription = _LoopSubscription(asyncio.get_running_loop())
        with self._lock:
            self._waiters.setdefault(sync_id, set()).add(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                waiters = self._waiters.get(sync_id)
                if waiters is not None:
                    waiters.discard(subscription)
                    if not waiters:
                        del self._waiters[sync_id]

    def notify(self, sync_id: uuid.UUID) -> None:
        with self._lock:
            waiters = list(self._waiters.get(sync_id, ()))
        for subscription in waiters:
            subscription.wake()

    def waiting(self) -> int:
        """How many subscriptions are open (bounded by the requests in flight)."""
        with self._lock:
            return sum(len(waiters) for waiters in self._waiters.values())
