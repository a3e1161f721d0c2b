"""A configuration read that fails (the database away for a moment) is tried again with
backoff, not only at the next interval: a reload asked for once — a clinic lease taken over, a
SIGHUP — must not wait for the next poll, minutes later (a real PostgreSQL, stopped)."""

from __future__ import annotations

from typing import Any

import pykka
import pytest

from actors.config_watcher import ConfigWatcher
from actors.messages import ApplyConfig, PollNow
from daemon.store import Store
from tests.actors.test_supervision import wait_for
from tests.faults.cluster import ThrowawayCluster


class ConfigRecorder(pykka.ThreadingActor):
    """Stands where the supervisor is: answers ApplyConfig and keeps what it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.applied: list[tuple[str, ...]] = []

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, ApplyConfig):
            self.applied.append(tuple(c.name for c in message.clinics))
            return {"started": len(message.clinics)}
        if message == "applied":
            return list(self.applied)
        raise TypeError(type(message).__name__)


@pytest.mark.timeout(120)
def test_a_failed_reload_is_retried_before_the_next_interval(
    outage_store: tuple[ThrowawayCluster, Store],
) -> None:
    cluster, store = outage_store
    store.clinics.add(name="Retry Clinic", timezone="UTC", provider="idexx-neo", base_url=None)
    recorder = ConfigRecorder.start()
    # An interval no test waits for: only the retry can deliver the configuration.
    watcher = ConfigWatcher.start(store=store, supervisor=recorder, interval_s=3600)

    cluster.stop("fast")
    assert watcher.ask(PollNow(), block=True, timeout=60) == {}  # the reload asked for fails
    assert recorder.ask("applied", block=True) == []
    cluster.start()
    wait_for(lambda: recorder.ask("applied", block=True) == [("Retry Clinic",)], timeout=60)
