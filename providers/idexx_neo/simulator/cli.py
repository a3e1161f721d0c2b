"""Run the simulator in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import date

from providers.idexx_neo.simulator.scenarios import SCENARIOS
from providers.idexx_neo.simulator.server import SimulatorServer
from providers.simulation.foreground import serve_until_signal, write_json_line

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
    return serve_until_signal(
        lambda: SimulatorServer(
            scenario=scenario,
            today=today,
            timezone=timezone,
            username=username,
            password=password,
            company_id=company_id,
            latency_ms=latency_ms,
            port=port,
        ),
        lambda server: _announce(server, password, json_output),
    )


def _announce(server: SimulatorServer, password: str, json_output: bool) -> None:
    # The credentials are printed on purpose: they are the simulator's own demo credentials.
    if json_output:
        write_json_line(
            {
                "url": server.url,
                "username": server.username,
                "password": password,
                "companyId": server.company_id,
            }
        )
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
