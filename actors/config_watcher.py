"""ConfigWatcher: polls the database for clinic changes and tells the supervisor.

Every ``CONFIG_POLL_INTERVAL_S`` (and at once on SIGHUP, or when this replica's clinic leases
change) it reads the active clinics with their schedule configuration; the supervisor compares
change stamps, so only the clinics that changed are touched. A read that fails (the database
briefly away) is tried again with backoff, not only at the next interval: a reload asked for
once — a clinic lease taken over, a SIGHUP — must not wait minutes for it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pykka

from actors.messages import ApplyConfig, PollNow
from actors.ticker import Ticker
from daemon.store import Store
from providers.backoff import Backoff

log = logging.getLogger("pims_sync.actors")

#: After a failed read: 2 s, 4 s, 8 s … up to a minute (never later than the next interval).
RETRY = Backoff(first_s=2.0, max_s=60.0)


class ConfigWatcher(pykka.ThreadingActor):
    def __init__(self, *, store: Store, supervisor: pykka.ActorRef[Any], interval_s: float) -> None:
        super().__init__()
        self.store = store
        self.supervisor = supervisor
        self.interval_s = interval_s
        self.ticker: Ticker | None = None
        self.failed_reads = 0
        self._retry: threading.Timer | None = None

    def on_start(self) -> None:
        self.ticker = Ticker(
            self.actor_ref, PollNow(), self.interval_s, name="config-watcher-timer"
        ).start()

    def on_stop(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()
        if self._retry is not None:
            self._retry.cancel()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, PollNow):
            return self.poll()
        raise TypeError(f"ConfigWatcher cannot handle {type(message).__name__}")

    def poll(self) -> dict[str, int]:
        """Load the configuration and apply it; returns what the supervisor changed."""
        try:
            clinics = tuple(self.store.clinics.list(active_only=True))
        except Exception as error:  # the database may be briefly away
            self.failed_reads += 1
            delay = min(RETRY.delay(self.failed_reads), self.interval_s)
            log.warning(
                "could not read the clinic configuration (%s); trying again in %.0f s",
                type(error).__name__,
                delay,
            )
            self._retry_in(delay)
            return {}
        self.failed_reads = 0
        changes: dict[str, int] = self.supervisor.ask(ApplyConfig(clinics), block=True)
        return changes

    def _retry_in(self, delay_s: float) -> None:
        if self._retry is not None:
            self._retry.cancel()  # one retry pending is enough: this one replaces it
        ref = self.actor_ref

        def poll_again() -> None:
            if ref.is_alive():
                ref.tell(PollNow())

        self._retry = threading.Timer(delay_s, poll_again)
        self._retry.daemon = True
        self._retry.name = "config-watcher-retry"
        self._retry.start()
