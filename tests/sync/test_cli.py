"""``pims-sync sync`` as an operator runs it: a real process against the simulator."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from daemon.store import Store
from daemon.store.clinics import ClinicView
from daemon.sync.context import Repositories
from providers.base import MemorySessionStore, ProviderContext
from providers.browsers import BrowserPool
from providers.idexx_neo.provider import IdexxNeoProvider
from providers.idexx_neo.simulator import SimulatorServer
from tests.cli.conftest import Cli
from tests.support import CREDENTIALS, PROVIDER, ZONE, add_simulated_clinic
from tests.sync.conftest import FAST, finalized_with_consultation

LA = ZoneInfo(ZONE)


@pytest.fixture(scope="module")
def live_sim() -> Iterator[SimulatorServer]:
    """The CLI has no clock to inject: this simulator's "today" is the real one."""
    with SimulatorServer(timezone=ZONE) as server:
        yield server


@pytest.fixture(scope="module")
def live_session(live_sim: SimulatorServer, pool: BrowserPool) -> str:
    memory = MemorySessionStore()

    async def login() -> None:
        context = ProviderContext(
            clinic_id="cli", timezone=LA, base_url=live_sim.url, session_store=memory, browsers=pool
        )
        async with IdexxNeoProvider(context, FAST) as provider:
            await provider.authenticate(CREDENTIALS)

    asyncio.run(login())
    assert memory.state is not None
    return memory.state


@pytest.fixture
def clinic(store: Store, live_sim: SimulatorServer, live_session: str) -> ClinicView:
    live_sim.reset()
    view = add_simulated_clinic(store, "CLI Clinic", live_sim.url)
    store.session_store(view.id).save(live_session, None)
    return view


@pytest.fixture
def cli(database_url: str) -> Cli:
    return Cli(database_url)


