"""``pims-sync demo [--once] [--port N]``: the whole system against the simulators (contract §2.5).

On the embedded database ``./pims-sync-demo.db`` with its state (encryption key, demo API keys)
in ``./.pims-sync-demo.json`` (owner-only), it starts the IDEXX Neo and the ezyVet simulators,
sets up one clinic on each ("Demo Clinic" on IDEXX Neo, "Demo ezyVet Clinic" on ezyVet, with
its opening hours since ezyVet gives none), starts the daemon, triggers one sync of each type
for each clinic over HTTP while showing live progress, and prints a summary per clinic. Running
it again reuses everything and duplicates nothing.
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
from daemon.cli.values import integer_value
from daemon.config import Settings
from daemon.schedule import ScheduleEntry
from daemon.validation import InvalidValue

if TYPE_CHECKING:
    import aiohttp
    from rich.console import Console
    from rich.progress import Progress

    from daemon.store import Store
    from daemon.store.clinics import ClinicView
    from providers.ezyvet.simulator import EzyVetSimulator
    from providers.idexx_neo.simulator import SimulatorServer

DEMO_DB = Path("pims-sync-demo.db")
DEMO_STATE = Path(".pims-sync-demo.json")
CLINIC_NAME = "Demo Clinic"
EZYVET_CLINIC_NAME = "Demo ezyVet Clinic"
TIMEZONE = "America/Los_Angeles"
SIM_USER, SIM_PASSWORD, SIM_COMPANY = "demo", "demo-password", "demo-clinic"
EZY_PARTNER, EZY_CLIENT, EZY_SECRET = "demo-partner", "demo-client", "demo-secret"
#: The ezyVet clinic's opening hours (``clinic set --hours``): ezyVet's own are not read.
EZYVET_HOURS: dict[str, dict[str, object]] = {
    "0": {"enabled": False, "open": "00:00", "close": "00:00"},
    **{str(day): {"enabled": True, "open": "08:00", "close": "18:00"} for day in range(1, 6)},
    "6": {"enabled": True, "open": "09:00", "close": "13:00"},
}
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
    parser.add_argument("--port", help="the daemon's port (default PORT, or a free one)")
    parser.set_defaults(handler=run)


# -- state kept beside the demo database --------------------------------------------------------


@dataclass
class DemoState:
    encryption_key: str
    api_key: str | None = None  # the IDEXX Neo clinic's (the name earlier demos used)
    api_key_id: str | None = None
    ezyvet_api_key: str | None = None
    ezyvet_api_key_id: str | None = None

    @classmethod
    def load_or_create(cls, path: Path) -> DemoState:
        if path.exists():
            data = json.loads(path.read_text())
            return cls(
                data["encryptionKey"],
                data.get("apiKey"),
                data.get("apiKeyId"),
                data.get("ezyvetApiKey"),
                data.get("ezyvetApiKeyId"),
            )
        state = cls(secrets.token_urlsafe(32))
        state.save(path)
        return state

    def key_of(self, provider: str) -> tuple[str | None, str | None]:
        if provider == "ezyvet":
            return self.ezyvet_api_key, self.ezyvet_api_key_id
        return self.api_key, self.api_key_id

    def set_key(self, provider: str, key: str, key_id: str) -> None:
        if provider == "ezyvet":
            self.ezyvet_api_key, self.ezyvet_api_key_id = key, key_id
        else:
            self.api_key, self.api_key_id = key, key_id

    def save(self, path: Path) -> None:
        body = json.dumps(
            {
                "encryptionKey": self.encryption_key,
                "apiKey": self.api_key,
                "apiKeyId": self.api_key_id,
                "ezyvetApiKey": self.ezyvet_api_key,
                "ezyvetApiKeyId": self.ezyvet_api_key_id,
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


def _choose_port(requested: str | None, settings: Settings) -> int:
    if requested is not None:
        try:
            return integer_value(requested, "--port", 0, 65535)
        except InvalidValue as exc:
            raise usage_error(str(exc)) from None
    return settings.port if _port_free(settings.port) else 0


@dataclass(frozen=True)
class DemoClinic:
    """One demo clinic: its provider, its simulator's login and the settings it needs."""

    name: str
    provider: str
    fields: dict[str, str]
    login_text: str  # how the summary names the simulator's login (never a real secret)
    daily_hours: dict[str, dict[str, object]] | None = None


