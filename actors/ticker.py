"""Timers for actors: pykka has none, so a small thread tells an actor when time has come."""

from __future__ import annotations

import threading
from typing import Any

import pykka


class Ticker:
    """Tells ``message`` to ``ref`` every ``interval_s`` seconds until stopped."""

    def __init__(
        self, ref: pykka.ActorRef[Any], message: object, interval_s: float, name: str
    ) -> None:
        self._ref, self._message, self._interval = ref, message, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            if not self._ref.is_alive():
                return
            self._ref.tell(self._message)

    def stop(self) -> None:
        self._stop.set()
