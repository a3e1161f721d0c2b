"""The host's ``TZ`` never changes a result: the same fetch under two extreme zones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from providers.idexx_neo.simulator import SimulatorServer
from tests.support import TODAY, ZONE

REPO = Path(__file__).resolve().parents[2]
START, END = TODAY - timedelta(days=7), TODAY + timedelta(days=7)  # crosses 2026-03-08 (DST)


def probe(sim: SimulatorServer, session: str, tz: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "tests.providers.tz_probe", sim.url, ZONE, str(START), str(END)],
        input=session,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "TZ": tz},
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def test_results_do_not_depend_on_the_host_zone(sim: SimulatorServer, session: str) -> None:
    # Something in the spring-forward gap and something across midnight, besides the feed.
    base = next(e for e in sim.dataset.events.values() if not e.get("is_roster"))
    sim.dataset.upsert_event(
        dict(
            base,
            appointment_id=880001,
            id=880001,
            start="2026-03-08 02:30:00",
            end="2026-03-08 03:15:00",
        )
    )
    sim.dataset.upsert_event(
        dict(
            base,
            appointment_id=880002,
            id=880002,
            start="2026-03-07 23:00:00",
            end="2026-03-08 04:00:00",
        )
    )
    in_utc = probe(sim, session, "UTC")
    in_kiritimati = probe(sim, session, "Pacific/Kiritimati")
    assert in_utc["utc_offset"] == "+0000" and in_kiritimati["utc_offset"] == "+1400"
    assert in_utc["appointments"] == in_kiritimati["appointments"]

    by_id = {a["id"]: a for a in in_utc["appointments"]}
    assert len(by_id) > 50
    assert by_id["880001"]["starts_at"] == "2026-03-08T03:30:00-07:00"  # moved past the gap
    assert by_id["880002"]["starts_at"] == "2026-03-07T23:00:00-08:00"
    assert by_id["880002"]["ends_at"] == "2026-03-08T04:00:00-07:00"
    assert by_id["880002"]["local_date"] == "2026-03-07"
