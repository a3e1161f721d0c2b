"""A small thread that keeps a running sync's row alive: progress at most once a second, the
heartbeat at least every few seconds (contract §5.1: a row silent for 2 minutes is declared
dead). It runs beside the sync's event loop, so a long PIMS call or a slow write never makes
the row look dead."""

from __future__ import annotations

import logging
import threading
import time
import uuid

from daemon.observability.context import bind_context
from daemon.store.syncs import SyncRunRepository
from daemon.sync.progress import Progress

log = logging.getLogger("pims_sync.store")

PROGRESS_INTERVAL_S = 1.0
HEARTBEAT_INTERVAL_S = 5.0


class Heartbeat:
    def __init__(
        self,
        syncs: SyncRunRepository,
        sync_id: uuid.UUID,
        progress: Progress,
        *,
        progress_interval_s: float = PROGRESS_INTERVAL_S,
        heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S,
    ) -> None:
        self._syncs = syncs
        self._sync_id = sync_id
        self._progress = progress
        self._progress_interval_s = progress_interval_s
        self._heartbeat_interval_s = heartbeat_interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=bind_context(self._loop), name=f"heartbeat-{sync_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def __enter__(self) -> Heartbeat:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        written_version = 0
        last_progress = last_write = time.monotonic()
        tick = min(self._progress_interval_s, self._heartbeat_interval_s)
        while not self._stop.wait(tick):
            total, processed, version = self._progress.snapshot()
            now = time.monotonic()
            try:
                if version != written_version and now - last_progress >= self._progress_interval_s:
                    self._syncs.progress(self._sync_id, total=total, processed=processed)
                    written_version, last_progress, last_write = version, now, now
                elif now - last_write >= self._heartbeat_interval_s:
                    self._syncs.heartbeat(self._sync_id)
                    last_write = now
            except Exception as error:  # a database hiccup must not end the sync
                log.warning("could not record sync progress", extra={"error": type(error).__name__})
