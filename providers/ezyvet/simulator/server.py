"""Run the ezyVet simulator in a thread of its own, with its own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import date
from types import TracebackType
from typing import Any

from aiohttp import web

from providers.ezyvet.simulator.app import create_app
from providers.ezyvet.simulator.data import Dataset
from providers.ezyvet.simulator.faults import Faults, default_knobs
from providers.ezyvet.simulator.state import SimulatorState
from providers.ezyvet.simulator.stats import merged

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
DEFAULT_TIMEZONE = "Pacific/Auckland"


class EzyVetSimulator:
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
        self.host = host
        self._requested_port = port
        self.client_secret = client_secret
        self._state = SimulatorState(
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
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_signal: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    def start(self) -> EzyVetSimulator:
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._thread = threading.Thread(target=self._run, name="ezyvet-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("simulator did not start in time")
        if self._startup_error is not None:
            self._thread.join(STOP_TIMEOUT_S)
            raise RuntimeError(
                f"simulator could not listen on {self.host}:{self._requested_port}"
            ) from self._startup_error
        return self

    def stop(self) -> None:
        thread, loop, signal = self._thread, self._loop, self._stop_signal
        if thread is None:
            return
        self._state.stopping.set()
        if loop is not None and signal is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(signal.set)
        thread.join(STOP_TIMEOUT_S)

    def __enter__(self) -> EzyVetSimulator:
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
    def dataset(self) -> Dataset:
        return self._state.dataset

    @property
    def partner_id(self) -> str:
        return self._state.partner_id

    @property
    def client_id(self) -> str:
        return self._state.client_id

    def set_faults(self, **knobs: Any) -> None:
        """Change the named knobs (see ``faults.py``); raises ``FaultError`` on a bad value."""
        self._state.faults.update(knobs)

    def get_faults(self) -> dict[str, Any]:
        return self._state.faults.snapshot()

    def reset(self) -> None:
        """Default knobs, original records, zeroed counters and rate windows."""
        self._state.reset()

    def revoke_tokens(self, after_calls: int | None = None) -> int:
        """Revoke every live token now, or once ``after_calls`` more API calls were served."""
        if after_calls is not None:
            self._state.tokens.revoke_after(after_calls)
            return 0
        return self._state.tokens.revoke_all()

    def stats(self) -> dict[str, Any]:
        s = self._state
        return merged(s.stats.snapshot(), s.limits.peaks(), s.tokens.active())
