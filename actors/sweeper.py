"""Sweeper: once a minute, marks syncs whose heartbeat stopped as ``interrupted`` (contract
§5.1), so a dead or hung run never blocks its clinic; and drops sync rows past retention."""

from __future__ import annotations

import logging
from typing import Any

import pykka

from actors.messages import Sweep
from actors.ticker import Ticker
from daemon.store import Store
from daemon.store.syncs import HEARTBEAT_TIMEOUT

log = logging.getLogger("pims_sync.actors")

SWEEP_INTERVAL_S = 60.0


class Sweeper(pykka.ThreadingActor):
    def __init__(self, *, store: Store, interval_s: float = SWEEP_INTERVAL_S) -> None:
        super().__init__()
        self.store = store
        self.interval_s = interval_s
        self.ticker: Ticker | None = None

    def on_start(self) -> None:
        self.ticker = Ticker(self.actor_ref, Sweep(), self.interval_s, name="sweeper-timer").start()

    def on_stop(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Sweep):
            return self.sweep()
        raise TypeError(f"Sweeper cannot handle {type(message).__name__}")

    def sweep(self) -> int:
        try:
            stale = self.store.syncs.interrupt_stale(
                heartbeat_older_than=HEARTBEAT_TIMEOUT, include_queued=False
            )
            self.store.syncs.purge()
        except Exception:
            log.exception("sweeping stale syncs failed")
            return 0
        if stale:
            log.warning("marked %d sync(s) interrupted: heartbeat lost", len(stale))
        return len(stale)
