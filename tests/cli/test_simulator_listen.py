"""``pims-sync simulator`` that cannot listen ends with the one line every ``pims-sync`` error is:
the prefix, the address, the flag that chose it and the reason (as ``run`` does for PORT)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("provider", ["idexx-neo", "ezyvet"])
def test_a_taken_port_is_one_line_naming_the_flag_and_the_reason(
    provider: str, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "daemon", "simulator", "--provider", provider,
             "--port", str(port)],
            capture_output=True,
            text=True,
            env={**os.environ, "LOG_LEVEL": "ERROR"},
            cwd=tmp_path,
            timeout=60,
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"pims-sync: error: cannot listen on 127.0.0.1:{port} (--port): Address already in use"
    ], done.stderr
    assert done.stdout == ""
