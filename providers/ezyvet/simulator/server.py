"""The ezyVet simulator as a server: its state and knobs on the shared threaded runner."""

from __future__ import annotations

from datetime import date
from typing import Any

from providers.ezyvet.simulator.app import create_app
from providers.ezyvet.simulator.data import Dataset
from providers.ezyvet.simulator.faults import Faults, default_knobs
from providers.ezyvet.simulator.state import SimulatorState
from providers.ezyvet.simulator.stats import merged
from providers.simulation.simulator import Simulator

DEFAULT_TIMEZONE = "Pacific/Auckland"


class EzyVetSimulator(Simulator[SimulatorState]):
    thread_name = "ezyvet-simulator"

    def __init__(
        self,
        scenario: str = "default",
        today: date | None = None,
        timezone: str = DEFAULT_TIMEZONE,
        partner_id: str = "demo-partner",
        client_id: str = "demo-client",
        client_secret: str = "demo-secret",
        latency_ms: int = 0,
        rate_limit_per_min: int = 60,
        site_rate_limit_per_min: int = 180,
        rate_window_s: float = 60.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.client_secret = client_secret
        state = SimulatorState(
            dataset=Dataset(scenario, today, timezone),
            faults=Faults(
                default_knobs(
                    client_secret,
                    latency_ms,
                    rate_limit_per_min,
                    site_rate_limit_per_min,
                    rate_window_s,
                )
            ),
            partner_id=partner_id,
            client_id=client_id,
        )
        super().__init__(state, create_app, host, port)

    @property
    def dataset(self) -> Dataset:
        return self._state.dataset

    @property
    def partner_id(self) -> str:
        return self._state.partner_id

    @property
    def client_id(self) -> str:
        return self._state.client_id

    def revoke_tokens(self, after_calls: int | None = None) -> int:
        """Revoke every live token now, or once ``after_calls`` more API calls were served."""
        if after_calls is not None:
            self._state.tokens.revoke_after(after_calls)
            return 0
        return self._state.tokens.revoke_all()

    def stats(self) -> dict[str, Any]:
        s = self._state
        return merged(s.stats.snapshot(), s.limits.peaks(), s.tokens.active())
