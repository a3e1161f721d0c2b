"""``pims-sync demo [--once] [--port N]``: the whole system against the simulator (contract §2.5).

On the embedded database ``./pims-sync-demo.db`` with its state (encryption key, demo API key)
in ``./.pims-sync-demo.json`` (owner-only), it starts the IDEXX Neo simulator, sets up "Demo
Clinic", starts the daemon, triggers one sync of each type over HTTP while showing live progress,
and prints a summary. Running it again reuses everything and duplicates nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import secrets
import socket
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.cli.common import EXIT_FAILED, EXIT_OK, CliFailure, usage_error
from daemon.config import Settings
from daemon.schedule import ScheduleEntry

if TYPE_CHECKING:
    import aiohttp
    from rich.console import Console
    from rich.progress import Progress

    from daemon.store import Store
    from daemon.store.clinics import ClinicView
    from providers.idexx_neo.simulator import SimulatorServer

DEMO_DB = Path("pims-sync-demo.db")
DEMO_STATE = Path(".pims-sync-demo.json")
CLINIC_NAME = "Demo Clinic"
TIMEZONE = "America/Los_Angeles"
SIM_USER, SIM_PASSWORD, SIM_COMPANY = "demo", "demo-password", "demo-clinic"
SCHEDULES = (
    ScheduleEntry("inbound", "0 6 * * *"),
    ScheduleEntry("cases", "0 8,14,20 * * *"),
    ScheduleEntry("reconciliation", "0 2 * * *"),
)
SYNC_ORDER = ("inbound", "cases", "reconciliation")
READY_TIMEOUT_S = 60.0


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "demo", help="run the whole system against the simulator on ./pims-sync-demo.db"
    )
    parser.add_argument(
        "--once", action="store_true", help="exit after the summary (non-zero if any sync failed)"
    )
    parser.add_argument("--port", type=int, help="the daemon's port (default PORT, or a free one)")
    parser.set_defaults(handler=run)


# -- state kept beside the demo database --------------------------------------------------------


@dataclass
class DemoState:
    encryption_key: str
    api_key: str | None = None
    api_key_id: str | None = None

    @classmethod
    def load_or_create(cls, path: Path) -> DemoState:
        if path.exists():
            data = json.loads(path.read_text())
            return cls(data["encryptionKey"], data.get("apiKey"), data.get("apiKeyId"))
        state = cls(secrets.token_urlsafe(32))
        state.save(path)
        return state

    def save(self, path: Path) -> None:
        body = json.dumps(
            {
                "encryptionKey": self.encryption_key,
                "apiKey": self.api_key,
                "apiKeyId": self.api_key_id,
            },
            indent=2,
        )
        # Created owner-only from the first byte: it holds a key that opens the demo secrets.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(body + "\n")
        os.chmod(path, 0o600)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _choose_port(requested: int | None, settings: Settings) -> int:
    if requested is not None:
        if not 0 <= requested <= 65535:
            raise usage_error("--port: must be an integer from 0 to 65535")
        return requested
    return settings.port if _port_free(settings.port) else 0


def _prepare(store: Store, state: DemoState, simulator_url: str) -> ClinicView:
    """Create or reuse the demo clinic, its credentials, API key and schedules."""
    clinic = store.clinics.find_by_name(CLINIC_NAME)
    if clinic is None:
        clinic = store.clinics.add(
            name=CLINIC_NAME, timezone=TIMEZONE, provider="idexx-neo", base_url=simulator_url
        )
    clinic = store.clinics.update(
        clinic.id, base_url=simulator_url, timezone=TIMEZONE, is_active=True
    )
    # The simulator is new on every run, so its old sessions are gone: fresh credentials.
    store.credentials.set(
        clinic.id,
        provider="idexx-neo",
        fields={"username": SIM_USER, "password": SIM_PASSWORD, "company_id": SIM_COMPANY},
    )
    owner = store.keys.lookup(state.api_key) if state.api_key else None
    if owner is None or not owner.is_active or owner.clinic_id != clinic.id:
        view, key = store.keys.create(clinic.id, name="demo")
        state.api_key, state.api_key_id = key, str(view.id)
        state.save(DEMO_STATE)
    for entry in SCHEDULES:
        clinic = store.clinics.set_schedule(clinic.id, entry)
    return clinic


# -- driving the daemon over HTTP ----------------------------------------------------------------


async def _wait_ready(session: aiohttp.ClientSession, base: str) -> None:
    import aiohttp

    deadline = time.monotonic() + READY_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{base}/ready") as response:
                if response.status == 200:
                    return
                last = await response.text()
        except aiohttp.ClientError as exc:
            last = str(exc)
        await asyncio.sleep(0.25)
    raise CliFailure(f"the daemon did not become ready within {READY_TIMEOUT_S:.0f} s: {last}")


async def _follow(
    session: aiohttp.ClientSession, base: str, key: str, sync_type: str, progress: Progress
) -> dict[str, Any]:
    import aiohttp

    headers = {"X-API-Key": key, "Prefer": "respond-async", "Content-Type": "application/json"}
    async with session.post(f"{base}/api/sync/{sync_type}", data=b"{}", headers=headers) as resp:
        body: dict[str, Any] = await resp.json()
        if resp.status not in (200, 202):
            raise CliFailure(f"{sync_type} trigger answered {resp.status}: {body}")
    task = progress.add_task(sync_type, total=1)
    final: dict[str, Any] = body
    if resp.status == 202:
        stream_url = f"{base}{body['streamUrl']}"
        async with session.get(
            stream_url,
            headers={"X-API-Key": key},
            timeout=aiohttp.ClientTimeout(total=None, sock_read=60),
        ) as stream:
            event = "message"
            async for raw in stream.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    status = json.loads(line.split(":", 1)[1])
                    bar = status.get("progress", {})
                    progress.update(
                        task,
                        total=max(bar.get("total") or 0, 1),
                        completed=bar.get("processed") or 0,
                        description=f"{sync_type} ({status.get('status')})",
                    )
                    if event != "progress":
                        final = status
                        break
    progress.update(
        task,
        completed=progress.tasks[task].total or 1,
        description=f"{sync_type} ({final.get('status')})",
    )
    return final


async def _drive(base: str, key: str, console: Console) -> dict[str, dict[str, Any]]:
    import aiohttp
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    results: dict[str, dict[str, Any]] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
        await _wait_ready(session, base)
        columns = (
            TextColumn("{task.description:<28}"),
            BarColumn(),
            TextColumn("{task.completed:>4.0f}/{task.total:<4.0f}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            for sync_type in SYNC_ORDER:
                results[sync_type] = await _follow(session, base, key, sync_type, progress)
    return results


# -- summary --------------------------------------------------------------------------------------


def _duration(milliseconds: object) -> str:
    if not isinstance(milliseconds, int):
        return "-"
    return f"{milliseconds} ms" if milliseconds < 1000 else f"{milliseconds / 1000:.1f} s"


def _holdings(db_url: str, clinic: ClinicView) -> str:
    """What the demo clinic's rows look like now: what the phone agent and callers would see."""
    from sqlalchemy import func, select

    from daemon.store import Database
    from daemon.store.models import Case, PimsAppointment, ScheduleSlot

    db = Database(db_url)
    try:
        with db.session() as session:

            def count(query: Any) -> int:
                return int(session.scalar(query) or 0)

            cases = count(
                select(func.count())
                .select_from(Case)
                .where(Case.clinic_id == clinic.id, Case.deleted_at.is_(None))
            )
            appointments = count(
                select(func.count())
                .select_from(PimsAppointment)
                .where(PimsAppointment.clinic_id == clinic.id, PimsAppointment.deleted_at.is_(None))
            )
            slots = count(
                select(func.count())
                .select_from(ScheduleSlot)
                .where(ScheduleSlot.clinic_id == clinic.id)
            )
            free = count(
                select(func.count())
                .select_from(ScheduleSlot)
                .where(
                    ScheduleSlot.clinic_id == clinic.id, ScheduleSlot.booked < ScheduleSlot.capacity
                )
            )
    finally:
        db.dispose()
    return (
        f"database   {cases} live cases, {appointments} PIMS appointments, {slots} slots "
        f"({free} with free capacity) for {clinic.name}"
    )


