"""Running the API in its own thread with its own event loop (the Mopidy HTTP frontend shape).

The socket is bound in :meth:`HttpServer.start`, in the caller's thread, so a port conflict
fails start-up with an ``OSError`` instead of a log line from a background thread. The actors
never see the loop; handlers reach them only through the dispatcher, on the executor.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Final

from aiohttp import web

from daemon.http.connections import ConnectionGate, connection_limit
from daemon.http.state import STATE
from daemon.observability.logging import get_logger

log = get_logger("http")
BACKLOG: Final = 128


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0 = any free port)."""
    family, _, _, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return socket.create_server(address[:2], family=family, backlog=BACKLOG)


class HttpServer:
    def __init__(
        self,
        app: web.Application,
        host: str,
        port: int,
        *,
        shutdown_timeout_s: float = 5.0,
        sock: socket.socket | None = None,
    ) -> None:
        """``sock``: a socket :func:`bind_socket` already bound to ``host:port``, served from
        :meth:`start` on (the daemon binds before it starts anything else)."""
        self.app = app
        self.host = host
        self.requested_port = port
        self.shutdown_timeout_s = shutdown_timeout_s
        self._bound = sock
        self._socket: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self.gate: ConnectionGate | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was asked for)."""
        if self._socket is None:
            raise RuntimeError("the HTTP server is not started")
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        """A URL a client on this machine can use (wildcard hosts become loopback)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> None:
        """Bind, then serve from a new thread; raises when binding or set-up fails."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("the HTTP server was already started")
            self._socket = self._bound or bind_socket(self.host, self.requested_port)
            self._thread = threading.Thread(target=self._serve, name="http-server", daemon=True)
            self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError(f"the HTTP server did not start within {timeout_s:g} s")
        if self._failure is not None:
            raise RuntimeError("the HTTP server failed to start") from self._failure
        log.info("HTTP server listening on %s:%d", self.host, self.port)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        tuning = self.app[STATE].tuning
        try:
            runner = web.AppRunner(
                self.app, access_log=None, handle_signals=False,
                shutdown_timeout=self.shutdown_timeout_s,
                # aiohttp closes a connection with no request in flight after this long, from
                # its first byte too: half-sent headers are not held for minutes.
                keepalive_timeout=tuning.header_timeout_s,
            )  # fmt: skip
            loop.run_until_complete(runner.setup())
            assert self._socket is not None and runner.server is not None
            self.gate = ConnectionGate(
                runner.server, connection_limit(tuning.max_connections, BACKLOG), loop
            )
            self._listener = loop.run_until_complete(
                loop.create_server(self.gate, sock=self._socket, backlog=BACKLOG)
            )
            self._runner = runner
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop accepting, let requests in flight end (streams and waits end at once), close.

        Safe to call more than once, and before or after a failed start."""
        with self._lock:
            loop, runner, thread = self._loop, self._runner, self._thread
            self._runner = None
        if loop is None or runner is None or thread is None:
            self._close_socket()
            return
        limit = timeout_s if timeout_s is not None else self.shutdown_timeout_s + 5.0
        try:
            asyncio.run_coroutine_threadsafe(self._close(runner), loop).result(limit)
        except Exception:
            log.warning("HTTP server did not shut down cleanly", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(limit)
        self._close_socket()
        log.info("HTTP server stopped")

    async def _close(self, runner: web.AppRunner) -> None:
        if self._listener is not None:
            self._listener.close()  # accept nothing more; then end what is in flight
        await runner.cleanup()

    def _close_socket(self) -> None:
        if self._socket is not None and self._socket.fileno() != -1:
            self._socket.close()
