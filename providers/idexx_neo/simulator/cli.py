"""Run the simulator in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import date
from types import FrameType

from providers.idexx_neo.simulator.scenarios import SCENARIOS
from providers.idexx_neo.simulator.server import SimulatorServer

DEFAULT_PORT = 3100
DEFAULT_TIMEZONE = "America/Los_Angeles"


def serve_forever(
    *,
    port: int,
    scenario: str,
    today: date | None,
    timezone: str,
    username: str,
    password: str,
    company_id: str | None,
    latency_ms: int,
    json_output: bool,
) -> int:
    """Start the simulator, print where it is and how to log in, serve until a signal."""
    try:
        server = SimulatorServer(
            scenario=scenario,
            today=today,
            timezone=timezone,
            username=username,
            password=password,
            company_id=company_id,
            latency_ms=latency_ms,
            port=port,
        ).start()
    except (ValueError, RuntimeError) as exc:
        print(f"simulator: {exc}", file=sys.stderr, flush=True)
        return 1

    stop = threading.Event()
    previous = _install_handlers(stop)
    try:
        _announce(server, password, json_output)
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        _restore_handlers(previous)
        server.stop()
    return 0


def _announce(server: SimulatorServer, password: str, json_output: bool) -> None:
    # The credentials are printed on purpose: they are the simulator's own demo credentials.
    if json_output:
        line = json.dumps(
            {
                "url": server.url,
                "username": server.username,
                "password": password,
                "companyId": server.company_id,
            },
            ensure_ascii=False,
        )
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        return
    dataset = server.dataset
    lines = [
        f"IDEXX Neo simulator listening on {server.url}",
        f"  username:   {server.username}",
        f"  password:   {password}",
        f"  company id: {server.company_id if server.company_id is not None else '(none)'}",
        f"  scenario:   {dataset.scenario}, today {dataset.today.isoformat()} ({dataset.timezone})",
        f"  control:    {server.url}/_sim/faults",
        "Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)


_Handlers = dict[int, object]


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


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m providers.idexx_neo.simulator", description="The IDEXX Neo simulator."
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--scenario", choices=SCENARIOS, default="default")
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    parser.add_argument("--timezone", default=DEFAULT_TIMEZONE)
    parser.add_argument("--username", default="demo")
    parser.add_argument("--password", default="demo-password")
    parser.add_argument("--company-id", default="demo-clinic", help='"" accepts any company id')
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    return serve_forever(
        port=args.port,
        scenario=args.scenario,
        today=args.today,
        timezone=args.timezone,
        username=args.username,
        password=args.password,
        company_id=args.company_id or None,
        latency_ms=args.latency_ms,
        json_output=args.json,
    )
