"""ConfigWatcher: polls the database for clinic changes and tells the supervisor.

Every ``CONFIG_POLL_INTERVAL_S`` (and at once on SIGHUP) it reads the active clinics with their
schedule configuration; the supervisor compares change stamps, so only the clinics that changed
are touched.
"""

from __future__ import annotations

import logging
from typing import Any

import pykka

from actors.messages import ApplyConfig, PollNow
from actors.ticker import Ticker
from daemon.store import Store

log = logging.getLogger("pims_sync.actors")


class ConfigWatcher(pykka.ThreadingActor):
    def __init__(self, *, store: Store, supervisor: pykka.ActorRef[Any], interval_s: float) -> None:
        super().__init__()
        self.store = store
        self.supervisor = supervisor
        self.interval_s = interval_s
        self.ticker: Ticker | None = None

    def on_start(self) -> None:
        self.ticker = Ticker(
            self.actor_ref, PollNow(), self.interval_s, name="config-watcher-timer"
        ).start()

    def on_stop(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, PollNow):
            return self.poll()
        raise TypeError(f"ConfigWatcher cannot handle {type(message).__name__}")

    def poll(self) -> dict[str, int]:
        """Load the configuration and apply it; returns what the supervisor changed."""
        try:
            clinics = tuple(self.store.clinics.list(active_only=True))
        except Exception:  # the database may be briefly away; try again next tick
            log.exception("could not read the clinic configuration")
            return {}
        changes: dict[str, int] = self.supervisor.ask(ApplyConfig(clinics), block=True)
        return changes