def _summary(
    results: dict[str, dict[str, Any]],
    base: str,
    simulator_url: str,
    key: str,
    clinic: ClinicView,
    holdings: str,
) -> str:
    from rich.console import Console
    from rich.table import Table

    out = Console(file=io.StringIO(), force_terminal=False, width=200, record=True, soft_wrap=True)
    table = Table(title=f"pims-sync demo — {clinic.name} ({clinic.timezone})")
    for column in ("sync", "status", "stats", "duration"):
        table.add_column(column)
    for sync_type, result in results.items():
        stats = ", ".join(f"{k} {v}" for k, v in (result.get("stats") or {}).items())
        duration = result.get("durationMs")
        table.add_row(
            sync_type,
            str(result.get("status")),
            stats,
            _duration(duration),
        )
    out.print(table)
    any_id = next(iter(results.values()), {}).get("syncId", "<syncId>")
    out.print(
        f"daemon     {base}   (health {base}/health, readiness {base}/ready, "
        f"metrics {base}/metrics, API {base}/openapi.json)"
    )
    out.print(
        f"simulator  {simulator_url}   (login {SIM_USER} / {SIM_PASSWORD}, company {SIM_COMPANY})"
    )
    out.print(holdings)
    out.print(f"files      ./{DEMO_DB}   state ./{DEMO_STATE} (owner-only)")
    out.print("try it:")
    out.print(f"  curl -s -X POST -H 'X-API-Key: {key}' {base}/api/sync/cases")
    out.print(f"  curl -s -H 'X-API-Key: {key}' {base}/api/sync/inbound/{any_id}")
    out.print(f"  curl -s -H 'X-API-Key: {key}' {base}/api/schedules")
    return out.export_text()


