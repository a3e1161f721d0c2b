"""Run the ezyVet simulator in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import date

from providers.ezyvet.simulator.scenarios import SCENARIOS
from providers.ezyvet.simulator.server import DEFAULT_TIMEZONE, EzyVetSimulator
from providers.simulation.foreground import serve_until_signal, write_json_line

DEFAULT_PORT = 3200


def serve_forever(
    *,
    port: int,
    scenario: str,
    today: date | None,
    timezone: str,
    partner_id: str,
    client_id: str,
    client_secret: str,
    latency_ms: int,
    rate_limit_per_min: int,
    site_rate_limit_per_min: int,
    json_output: bool,
) -> int:
    """Start the simulator, print where it is and its API credentials, serve until a signal."""
    return serve_until_signal(
        lambda: EzyVetSimulator(
            scenario=scenario,
            today=today,
            timezone=timezone,
            partner_id=partner_id,
            client_id=client_id,
            client_secret=client_secret,
            latency_ms=latency_ms,
            rate_limit_per_min=rate_limit_per_min,
            site_rate_limit_per_min=site_rate_limit_per_min,
            port=port,
        ),
        _announce_json
        if json_output
        else lambda server: _announce(server, rate_limit_per_min, site_rate_limit_per_min),
    )


# The credentials are printed on purpose: they are the simulator's own demo credentials.


def _announce_json(server: EzyVetSimulator) -> None:
    write_json_line(
        {
            "url": server.url,
            "partnerId": server.partner_id,
            "clientId": server.client_id,
            "clientSecret": server.client_secret,
        }
    )


def _announce(
    server: EzyVetSimulator, rate_limit_per_min: int, site_rate_limit_per_min: int
) -> None:
    dataset = server.dataset
    lines = [
        f"ezyVet simulator listening on {server.url}",
        f"  partner id:    {server.partner_id}",
        f"  client id:     {server.client_id}",
        f"  client secret: {server.client_secret}",
        f"  scenario:      {dataset.scenario}, today {dataset.today.isoformat()} "
        f"({dataset.timezone})",
        f"  rate limits:   {rate_limit_per_min}/min per endpoint, "
        f"{site_rate_limit_per_min}/min per site",
        f"  control:       {server.url}/_sim/faults",
        "Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m providers.ezyvet.simulator", description="The ezyVet simulator."
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--scenario", choices=SCENARIOS, default="default")
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    parser.add_argument("--timezone", default=DEFAULT_TIMEZONE)
    parser.add_argument("--partner-id", default="demo-partner")
    parser.add_argument("--client-id", default="demo-client")
    parser.add_argument("--client-secret", default="demo-secret")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--rate-limit-per-min", type=int, default=60)
    parser.add_argument("--site-rate-limit-per-min", type=int, default=180)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    return serve_forever(
        port=args.port,
        scenario=args.scenario,
        today=args.today,
        timezone=args.timezone,
        partner_id=args.partner_id,
        client_id=args.client_id,
        client_secret=args.client_secret,
        latency_ms=args.latency_ms,
        rate_limit_per_min=args.rate_limit_per_min,
        site_rate_limit_per_min=args.site_rate_limit_per_min,
        json_output=args.json,
    )