IDEXX_DEMO = DemoClinic(
    CLINIC_NAME,
    "idexx-neo",
    {"username": SIM_USER, "password": SIM_PASSWORD, "company_id": SIM_COMPANY},
    f"login {SIM_USER} / {SIM_PASSWORD}, company {SIM_COMPANY}",
)
EZYVET_DEMO = DemoClinic(
    EZYVET_CLINIC_NAME,
    "ezyvet",
    {"partner_id": EZY_PARTNER, "client_id": EZY_CLIENT, "client_secret": EZY_SECRET},
    f"partner {EZY_PARTNER}, client {EZY_CLIENT} / {EZY_SECRET}",
    EZYVET_HOURS,
)


def _prepare(
    store: Store, state: DemoState, spec: DemoClinic, simulator_url: str
) -> tuple[ClinicView, str]:
    """Create or reuse a demo clinic, its credentials, API key and schedules."""
    clinic = store.clinics.find_by_name(spec.name)
    if clinic is None:
        clinic = store.clinics.add(
            name=spec.name, timezone=TIMEZONE, provider=spec.provider, base_url=simulator_url
        )
    clinic = store.clinics.update(
        clinic.id,
        base_url=simulator_url,
        timezone=TIMEZONE,
        is_active=True,
        daily_hours=spec.daily_hours,
    )
    # The simulators are new on every run, so their old sessions and tokens are gone: fresh
    # credentials (which drop the cached ones).
    store.credentials.set(clinic.id, provider=spec.provider, fields=spec.fields)
    key, _ = state.key_of(spec.provider)
    owner = store.keys.lookup(key) if key else None
    if key is None or owner is None or not owner.is_active or owner.clinic_id != clinic.id:
        view, key = store.keys.create(clinic.id, name="demo")
        state.set_key(spec.provider, key, str(view.id))
        state.save(DEMO_STATE)
    for entry in SCHEDULES:
        clinic = store.clinics.set_schedule(clinic.id, entry)
    return clinic, key


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
    session: aiohttp.ClientSession,
    base: str,
    key: str,
    sync_type: str,
    progress: Progress,
    label: str,
) -> dict[str, Any]:
    import aiohttp

    headers = {"X-API-Key": key, "Prefer": "respond-async", "Content-Type": "application/json"}
    async with session.post(f"{base}/api/sync/{sync_type}", data=b"{}", headers=headers) as resp:
        body: dict[str, Any] = await resp.json()
        if resp.status not in (200, 202):
            raise CliFailure(f"{sync_type} trigger answered {resp.status}: {body}")
    task = progress.add_task(f"{label} {sync_type}", total=1)
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
                        description=f"{label} {sync_type} ({status.get('status')})",
                    )
                    if event != "progress":
                        final = status
                        break
    progress.update(
        task,
        completed=progress.tasks[task].total or 1,
        description=f"{label} {sync_type} ({final.get('status')})",
    )
    return final


