"""A simulator on the threaded runner, with the knob methods tests and benchmarks call."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import web

from providers.simulation.knobs import Knobs
from providers.simulation.runner import ThreadedServer


class SimulatorState(Protocol):
    """What the shared parts need of a simulator's state (each PIMS adds its own)."""

    @property
    def faults(self) -> Knobs: ...

    @property
    def stopping(self) -> threading.Event: ...

    def reset(self) -> None: ...


State = TypeVar("State", bound=SimulatorState)


class Simulator(ThreadedServer, Generic[State]):
    def __init__(
        self,
        state: State,
        app_factory: Callable[[State], web.Application],
        host: str,
        port: int,
    ) -> None:
        super().__init__(host, port, state.stopping)
        self._state = state
        self._app_factory = app_factory

    def create_app(self) -> web.Application:
        return self._app_factory(self._state)

    def set_faults(self, **knobs: Any) -> None:
        """Change the named knobs (see the PIMS's ``faults.py``); raises ``FaultError`` on a bad
        value and then changes none."""
        self._state.faults.update(knobs)

    def get_faults(self) -> dict[str, Any]:
        return self._state.faults.snapshot()

    def reset_faults(self) -> None:
        self._state.faults.reset()

    def reset(self) -> None:
        """Default knobs, the scenario's original data, zeroed counters (``POST /_sim/reset``)."""
        self._state.reset()
