"""Run a simulator in the foreground until SIGINT or SIGTERM (``pims-sync simulator``, and
``python -m providers.<pims>.simulator``)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import FrameType
from typing import Any, TypeVar

from providers.simulation.runner import CannotListen, ThreadedServer

Server = TypeVar("Server", bound=ThreadedServer)
_Handlers = dict[int, object]

#: The program a start failure is reported as: ``simulator`` on its own (``python -m
#: providers.<pims>.simulator``); ``pims-sync simulator`` reports as ``pims-sync``, so that the
#: line reads like every other error of that command.
_program: ContextVar[str] = ContextVar("simulator_program", default="simulator")


@contextmanager
def reported_as(program: str) -> Iterator[None]:
    """Start failures inside the block are reported as ``program: error: …``."""
    token = _program.set(program)
    try:
        yield
    finally:
        _program.reset(token)


def serve_until_signal(create: Callable[[], Server], announce: Callable[[Server], None]) -> int:
    """Start the server ``create`` builds, ``announce`` it, serve until a signal; 1 if it could
    not start (one line on stderr: the address, the flag that chose it and the reason), else
    0."""
    try:
        server = create().start()
    except CannotListen as exc:
        return _failed(f"cannot listen on {exc.host}:{exc.port} (--port): {exc.reason}")
    except (ValueError, RuntimeError) as exc:
        return _failed(str(exc))
    stop = threading.Event()
    previous = _install_handlers(stop)
    try:
        announce(server)
        # A timed wait, so that the main thread gets to run signal handlers promptly.
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        _restore_handlers(previous)
        server.stop()
    return 0


def _failed(message: str) -> int:
    print(f"{_program.get()}: error: {message}", file=sys.stderr, flush=True)
    return 1


def write_json_line(fields: dict[str, Any]) -> None:
    """One JSON object on stdout, flushed: what a parent process waits for before connecting."""
    sys.stdout.write(json.dumps(fields, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _install_handlers(stop: threading.Event) -> _Handlers:
    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: _Handlers = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[signum] = signal.signal(signum, on_signal)
        except ValueError:  # not the main thread: the caller stops us some other way
            break
    return previous


def _restore_handlers(previous: _Handlers) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)  # type: ignore[arg-type]
