"""The server's own time zone never changes a result (contract §1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from providers.ezyvet.simulator import EzyVetSimulator
from tests.ezyvet.conftest import TODAY, ZONE

REPO = Path(__file__).resolve().parents[2]


def probe(sim: EzyVetSimulator, tz: str) -> dict[str, object]:
    start, end = TODAY - timedelta(days=7), TODAY + timedelta(days=3)
    env = {**os.environ, "TZ": tz}
    completed = subprocess.run(
        [sys.executable, "-m", "tests.ezyvet.tz_probe", sim.url, ZONE, str(start), str(end)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(completed.stdout)
    return result


def test_same_results_under_utc_and_kiritimati(sim: EzyVetSimulator) -> None:
    utc = probe(sim, "UTC")
    far = probe(sim, "Pacific/Kiritimati")
    assert utc.pop("utc_offset") == "+0000" and far.pop("utc_offset") == "+1400"
    assert utc == far
    assert len(utc["appointments"]) > 30  # type: ignore[arg-type]
