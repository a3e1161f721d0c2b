"""Run the simulator in a thread of its own, with its own event loop.

Tests and benchmarks are free to block their own thread (a browser, a pykka ``.get()``) while
the simulator keeps answering; knob changes cross threads through locks in ``Faults``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import date
from types import TracebackType
from typing import Any

from aiohttp import web

from providers.idexx_neo.simulator.app import create_app
from providers.idexx_neo.simulator.data import Dataset
from providers.idexx_neo.simulator.faults import Faults
from providers.idexx_neo.simulator.state import SimulatorState

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0


class SimulatorServer:
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
        self.host = host
        self._requested_port = port
        self._state = SimulatorState(
            dataset=Dataset(scenario, today, timezone),
            faults=Faults(password, latency_ms),
            username=username,
            company_id=company_id,
        )
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_signal: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> SimulatorServer:
        """Start listening; returns once connections are accepted (raises if that failed)."""
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._thread = threading.Thread(target=self._run, name="idexx-neo-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("simulator did not start in time")
        if self._startup_error is not None:
            self._thread.join(STOP_TIMEOUT_S)
            raise RuntimeError(
                f"simulator could not listen on {self.host}:{self._requested_port}"
            ) from (self._startup_error)
        return self

    def stop(self) -> None:
        """Stop serving and join the thread; requests held by ``hang`` are released first."""
        thread, loop, signal = self._thread, self._loop, self._stop_signal
        if thread is None:
            return
        self._state.stopping.set()
        if loop is not None and signal is not None and not loop.is_closed():
            # The loop may close between the check and the call.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(signal.set)
        thread.join(STOP_TIMEOUT_S)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop_signal = asyncio.Event()
        runner = web.AppRunner(create_app(self._state), access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._requested_port)
            await site.start()
            self._port = int(runner.addresses[0][1])
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            await runner.cleanup()
            return
        self._ready.set()
        try:
            await self._stop_signal.wait()
        finally:
            await runner.cleanup()

    # -- where and what -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("simulator not started")
        return self._port

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

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

    def set_faults(self, **knobs: Any) -> None:
        """Change the named knobs (see ``faults.py``); raises ``FaultError`` on a bad value."""
        self._state.faults.update(knobs)

    def get_faults(self) -> dict[str, Any]:
        return self._state.faults.snapshot()

    def reset_faults(self) -> None:
        self._state.faults.reset()

    def reset(self) -> None:
        """Default knobs, original data and zeroed counters, like ``POST /_sim/reset``."""
        self._state.reset()

    def stats(self) -> dict[str, int]:
        return self._state.stats.snapshot(self._state.sessions.active())
