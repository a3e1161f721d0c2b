"""``pims-sync status [--clinic ID] [--watch [--interval S]] [--json]``: the fleet view.

It reads the database only (:mod:`daemon.fleet`), so it works from any machine while the daemon
runs elsewhere, or when it is down. A table for people, one JSON object for scripts (with
``--watch``, one object per refresh, one per line). Clinics that need attention come first.
Exit 0 whatever the clinics' state (the result says it); 1 when the clinic asked for does not
exist or the database cannot be read; 2 for a bad argument.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from daemon.cli.common import (
    EXIT_OK,
    CliFailure,
    add_json_flag,
    clinic_id_arg,
    open_store,
    usage_error,
)
from daemon.config import Settings

if TYPE_CHECKING:
    import uuid
    from datetime import datetime

    from rich.console import Console, RenderableType

    from daemon.fleet import ClinicStatus, FleetStatus
    from daemon.store import Store

INTERVAL_LIMITS = (1.0, 3600.0)
DEFAULT_INTERVAL_S = 5.0


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "status",
        help="the fleet: every clinic's syncs, schedules and problems",
        description=(
            "Every clinic with its provider, the last sync of each type, the next cron run and "
            "what needs attention (listed first). Reads the database only."
        ),
    )
    parser.add_argument("--clinic", help="one clinic's id (default: every clinic)")
    parser.add_argument("--watch", action="store_true", help="refresh until Ctrl-C")
    parser.add_argument(
        "--interval",
        default=str(DEFAULT_INTERVAL_S),
        help=f"seconds between refreshes with --watch, 1..3600 (default {DEFAULT_INTERVAL_S:g})",
    )
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def _interval(value: str) -> float:
    low, high = INTERVAL_LIMITS
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not low <= seconds <= high:  # also refuses nan
        raise usage_error(f"--interval: must be a number of seconds from {low:g} to {high:g}")
    return seconds


def _read(store: Store, settings: Settings, clinic_id: uuid.UUID | None) -> FleetStatus:
    from datetime import timedelta

    from daemon.fleet import read_fleet
    from daemon.store.clinics import ClinicNotFound
    from daemon.store.types import utcnow

    try:
        return read_fleet(
            store,
            utcnow(),
            clinic_id=clinic_id,
            scheduler_enabled=settings.enable_scheduler,
            config_poll=timedelta(seconds=settings.config_poll_interval_s),
        )
    except ClinicNotFound as exc:
        raise CliFailure(str(exc)) from None


# -- for people ---------------------------------------------------------------------------------


def _age(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


_STATUS_STYLE = {
    "completed": "green",
    "running": "cyan",
    "queued": "cyan",
    "partial": "yellow",
    "interrupted": "yellow",
    "failed": "red",
}


def _sync_cell(status: ClinicStatus, sync_type: str, now: datetime) -> str:
    row = status.latest.get(sync_type)
    if row is None:
        return "[dim]never[/dim]"
    shown = row.as_json(now)
    style = _STATUS_STYLE.get(row.status, "")
    text = f"[{style}]{row.status}[/{style}] {_age(shown['ageSeconds'])}"
    if row.error_code:
        text += f"\n[red]{row.error_code}[/red]"
    return text


def _next_cell(status: ClinicStatus, now: datetime) -> str:
    upcoming = status.next_run
    if upcoming is None:
        return "[dim]-[/dim]"
    sync_type, when = upcoming
    return f"{sync_type} in {_age(int((when - now).total_seconds()))}"


def _replica_cell(status: ClinicStatus, now: datetime) -> str:
    lease = status.lease
    if lease is None or lease.owner_id is None:
        return "[dim]none[/dim]"
    if not lease.held_at(now):
        ago = _age(int((now - lease.expires_at).total_seconds()))
        return f"{lease.owner_id}\n[yellow]expired {ago} ago[/yellow]"
    return lease.owner_id


def render(fleet: FleetStatus) -> RenderableType:
    """The table (one row per clinic, problems by code), then each problem in words."""
    from rich.box import SIMPLE_HEAD
    from rich.console import Group
    from rich.table import Table

    now = fleet.generated_at
    count = len(fleet.clinics)
    title = (
        f"{count} clinic{'s' if count != 1 else ''}, "
        f"{fleet.need_attention} need{'s' if fleet.need_attention == 1 else ''} attention"
    )
    table = Table(
        title=title, caption=f"as of {now:%Y-%m-%d %H:%M:%S} UTC", box=SIMPLE_HEAD, show_lines=True
    )
    # Only with replicas: one daemon on SQLite writes no lease rows.
    leased = any(status.lease is not None for status in fleet.clinics)
    table.add_column("CLINIC", no_wrap=True)
    table.add_column("PROVIDER")
    if leased:
        table.add_column("REPLICA", no_wrap=True)
    for sync_type in ("inbound", "cases", "reconciliation"):
        table.add_column(sync_type.upper())
    table.add_column("NEXT RUN")
    table.add_column("ATTENTION", no_wrap=True)
    details: list[str] = []
    for status in fleet.clinics:
        clinic = status.clinic
        # The short id tells rows apart; the full one is in --json and under the table.
        name = f"[bold]{clinic.name}[/bold]\n[dim]{str(clinic.id)[:8]}[/dim]"
        if not clinic.is_active:
            name += "\n[dim]inactive[/dim]"
        codes = dict.fromkeys(a.code for a in status.attention)  # once each, in order
        table.add_row(
            name,
            clinic.provider,
            *([_replica_cell(status, now)] if leased else []),
            *(_sync_cell(status, t, now) for t in ("inbound", "cases", "reconciliation")),
            _next_cell(status, now),
            "\n".join(f"[red]{code}[/red]" for code in codes) or "[green]ok[/green]",
        )
        if status.attention:
            details.append(f"[bold]{clinic.name}[/bold] [dim]{clinic.id}[/dim]")
            details += [f"  [red]{a.code}[/red]: {a.message}" for a in status.attention]
    return Group(table, *details) if details else table


def _console() -> Console:
    from rich.console import Console

    # The table is the command's result: stdout. Piped, it has no colour and, unless COLUMNS
    # says otherwise, a wide layout (rich would assume 80 columns).
    wide = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(width=200 if wide else None, highlight=False)


# -- the command ----------------------------------------------------------------------------


def _emit_json(fleet: FleetStatus) -> None:
    sys.stdout.write(json.dumps(fleet.as_json(), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _watch(
    store: Store, settings: Settings, clinic_id: uuid.UUID | None, interval: float, as_json: bool
) -> None:
    """Refresh until Ctrl-C. A database that goes away is shown and retried, not fatal."""
    from rich.live import Live
    from rich.text import Text

    def snapshot() -> FleetStatus | str:
        try:
            return _read(store, settings, clinic_id)
        except CliFailure:
            raise
        except Exception as exc:  # the database is unreachable for a while: keep watching
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return f"cannot read the database: {first}"

    if as_json:
        while True:
            result = snapshot()
            if isinstance(result, str):
                sys.stderr.write(f"pims-sync: {result}\n")
            else:
                _emit_json(result)
            time.sleep(interval)
    console = _console()
    with Live(console=console, auto_refresh=False, redirect_stderr=False) as live:
        while True:
            result = snapshot()
            view: RenderableType = (
                Text(result, style="red") if isinstance(result, str) else render(result)
            )
            live.update(view, refresh=True)
            time.sleep(interval)


def run(args: argparse.Namespace, settings: Settings) -> int:
    clinic_id = None if args.clinic is None else clinic_id_arg(args.clinic)
    interval = _interval(args.interval)
    store = open_store(settings)
    try:
        if args.watch:
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a watch ends
                _watch(store, settings, clinic_id, interval, args.json)
            return EXIT_OK
        fleet = _read(store, settings, clinic_id)
        if args.json:
            _emit_json(fleet)
        else:
            _console().print(render(fleet))
        return EXIT_OK
    finally:
        store.db.dispose()
