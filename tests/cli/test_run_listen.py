"""``pims-sync run`` that cannot listen: the one line it ends with names ``HOST``/``PORT``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import Cli

#: No clinics, no cron, no browser: only the listener is under test.
QUIET = {"ENABLE_SCHEDULER": "false", "LOG_LEVEL": "ERROR"}


def _last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


def test_a_host_that_is_no_address_or_name_is_refused_before_start(cli: Cli) -> None:
    done = cli("run", HOST="not a host", PORT="0", **QUIET)
    assert done.code == 2
    assert done.stderr.strip().splitlines() == [
        "pims-sync: error: HOST: must be an IP address or a host name (got 'not a host')"
    ]


def test_a_host_that_does_not_resolve_names_the_variable(cli: Cli) -> None:
    done = cli("run", HOST="nowhere.invalid", PORT="0", **QUIET)
    assert done.code == 1
    line = _last_line(done.stderr)
    assert line.startswith("pims-sync: error: cannot listen on nowhere.invalid:0 (HOST, PORT): "), (
        line
    )
    assert "Traceback" not in done.stderr


def test_a_taken_port_names_the_variable_and_the_address(cli: Cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("run", HOST="127.0.0.1", PORT=str(port), **QUIET)
    assert done.code == 1
    line = _last_line(done.stderr)
    assert line.startswith(f"pims-sync: error: cannot listen on 127.0.0.1:{port} (HOST, PORT): "), (
        line
    )
    assert line.endswith(": Address already in use"), line


def test_the_demo_on_a_taken_port_ends_with_one_line_not_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "daemon", "demo", "--once", "--port", str(port)],
            capture_output=True,
            text=True,
            env={**os.environ, "LOG_LEVEL": "ERROR"},
            cwd=tmp_path,  # the demo's database and state file are written here
            timeout=120,
        )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    assert _last_line(done.stderr).startswith(
        f"pims-sync: error: cannot listen on 127.0.0.1:{port} (HOST, PORT): "
    ), done.stderr


def test_a_taken_port_fails_before_any_clinic_actor_starts(cli: Cli) -> None:
    """Binding comes first: a process that cannot serve must not have started clinic actors
    (and with them cron ticks and syncs) by the time it says so."""
    added = cli("clinic", "add", "--name", "Bound First", "--provider", "ezyvet", "--json")
    assert added.code == 0, added.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("run", HOST="127.0.0.1", PORT=str(port), LOG_LEVEL="INFO")
    assert done.code == 1
    assert _last_line(done.stderr).startswith("pims-sync: error: cannot listen on"), done.stderr
    assert "clinic actor started" not in done.stderr
    assert "Traceback" not in done.stderr
