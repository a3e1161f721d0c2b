"""Request counters the tests and benchmarks read back."""

from __future__ import annotations

from providers.idexx_neo.simulator.faults import ENDPOINTS
from providers.simulation.counters import Counters

EVENTS: tuple[str, ...] = (
    "logins",
    "login_failures",
    "second_factor_prompts",
    "branch_prompts",
    "sessions_expired",
)


class Stats(Counters):
    def snapshot(self, active_sessions: int) -> dict[str, int]:
        """Every endpoint and event name is present, zero when nothing happened yet."""
        result = self.counts((*sorted(ENDPOINTS), *EVENTS))
        result["active_sessions"] = active_sessions
        return result
