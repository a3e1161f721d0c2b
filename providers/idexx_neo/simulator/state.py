"""What every request handler shares: the data, the knobs, the sessions and the counters."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from aiohttp import web

from providers.idexx_neo.simulator.data import Dataset
from providers.idexx_neo.simulator.faults import Faults
from providers.idexx_neo.simulator.sessions import SessionStore
from providers.idexx_neo.simulator.stats import Stats


@dataclass
class SimulatorState:
    dataset: Dataset
    faults: Faults
    username: str
    company_id: str | None
    sessions: SessionStore = field(default_factory=SessionStore)
    stats: Stats = field(default_factory=Stats)
    # Set when the server shuts down, so requests held by the ``hang`` knob let go.
    stopping: threading.Event = field(default_factory=threading.Event)

    def reset(self) -> None:
        """Default knobs, the scenario's original data, zeroed counters (sessions survive)."""
        self.faults.reset()
        self.dataset.reset()
        self.stats.reset()


STATE: web.AppKey[SimulatorState] = web.AppKey("simulator_state", SimulatorState)
