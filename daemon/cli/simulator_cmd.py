"""``pims-sync simulator``: the IDEXX Neo simulator alone, for demos, tests and benchmarks."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from daemon.cli.common import add_json_flag, usage_error
from daemon.config import Settings
from daemon.validation import InvalidValue, local_date, timezone_name


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "simulator", help="run the IDEXX Neo simulator (a web app a real browser logs into)"
    )
    parser.add_argument("--port", type=int, default=3100)
    parser.add_argument("--scenario", choices=("default", "scale"), default="default")
    parser.add_argument("--today", help="YYYY-MM-DD (default: today in --timezone)")
    parser.add_argument("--timezone", default="America/Los_Angeles")
    parser.add_argument("--username", default="demo")
    parser.add_argument("--password", default="demo-password")
    parser.add_argument("--company-id", default="demo-clinic")
    parser.add_argument("--latency-ms", type=int, default=0)
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from providers.idexx_neo.simulator.cli import serve_forever

    try:
        if not 0 <= args.port <= 65535:
            raise InvalidValue("--port", "must be an integer from 0 to 65535")
        if not 0 <= args.latency_ms <= 60_000:
            raise InvalidValue("--latency-ms", "must be an integer from 0 to 60000")
        today: date | None = None if args.today is None else local_date(args.today, "--today")
        timezone = timezone_name(args.timezone, "--timezone")
    except InvalidValue as exc:
        raise usage_error(str(exc)) from None
    return serve_forever(
        port=args.port,
        scenario=args.scenario,
        today=today,
        timezone=timezone,
        username=args.username,
        password=args.password,
        company_id=args.company_id or None,
        latency_ms=args.latency_ms,
        json_output=args.json,
    )
