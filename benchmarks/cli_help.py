"""How long ``pims-sync --help`` and every command's ``--help`` take, as whole processes.

Prints, for each, the median and the fastest wall time of N runs of the installed console
script (next to this interpreter, else ``python -m daemon``) and the median's ratio to a bare
``python -c "import argparse"`` on the same interpreter. The runs are interleaved (one round
runs every command once) so that a burst of load elsewhere on the machine hits all alike.
Targets: ≤ 0.3 s and ≤ 12× the bare interpreter.

    .venv/bin/python benchmarks/cli_help.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from daemon.cli import COMMANDS

TARGET_S = 0.3
TARGET_RATIO = 12.0


def _took_s(command: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    script = Path(sys.executable).with_name("pims-sync")
    base = [str(script)] if os.access(script, os.X_OK) else [sys.executable, "-m", "daemon"]
    commands = {"python -c 'import argparse'": [sys.executable, "-c", "import argparse"]}
    for words in [(), *((name,) for name in COMMANDS)]:
        commands[" ".join(("pims-sync", *words, "--help"))] = [*base, *words, "--help"]
    times: dict[str, list[float]] = {label: [] for label in commands}
    load = os.getloadavg()[0]
    for _ in range(args.runs):
        for label, command in commands.items():
            times[label].append(_took_s(command))
    medians = {label: statistics.median(values) for label, values in times.items()}
    bare = medians.pop("python -c 'import argparse'")
    print(f"{' '.join(base)}; {args.runs} runs each; load average {load:.2f} at the start")
    print(f"  {'python -c import argparse':<32} median {bare * 1000:6.1f} ms")
    worst = 0.0
    for label, took in medians.items():
        worst = max(worst, took)
        print(
            f"  {label:<32} median {took * 1000:6.1f} ms  fastest {min(times[label]) * 1000:6.1f}"
            f" ms  {took / bare:4.1f}×"
        )
    verdict = "ok" if worst <= TARGET_S and worst / bare <= TARGET_RATIO else "OVER TARGET"
    print(
        f"slowest {worst * 1000:.1f} ms = {worst / bare:.1f}× the bare interpreter "
        f"(targets ≤ {TARGET_S * 1000:.0f} ms and ≤ {TARGET_RATIO:.0f}×): {verdict}"
    )


if __name__ == "__main__":
    main()
