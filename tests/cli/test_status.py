"""``pims-sync status``: the fleet view, read from the database alone (SQLite and PostgreSQL).

The history a daemon would have left (``schedule_syncs`` rows, old configuration stamps) is
written straight into the database, then the command runs as a real process.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update

from daemon.schedule import ScheduleEntry
from daemon.store import Store
from daemon.store.models import (
    Clinic,
    ClinicLease,
    ClinicScheduleConfig,
    PimsCredential,
    ScheduleSync,
)
from daemon.store.types import utcnow
from tests.cli.conftest import Cli

LA = ZoneInfo("America/Los_Angeles")


def _clinic(store: Store, name: str, *, credentials: bool = True, active: bool = True) -> uuid.UUID:
    clinic = store.clinics.add(name=name, timezone="America/Los_Angeles", provider="idexx-neo",
                               base_url=None)  # fmt: skip
    if credentials:
        store.credentials.set(
            clinic.id,
            provider="idexx-neo",
            fields={"username": "u", "password": "p", "company_id": "c"},
        )
    if not active:
        store.clinics.update(clinic.id, is_active=False)
    return clinic.id


def _daily_cron_hours_ago(hours: int) -> str:
    """A daily cron whose last tick was ``hours`` ago (in the clinic's zone)."""
    tick = (utcnow() - timedelta(hours=hours)).astimezone(LA)
    return f"{tick.minute} {tick.hour} * * *"


def _backdate(store: Store, clinic_id: uuid.UUID, days: int = 3) -> None:
    """As if the clinic, its schedules and its credentials were set up days ago."""
    then = utcnow() - timedelta(days=days)
    with store.db.session() as session:
        session.execute(update(Clinic).where(Clinic.id == clinic_id).values(updated_at=then))
        session.execute(
            update(ClinicScheduleConfig)
            .where(ClinicScheduleConfig.clinic_id == clinic_id)
            .values(updated_at=then)
        )
        session.execute(
            update(PimsCredential)
            .where(PimsCredential.clinic_id == clinic_id)
            .values(updated_at=then)
        )


def _row(
    store: Store,
    clinic_id: uuid.UUID,
    sync_type: str,
    status: str,
    *,
    queued: datetime,
    trigger: str = "schedule",
    error_code: str | None = None,
    errors: tuple[str, ...] = (),
    heartbeat: datetime | None = None,
) -> uuid.UUID:
    sync_id = uuid.uuid4()
    done = status not in ("queued", "running")
    with store.db.session() as session:
        session.add(
            ScheduleSync(
                id=sync_id,
                clinic_id=clinic_id,
                sync_type=sync_type,
                trigger=trigger,
                status=status,
                error_code=error_code,
                options={},
                stats={},
                errors=[{"code": code, "message": "from the test"} for code in errors],
                total_items=0,
                processed_items=0,
                queued_at=queued,
                started_at=None if status == "queued" else queued + timedelta(seconds=1),
                completed_at=queued + timedelta(seconds=30) if done else None,
                heartbeat_at=heartbeat or queued,
            )
        )
    return sync_id


def _codes(clinic: dict[str, Any]) -> list[str]:
    return [a["code"] for a in clinic["attention"]]


def test_status_lists_every_clinic_with_those_needing_attention_first(
    cli: Cli, store: Store
) -> None:
    now = utcnow()
    day_ago = now - timedelta(days=1)

    healthy = _clinic(store, "Alum Rock")
    for sync_type in ("inbound", "cases", "reconciliation"):
        _row(store, healthy, sync_type, "completed", queued=now - timedelta(hours=2))
    store.clinics.set_schedule(healthy, ScheduleEntry("cases", "*/5 * * * *"))

    rejected = _clinic(store, "Berryessa")
    _backdate(store, rejected)
    _row(store, rejected, "cases", "failed", queued=now - timedelta(minutes=30),
         error_code="pims_auth_failed")  # fmt: skip

    # Its daily cases tick was three hours ago: an older run does not count, nothing since.
    dark = _clinic(store, "Calaveras")
    store.clinics.set_schedule(dark, ScheduleEntry("cases", _daily_cron_hours_ago(3)))
    _backdate(store, dark)
    _row(store, dark, "cases", "completed", queued=now - timedelta(hours=27))
    # and a reconciliation whose process died: running, heartbeat silent for ten minutes.
    stale = _row(store, dark, "reconciliation", "running", queued=now - timedelta(minutes=15),
                 heartbeat=now - timedelta(minutes=10))  # fmt: skip

    no_hours = _clinic(store, "Diablo")
    _row(store, no_hours, "inbound", "partial", queued=day_ago, errors=("no_business_hours",))

    no_login = _clinic(store, "Evergreen", credentials=False)

    # Same schedule as Calaveras, but its tick produced a schedule-triggered row: served.
    served = _clinic(store, "Fremont")
    store.clinics.set_schedule(served, ScheduleEntry("cases", _daily_cron_hours_ago(3)))
    _backdate(store, served)
    tick = now - timedelta(hours=3)
    _row(store, served, "cases", "completed", queued=tick.replace(second=1, microsecond=0))

    asleep = _clinic(store, "Aardvark Hollow", credentials=False, active=False)

    result = cli("status", "--json")
    assert result.code == 0, result.stderr
    fleet = result.json()
    order = [c["name"] for c in fleet["clinics"]]
    assert order == [
        "Berryessa", "Calaveras", "Diablo", "Evergreen",  # need attention, by name
        "Alum Rock", "Fremont",  # fine
        "Aardvark Hollow",  # inactive, last
    ]  # fmt: skip
    assert fleet["needAttention"] == 4
    by_name = {c["name"]: c for c in fleet["clinics"]}

    assert _codes(by_name["Berryessa"]) == ["credentials_rejected"]
    cases = by_name["Berryessa"]["syncs"]["cases"]
    assert cases["status"] == "failed" and cases["errorCode"] == "pims_auth_failed"
    assert 29 * 60 <= cases["ageSeconds"] <= 60 * 60

    dark_view = by_name["Calaveras"]
    assert _codes(dark_view) == ["not_served", "not_served"]
    messages = " ".join(a["message"] for a in dark_view["attention"])
    assert str(stale) in messages and "heartbeat" in messages and "cases was due" in messages
    assert dark_view["syncs"]["reconciliation"]["status"] == "running"

    assert _codes(by_name["Diablo"]) == ["no_business_hours"]
    assert _codes(by_name["Evergreen"]) == ["no_credentials"]
    assert by_name["Evergreen"]["hasCredentials"] is False

    fine = by_name["Alum Rock"]
    assert fine["attention"] == [] and fine["needsAttention"] is False
    assert fine["provider"] == "idexx-neo"
    assert {t: s["status"] for t, s in fine["syncs"].items()} == dict.fromkeys(
        ("inbound", "cases", "reconciliation"), "completed"
    )
    assert fine["nextRun"]["type"] == "cases"
    next_at = datetime.fromisoformat(fine["nextRun"]["at"].replace("Z", "+00:00"))
    assert now < next_at <= now + timedelta(minutes=6)
    assert by_name["Fremont"]["attention"] == []
    assert by_name["Aardvark Hollow"]["isActive"] is False
    assert by_name["Aardvark Hollow"]["attention"] == []
    assert str(asleep) == by_name["Aardvark Hollow"]["id"]
    assert str(no_login) == by_name["Evergreen"]["id"]

    # For people: a table on stdout, the clinics needing attention above the others.
    human = cli("status")
    assert human.code == 0, human.stderr
    out = human.stdout
    assert "4 need attention" in out and "credentials_rejected" in out and "not_served" in out
    assert out.index("Berryessa") < out.index("Evergreen") < out.index("Alum Rock")
    assert human.stderr == "" or "Traceback" not in human.stderr


def test_replaced_credentials_and_a_running_sync_are_not_problems(cli: Cli, store: Store) -> None:
    now = utcnow()
    clinic = _clinic(store, "Gilroy")
    _backdate(store, clinic)
    _row(store, clinic, "cases", "failed", queued=now - timedelta(hours=1),
         error_code="pims_auth_failed")  # fmt: skip
    first = cli("status", "--clinic", str(clinic), "--json").json()["clinics"][0]
    assert _codes(first) == ["credentials_rejected"]

    # The operator stores a new password: the old failure no longer counts against it.
    store.credentials.set(
        clinic, provider="idexx-neo", fields={"username": "u", "password": "new", "company_id": "c"}
    )
    # A sync running with a live heartbeat, and its predecessor shown as the last finished one.
    running = _row(store, clinic, "cases", "running", queued=now, trigger="api", heartbeat=now)
    again = cli("status", "--clinic", str(clinic), "--json")
    assert again.code == 0, again.stderr
    view = again.json()["clinics"][0]
    assert view["attention"] == []
    assert view["syncs"]["cases"]["syncId"] == str(running)
    assert view["syncs"]["cases"]["lastFinished"]["status"] == "failed"


def test_status_arguments_and_failures(cli: Cli, store: Store) -> None:
    clinic = _clinic(store, "Hollister")
    _clinic(store, "Irvington")
    one = cli("status", "--clinic", str(clinic), "--json")
    assert one.code == 0 and [c["id"] for c in one.json()["clinics"]] == [str(clinic)]

    missing = cli("status", "--clinic", str(uuid.uuid4()))
    assert missing.code == 1 and "does not exist" in missing.stderr and missing.stdout == ""
    for args, named in (
        (("--clinic", "nope"), "--clinic"),
        (("--watch", "--interval", "0"), "--interval"),
        (("--watch", "--interval", "soon"), "--interval"),
    ):
        bad = cli("status", *args)
        assert bad.code == 2 and named in bad.stderr, (args, bad.stderr)
        assert "Traceback" not in bad.stderr

    down = cli("status", DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    assert down.code == 1 and "Traceback" not in down.stderr and down.stdout == ""


def test_status_watch_refreshes_until_ctrl_c(cli: Cli, store: Store) -> None:
    clinic = _clinic(store, "Japantown")
    process = subprocess.Popen(
        [sys.executable, "-m", "daemon", "status", "--watch", "--interval", "1", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env,
    )
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while len(lines) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lines, "no first refresh"
        # Something changes between two refreshes: the next object shows it.
        _row(store, clinic, "inbound", "completed", queued=utcnow(), trigger="cli")
        while time.monotonic() < deadline and not any(
            json.loads(line)["clinics"][0]["syncs"]["inbound"] for line in lines
        ):
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(10)
    snapshots = [json.loads(line) for line in lines]
    assert code == 0
    assert len(snapshots) >= 2
    assert snapshots[0]["clinics"][0]["syncs"]["inbound"] is None
    assert snapshots[-1]["clinics"][0]["syncs"]["inbound"]["status"] == "completed"
    assert snapshots[0]["generatedAt"] < snapshots[-1]["generatedAt"]


def test_status_loads_no_actors_or_browsers(cli: Cli) -> None:
    """It reads the database only: no actor system, no browser, no HTTP client."""
    probe = (
        "import sys\nfrom daemon.cli import main\ncode = main(['status', '--json'])\n"
        "sys.stderr.write(repr(sorted(m for m in ('pykka', 'playwright', 'aiohttp') "
        "if m in sys.modules)) + '\\n')\nsys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=cli.env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"
    assert json.loads(done.stdout)["clinics"] == []


def _lease(
    store: Store, clinic_id: uuid.UUID, owner: str | None, expires: datetime, token: int = 1
) -> None:
    """A ``clinic_leases`` row as the replicas' lease loop writes it."""
    with store.db.session() as session:
        session.add(
            ClinicLease(
                clinic_id=clinic_id,
                owner_id=owner,
                fencing_token=token,
                acquired_at=None if owner is None else expires - timedelta(seconds=30),
                expires_at=expires,
            )
        )


def test_status_shows_which_replica_holds_each_clinic(cli: Cli, store: Store) -> None:
    """With replicas, each clinic's lease: who holds it, or that nobody does (free, or held by
    a replica whose lease ran out). Without lease rows (one daemon on SQLite), no column."""
    now = utcnow()
    held = _clinic(store, "Held")
    expired = _clinic(store, "Lapsed")
    free = _clinic(store, "Loose")
    unleased = _clinic(store, "Unleased")

    plain = cli("status")
    assert plain.code == 0 and "REPLICA" not in plain.stdout

    _lease(store, held, "replica-one", now + timedelta(seconds=25), token=4)
    _lease(store, expired, "replica-gone", now - timedelta(minutes=3), token=2)
    _lease(store, free, None, now - timedelta(minutes=1))

    result = cli("status", "--json")
    assert result.code == 0, result.stderr
    by_name = {c["name"]: c for c in result.json()["clinics"]}
    assert by_name["Held"]["lease"]["ownerId"] == "replica-one"
    assert by_name["Held"]["lease"]["held"] is True
    assert by_name["Held"]["lease"]["fencingToken"] == 4
    assert by_name["Lapsed"]["lease"]["ownerId"] == "replica-gone"
    assert by_name["Lapsed"]["lease"]["held"] is False
    assert by_name["Loose"]["lease"] == {
        "ownerId": None,
        "held": False,
        "fencingToken": 1,
        "expiresAt": by_name["Loose"]["lease"]["expiresAt"],
    }
    assert by_name["Unleased"]["lease"] is None
    assert str(unleased) == by_name["Unleased"]["id"]

    human = cli("status")
    assert human.code == 0, human.stderr
    rows = {line.split()[0]: line for line in human.stdout.splitlines() if line.strip()}
    assert "REPLICA" in human.stdout
    assert "replica-one" in rows["Held"]
    assert "replica-gone" in human.stdout and "expired" in human.stdout
    assert "expired" not in rows["Held"]
    assert "none" in rows["Loose"]
