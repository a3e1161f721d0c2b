"""A simulator in a process of its own, as benchmarks run one: its latency and CPU are then not
the measured process's.

The simulator's ``--json`` line (its URL) is read before the block starts; the process is
stopped when the block ends.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

STOP_TIMEOUT_S = 15.0


@contextmanager
def simulator_process(pims: str, *options: str) -> Iterator[str]:
    """``python -m providers.<pims>.simulator --port 0 --json OPTIONS``; yields its URL."""
    command = [
        sys.executable, "-m", f"providers.{pims}.simulator", "--port", "0", "--json", *options
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield str(json.loads(process.stdout.readline())["url"])
    finally:
        process.terminate()
        process.wait(STOP_TIMEOUT_S)