# -- the command ----------------------------------------------------------------------------------


def run(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console

    from daemon.app import Daemon
    from daemon.cli.run_cmd import SignalPlan, configure_daemon_logging
    from daemon.store import Database, SecretBox, Store
    from daemon.store.migrate import upgrade
    from providers.idexx_neo.simulator import SimulatorServer

    port = _choose_port(args.port, settings)
    state = DemoState.load_or_create(DEMO_STATE)
    demo_settings = replace(
        settings,
        database_url=f"sqlite:///./{DEMO_DB}",
        host="127.0.0.1",
        port=port,
        encryption_key=state.encryption_key,
        previous_encryption_keys=(),
        auto_migrate=True,
        log_format="text" if "LOG_FORMAT" not in os.environ else settings.log_format,
        log_level="WARNING" if "LOG_LEVEL" not in os.environ else settings.log_level,
    )
    handle = configure_daemon_logging(demo_settings)
    console = Console(stderr=True)

    simulator: SimulatorServer = SimulatorServer(
        timezone=TIMEZONE,
        username=SIM_USER,
        password=SIM_PASSWORD,
        company_id=SIM_COMPANY,
    ).start()
    db = Database(demo_settings.database_url)
    daemon = Daemon(demo_settings)
    try:
        upgrade(db.engine)
        store = Store(db, SecretBox(state.encryption_key))
        clinic = _prepare(store, state, simulator.url)
        db.dispose()
        console.print(
            f"[bold]pims-sync demo[/bold]: simulator at {simulator.url}, starting the daemon …"
        )
        daemon.start()
        base = f"http://127.0.0.1:{daemon.port}"
        assert state.api_key is not None
        results = asyncio.run(_drive(base, state.api_key, console))
        holdings = _holdings(demo_settings.database_url, clinic)
        sys.stdout.write(_summary(results, base, simulator.url, state.api_key, clinic, holdings))
        sys.stdout.flush()
        failed = [t for t, r in results.items() if r.get("status") not in ("completed",)]
        if not args.once:
            console.print("serving until Ctrl-C …")
            plan = SignalPlan(daemon)
            plan.install()
            while not plan.stop.wait(1.0):
                pass
        return EXIT_FAILED if failed and args.once else EXIT_OK
    finally:
        daemon.stop()
        simulator.stop()
        handle.shutdown(5.0)