async def _drive(
    base: str, keys: dict[str, str], console: Console
) -> dict[str, dict[str, dict[str, Any]]]:
    """Each clinic's three syncs in order (clinic name -> sync type -> final status); the
    clinics run side by side, as the daemon would run them."""
    import aiohttp
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
        await _wait_ready(session, base)
        columns = (
            TextColumn("{task.description:<44}"),
            BarColumn(),
            TextColumn("{task.completed:>4.0f}/{task.total:<4.0f}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:

            async def one(label: str, key: str) -> dict[str, dict[str, Any]]:
                done: dict[str, dict[str, Any]] = {}
                for sync_type in SYNC_ORDER:
                    done[sync_type] = await _follow(session, base, key, sync_type, progress, label)
                return done

            finished = await asyncio.gather(*(one(label, key) for label, key in keys.items()))
    return dict(zip(keys, finished, strict=True))


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


@dataclass(frozen=True)
class DemoRun:
    """One clinic's part of the demo, as the summary shows it."""

    spec: DemoClinic
    clinic: ClinicView
    key: str
    simulator_url: str
    results: dict[str, dict[str, Any]]
    holdings: str


def _summary(runs: list[DemoRun], base: str) -> str:
    from rich.console import Console

    out = Console(file=io.StringIO(), force_terminal=False, width=200, record=True, soft_wrap=True)
    for run in runs:
        _clinic_summary(out, run, base)
        out.print()
    out.print(
        f"daemon     {base}   (health {base}/health, readiness {base}/ready, "
        f"metrics {base}/metrics, API {base}/openapi.json)"
    )
    out.print(f"files      ./{DEMO_DB}   state ./{DEMO_STATE} (owner-only)")
    return out.export_text()


def _clinic_summary(out: Console, run: DemoRun, base: str) -> None:
    from rich.table import Table

    clinic, results, key = run.clinic, run.results, run.key
    table = Table(title=f"pims-sync demo — {clinic.name} ({clinic.provider}, {clinic.timezone})")
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
    inbound_id = results.get("inbound", {}).get("syncId", "<syncId>")
    out.print(f"simulator  {run.simulator_url}   ({run.spec.provider}: {run.spec.login_text})")
    out.print(run.holdings)
    out.print(f"try it ({clinic.name}):")
    out.print(f"  curl -s -X POST -H 'X-API-Key: {key}' {base}/api/sync/cases")
    out.print(f"  curl -s -H 'X-API-Key: {key}' {base}/api/sync/inbound/{inbound_id}")
    out.print(f"  curl -s -H 'X-API-Key: {key}' {base}/api/schedules")


# -- the command ----------------------------------------------------------------------------------


def run(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console

    from daemon.app import Daemon, StartupError
    from daemon.cli.run_cmd import SignalPlan, configure_daemon_logging
    from daemon.store import Database, SecretBox, Store
    from daemon.store.migrate import upgrade
    from providers.ezyvet.simulator import EzyVetSimulator
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

    neo: SimulatorServer = SimulatorServer(
        timezone=TIMEZONE,
        username=SIM_USER,
        password=SIM_PASSWORD,
        company_id=SIM_COMPANY,
    ).start()
    ezyvet: EzyVetSimulator | None = None
    db = Database(demo_settings.database_url)
    daemon = Daemon(demo_settings)
    try:
        ezyvet = EzyVetSimulator(
            timezone=TIMEZONE,
            partner_id=EZY_PARTNER,
            client_id=EZY_CLIENT,
            client_secret=EZY_SECRET,
        ).start()
        simulators = {IDEXX_DEMO.name: neo.url, EZYVET_DEMO.name: ezyvet.url}
        upgrade(db.engine)
        store = Store(db, SecretBox(state.encryption_key))
        prepared = {
            spec.name: (spec, *_prepare(store, state, spec, simulators[spec.name]))
            for spec in (IDEXX_DEMO, EZYVET_DEMO)
        }
        db.dispose()
        console.print(
            f"[bold]pims-sync demo[/bold]: IDEXX Neo simulator at {neo.url}, ezyVet simulator "
            f"at {ezyvet.url}, starting the daemon …"
        )
        try:
            daemon.start()
        except StartupError as exc:  # e.g. --port taken: one line, as `run` says it
            raise CliFailure(str(exc)) from None
        base = f"http://127.0.0.1:{daemon.port}"
        keys = {name: key for name, (_, _, key) in prepared.items()}
        results = asyncio.run(_drive(base, keys, console))
        runs = [
            DemoRun(
                spec,
                clinic,
                key,
                simulators[name],
                results[name],
                _holdings(demo_settings.database_url, clinic),
            )
            for name, (spec, clinic, key) in prepared.items()
        ]
        sys.stdout.write(_summary(runs, base))
        sys.stdout.flush()
        failed = [
            (name, sync_type)
            for name, per_type in results.items()
            for sync_type, result in per_type.items()
            if result.get("status") not in ("completed",)
        ]
        if not args.once:
            console.print("serving until Ctrl-C …")
            plan = SignalPlan(daemon)
            plan.install()
            while not plan.stop.wait(1.0):
                pass
        return EXIT_FAILED if failed and args.once else EXIT_OK
    finally:
        daemon.stop()
        if ezyvet is not None:
            ezyvet.stop()
        neo.stop()
        handle.shutdown(5.0)
