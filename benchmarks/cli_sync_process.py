"""``pims-sync sync cases`` as a whole process, over the simulator's ``scale`` data at 50 ms.

The operator's view of a foreground sync: from exec to exit, start-up included. 150 finalized
appointments with consultations over 14 days, on a cached session (one warm-up login first),
at the default ``--parallel 5``. Prints the wall time of each run, the sync's own ``durationMs``
(the rest is start-up and shut-down), and the ratio to the latency-bound ideal
``(1 + ceil(150 / 5)) × latency`` (one calendar call, then rounds of 5 consultation fetches);
the target is ≤ 1.5. Then where start-up goes: the slowest imports of ``-X importtime``.

    .venv/bin/python benchmarks/cli_sync_process.py [--latency-ms 50] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sync_cases import CONSULTATIONS, KEY, ZONE, simulator_process

PARALLEL = 5
TARGET = 1.5


def _cli(env: dict[str, str], *words: str, importtime: bool = False) -> tuple[float, str, str]:
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "daemon"]
    began = time.perf_counter()
    done = subprocess.run(
        [*command, *words], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"pims-sync {' '.join(words)} exited {done.returncode}: {done.stderr}")
    return took, done.stdout, done.stderr


def _slowest_imports(stderr: str, top: int) -> list[tuple[int, str]]:
    """Top-level packages by cumulative import time (µs), from ``-X importtime`` lines."""
    found: dict[str, int] = {}
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
        if match and len(match.group(2)) <= 1:  # a top-level import, not a nested one
            name = match.group(3)
            found[name] = max(found.get(name, 0), int(match.group(1)))
    return sorted(((us, name) for name, us in found.items()), reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="pims-sync-bench-"))
    try:
        measure(workdir, args.latency_ms, args.runs)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def measure(workdir: Path, latency_ms: int, runs: int) -> None:
    database = workdir / "bench.db"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "PIMS_ENCRYPTION_KEY": KEY,
        "LOG_LEVEL": "WARNING",
    }
    latency = latency_ms / 1000
    ideal = latency * (1 + math.ceil(CONSULTATIONS / PARALLEL))
    with simulator_process(latency_ms) as sim_url:
        _cli(env, "migrate")
        clinic = json.loads(
            _cli(env, "clinic", "add", "--name", "Bench", "--base-url", sim_url, "--json")[1]
        )["id"]
        subprocess.run(
            [sys.executable, "-m", "daemon", "credentials", "set", "--clinic", clinic,
             "--username", "demo", "--company-id", "demo-clinic", "--password-stdin"],
            input="demo-password\n", text=True, env=env, check=True, capture_output=True,
        )  # fmt: skip
        # One login, outside the measurement: the runs below use the cached session.
        _cli(env, "sync", "reconciliation", "--clinic", clinic, "--lookback-days", "1")
        today = datetime.now(ZoneInfo(ZONE)).date()  # the simulator's today
        start, end = str(today - timedelta(days=13)), str(today)
        print(
            f"pims-sync sync cases --parallel {PARALLEL}: {CONSULTATIONS} consultations, "
            f"latency {latency_ms} ms, ideal {ideal:.2f} s; load {os.getloadavg()[0]:.2f}"
        )
        walls, ratios = [], []
        words = ("sync", "cases", "--clinic", clinic, "--start", start, "--end", end, "--json")
        for run in range(runs + 1):
            with sqlite3.connect(database) as connection:  # every run creates all 150 cases
                connection.execute("DELETE FROM case_sync_audits")
                connection.execute("DELETE FROM cases")
            importtime = run == runs  # one extra run, only to see where start-up goes
            wall, out, err = _cli(env, *words, importtime=importtime)
            result = json.loads(out)
            assert result["stats"]["created"] == CONSULTATIONS, result["stats"]
            if importtime:
                print("slowest top-level imports of one run (cumulative):")
                for us, name in _slowest_imports(err, 8):
                    print(f"  {us / 1000:7.1f} ms  {name}")
                continue
            sync_s = result["durationMs"] / 1000
            walls.append(wall)
            ratios.append(wall / ideal)
            print(
                f"  run {run + 1}: process {wall:.2f} s, sync {sync_s:.2f} s, "
                f"start-up and exit {wall - sync_s:.2f} s, ratio {wall / ideal:.2f}"
            )
        median = statistics.median(ratios)
        print(
            f"median: process {statistics.median(walls):.2f} s = {median:.2f}× the ideal "
            f"(target ≤ {TARGET}): {'ok' if median <= TARGET else 'OVER TARGET'}"
        )


if __name__ == "__main__":
    main()
