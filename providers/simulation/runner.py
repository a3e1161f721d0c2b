"""Serve an aiohttp app from a thread of its own, with its own event loop, on a free port.

Tests and benchmarks are free to block their own thread (a browser, a pykka ``.get()``) while
the simulator keeps answering; knob changes cross threads through the locks in the knob store.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from types import TracebackType
from typing import Self

from aiohttp import web

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0


class CannotListen(RuntimeError):
    """The simulator's address could not be bound: the port is taken, the host does not
    resolve, … ``reason`` says which, as the system words it."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"simulator could not listen on {host}:{port}: {reason}")
        self.host = host
        self.port = port
        self.reason = reason


def _reason(error: BaseException) -> str:
    if isinstance(error, socket.gaierror):  # its errno is no system error number
        return error.strerror or str(error)
    if isinstance(error, OSError) and error.errno:
        # asyncio rewords a bind failure ("error while attempting to bind on address …");
        # the system's own words are the ones an operator searches for.
        return os.strerror(error.errno)
    return str(error) or type(error).__name__


class ThreadedServer:
    """The lifecycle of a simulator: ``start``/``stop`` (or ``with``), then ``port`` and ``url``.

    A subclass builds its app in ``create_app``; ``stopping`` is set before the loop is told
    to stop, so handlers holding a request (a hang, a pause) let go and shutdown is prompt.
    """

    thread_name = "simulator"

    def __init__(self, host: str, port: int, stopping: threading.Event) -> None:
        self.host = host
        self._requested_port = port
        self._stopping = stopping
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_signal: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    def create_app(self) -> web.Application:
        raise NotImplementedError

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Self:
        """Start listening; returns once connections are accepted (raises if that failed)."""
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("simulator did not start in time")
        if self._startup_error is not None:
            self._thread.join(STOP_TIMEOUT_S)
            raise CannotListen(
                self.host, self._requested_port, _reason(self._startup_error)
            ) from self._startup_error
        return self

    def stop(self) -> None:
        """Stop serving and join the thread; requests held by a knob are released first."""
        thread, loop, signal = self._thread, self._loop, self._stop_signal
        if thread is None:
            return
        self._stopping.set()
        if loop is not None and signal is not None and not loop.is_closed():
            # The loop may close between the check and the call.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(signal.set)
        thread.join(STOP_TIMEOUT_S)

    def __enter__(self) -> Self:
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
        runner = web.AppRunner(self.create_app(), access_log=None, shutdown_timeout=2.0)
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

    # -- where --------------------------------------------------------------------------------

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
