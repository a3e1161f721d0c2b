"""What every request handler shares: the records, the knobs, the tokens, limits and counters."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from aiohttp import web

from providers.ezyvet.simulator.data import Dataset
from providers.ezyvet.simulator.faults import Faults
from providers.ezyvet.simulator.limits import RateLimiter
from providers.ezyvet.simulator.stats import Stats
from providers.ezyvet.simulator.tokens import TokenRegistry


@dataclass
class SimulatorState:
    dataset: Dataset
    faults: Faults
    partner_id: str
    client_id: str
    tokens: TokenRegistry = field(default_factory=TokenRegistry)
    limits: RateLimiter = field(default_factory=RateLimiter)
    stats: Stats = field(default_factory=Stats)
    stopping: threading.Event = field(default_factory=threading.Event)

    def reset(self) -> None:
        """Default knobs, the scenario's records, zeroed counters and windows (tokens survive)."""
        self.faults.reset()
        self.dataset.reset()
        self.stats.reset()
        self.limits.reset()
        self.tokens.revoke_after(None)


STATE: web.AppKey[SimulatorState] = web.AppKey("ezyvet_simulator_state", SimulatorState)