def single_json(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, stdout
    document: dict[str, Any] = json.loads(lines[0])
    return document


def test_cases_sync_from_the_command_line(
    cli: Cli, clinic: ClinicView, store: Store, live_sim: SimulatorServer
) -> None:
    logins = live_sim.stats()["logins"]
    done = cli("sync", "cases", "--clinic", str(clinic.id), "--json", TZ="Pacific/Kiritimati")
    assert done.code == 0, done.stderr
    result = single_json(done.stdout)
    assert result["success"] is True and result["status"] == "completed"
    assert set(result) == {"success", "syncId", "status", "stats", "durationMs", "errors"}
    stats = result["stats"]
    assert stats["total"] == sum(
        stats[k] for k in ("created", "updated", "skipped", "failed", "deleted")
    )
    today = live_sim.dataset.today
    events = finalized_with_consultation(
        live_sim, today - timedelta(days=1)
    ) + finalized_with_consultation(live_sim, today)
    cases = {c.external_id: c for c in Repositories.of(store).cases.all_for_clinic(clinic.id)}
    assert stats["created"] == len(events) == len(cases)
    for event in events:
        case = cases[f"pims-appt-{PROVIDER}-{event['appointment_id']}"]
        wall = datetime.fromisoformat(event["start"]).replace(tzinfo=LA)
        assert case.scheduled_at == wall  # the real instant, whatever the process's TZ
    assert live_sim.stats()["logins"] == logins  # the stored session was reused

    again = cli("sync", "cases", "--clinic", str(clinic.id), "--json")
    repeat = single_json(again.stdout)
    assert again.code == 0
    assert (repeat["stats"]["created"], repeat["stats"]["updated"]) == (0, 0)


def test_inbound_prints_a_summary(cli: Cli, clinic: ClinicView) -> None:
    done = cli("sync", "inbound", "--clinic", str(clinic.id))
    assert done.code == 0, done.stderr
    assert "inbound  completed" in done.stdout
    assert "appointments" in done.stdout and "blockedSlots" in done.stdout
    assert "{" not in done.stdout  # a table, not JSON


def test_partial_sync_exits_1(cli: Cli, clinic: ClinicView, store: Store) -> None:
    closed = {str(d): {"enabled": False, "open": "09:00", "close": "17:00"} for d in range(7)}
    store.clinics.update(clinic.id, daily_hours=closed)
    done = cli("sync", "inbound", "--clinic", str(clinic.id), "--json")
    assert done.code == 1
    result = single_json(done.stdout)
    assert (result["success"], result["status"]) == (False, "partial")
    assert result["errors"][0]["code"] == "no_business_hours"


def test_sync_already_queued_is_refused_with_the_409_body(
    cli: Cli, clinic: ClinicView, store: Store
) -> None:
    queued = store.syncs.enqueue(clinic.id, "cases", "api")
    done = cli("sync", "cases", "--clinic", str(clinic.id), "--json")
    assert done.code == 1
    body = single_json(done.stdout)
    assert body["success"] is False
    assert body["error"]["code"] == "sync_in_progress"
    assert body["syncId"] == str(queued.id)
    human = cli("sync", "cases", "--clinic", str(clinic.id))
    assert human.code == 1 and human.stdout == ""
    assert str(queued.id) in human.stderr


def test_unknown_clinic_exits_1(cli: Cli, clinic: ClinicView) -> None:
    done = cli("sync", "inbound", "--clinic", "00000000-0000-0000-0000-000000000000")
    assert done.code == 1
    assert "does not exist" in done.stderr


CLINIC = "6f1c2b1e-2a7d-4a55-9a34-3b0f5d1f6e01"
BAD_INPUT = [
    (["sync", "nightly", "--clinic", CLINIC], "TYPE"),
    (["sync", "cases", "--clinic", "not-a-uuid"], "--clinic"),
    (
        ["sync", "cases", "--clinic", CLINIC, "--start", "2026-02-30", "--end", "2026-03-01"],
        "--start",
    ),
    (
        ["sync", "cases", "--clinic", CLINIC, "--start", "2026-03-05", "--end", "2026-03-01"],
        "--end",
    ),
    (
        ["sync", "inbound", "--clinic", CLINIC, "--start", "2026-01-01", "--end", "2026-03-04"],
        "at most 62",
    ),
    (["sync", "cases", "--clinic", CLINIC, "--start", "2026-03-01"], "--end"),
    (["sync", "reconciliation", "--clinic", CLINIC, "--lookback-days", "91"], "--lookback-days"),
    (["sync", "reconciliation", "--clinic", CLINIC, "--lookback-days", "0"], "--lookback-days"),
    (["sync", "cases", "--clinic", CLINIC, "--parallel", "21"], "--parallel"),
    (["sync", "cases", "--clinic", CLINIC, "--parallel", "five"], "--parallel"),
    (
        [
            "sync",
            "reconciliation",
            "--clinic",
            CLINIC,
            "--start",
            "2026-03-01",
            "--end",
            "2026-03-02",
        ],
        "--start",
    ),
    (["sync", "inbound", "--clinic", CLINIC, "--lookback-days", "7"], "--lookback-days"),
    (["sync", "cases", "--clinic", CLINIC, "--lookback-days", "7"], "--lookback-days"),
]


@pytest.mark.parametrize(
    ("argv", "named"), BAD_INPUT, ids=[a[1] + "-" + a[0][1] for a in BAD_INPUT]
)
def test_bad_input_exits_2_naming_the_argument(tmp_path: Path, argv: list[str], named: str) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'never-opened.db'}")
    done = cli(*argv, "--json")
    assert done.code == 2, done.stderr
    assert named in done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "never-opened.db").exists()


def test_today_defaults_are_the_clinic_s(
    cli: Cli, clinic: ClinicView, live_sim: SimulatorServer, store: Store
) -> None:
    done = cli(
        "sync",
        "reconciliation",
        "--clinic",
        str(clinic.id),
        "--json",
        "--lookback-days",
        "3",
        TZ="UTC",
    )
    assert done.code == 0, done.stderr
    record = store.syncs.get(uuid.UUID(single_json(done.stdout)["syncId"]))
    assert record is not None and record.trigger == "cli"
    today: date = live_sim.dataset.today
    assert (record.start_date, record.end_date) == (today - timedelta(days=3), today)
