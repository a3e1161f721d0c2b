"""``pims-sync simulator``: a PIMS simulator alone (IDEXX Neo by default, or ezyVet), for demos,
tests and benchmarks. The simulator's module is imported only when the command runs."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from daemon.cli.common import add_json_flag, usage_error
from daemon.cli.values import integer_value
from daemon.config import Settings
from daemon.validation import InvalidValue, local_date, timezone_name

PROVIDERS = ("idexx-neo", "ezyvet")
#: Defaults that differ by provider (None in argparse = "the provider's own").
DEFAULTS: dict[str, dict[str, Any]] = {
    "idexx-neo": {"port": 3100, "timezone": "America/Los_Angeles"},
    "ezyvet": {"port": 3200, "timezone": "Pacific/Auckland"},
}


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "simulator", help="run a PIMS simulator (IDEXX Neo by default, or ezyVet)"
    )
    parser.add_argument("--provider", choices=PROVIDERS, default="idexx-neo")
    parser.add_argument("--port", default=None, help="3100 (IDEXX Neo), 3200 (ezyVet)")
    parser.add_argument("--scenario", choices=("default", "scale"), default="default")
    parser.add_argument("--today", help="YYYY-MM-DD (default: today in --timezone)")
    parser.add_argument(
        "--timezone",
        default=None,
        help="America/Los_Angeles (IDEXX Neo), Pacific/Auckland (ezyVet)",
    )
    parser.add_argument("--latency-ms", default="0", help="0..60000")
    idexx = parser.add_argument_group("IDEXX Neo")
    idexx.add_argument("--username", default="demo")
    idexx.add_argument("--password", default="demo-password")
    idexx.add_argument("--company-id", default="demo-clinic")
    ezyvet = parser.add_argument_group("ezyVet")
    ezyvet.add_argument("--partner-id", default="demo-partner")
    ezyvet.add_argument("--client-id", default="demo-client")
    ezyvet.add_argument("--client-secret", default="demo-secret")
    ezyvet.add_argument("--rate-limit-per-min", default="60", help="1..100000")
    ezyvet.add_argument("--site-rate-limit-per-min", default="180", help="1..100000")
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    defaults = DEFAULTS[args.provider]
    try:
        port = (
            defaults["port"] if args.port is None else integer_value(args.port, "--port", 0, 65535)
        )
        latency_ms = integer_value(args.latency_ms, "--latency-ms", 0, 60_000)
        rate_limit_per_min = integer_value(
            args.rate_limit_per_min, "--rate-limit-per-min", 1, 100_000
        )
        site_rate_limit_per_min = integer_value(
            args.site_rate_limit_per_min, "--site-rate-limit-per-min", 1, 100_000
        )
        today: date | None = None if args.today is None else local_date(args.today, "--today")
        timezone = timezone_name(args.timezone or defaults["timezone"], "--timezone")
    except InvalidValue as exc:
        raise usage_error(str(exc)) from None
    # What every simulator takes; the rest are the provider's own credentials and limits.
    common: dict[str, Any] = {
        "port": port,
        "scenario": args.scenario,
        "today": today,
        "timezone": timezone,
        "latency_ms": latency_ms,
        "json_output": args.json,
    }
    from providers.simulation.foreground import reported_as

    with reported_as("pims-sync"):  # a start failure reads like every pims-sync error
        if args.provider == "ezyvet":
            from providers.ezyvet.simulator.cli import serve_forever as serve_ezyvet

            return serve_ezyvet(
                **common,
                partner_id=args.partner_id,
                client_id=args.client_id,
                client_secret=args.client_secret,
                rate_limit_per_min=rate_limit_per_min,
                site_rate_limit_per_min=site_rate_limit_per_min,
            )
        from providers.idexx_neo.simulator.cli import serve_forever

        return serve_forever(
            **common,
            username=args.username,
            password=args.password,
            company_id=args.company_id or None,
        )
