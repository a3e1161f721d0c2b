"""The IDEXX Neo simulator as a server: its state and knobs on the shared threaded runner."""

from __future__ import annotations

from datetime import date

from providers.idexx_neo.simulator.app import create_app
from providers.idexx_neo.simulator.data import Dataset
from providers.idexx_neo.simulator.faults import Faults
from providers.idexx_neo.simulator.state import SimulatorState
from providers.simulation.simulator import Simulator


class SimulatorServer(Simulator[SimulatorState]):
    thread_name = "idexx-neo-simulator"

    def __init__(
        self,
        scenario: str = "default",
        today: date | None = None,
        timezone: str = "America/Los_Angeles",
        username: str = "demo",
        password: str = "demo-password",
        company_id: str | None = "demo-clinic",
        latency_ms: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        state = SimulatorState(
            dataset=Dataset(scenario, today, timezone),
            faults=Faults(password, latency_ms),
            username=username,
            company_id=company_id,
        )
        super().__init__(state, create_app, host, port)

    # -- what ---------------------------------------------------------------------------------

    @property
    def dataset(self) -> Dataset:
        return self._state.dataset

    @property
    def username(self) -> str:
        return self._state.username

    @property
    def company_id(self) -> str | None:
        return self._state.company_id

    # -- knobs and counters -------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        return self._state.stats.snapshot(self._state.sessions.active())
