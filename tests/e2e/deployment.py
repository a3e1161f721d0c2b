"""A real `pims-sync run` process for end-to-end tests, set up through the CLI the way an operator
would, beside the IDEXX Neo simulator; and how to find the daemon's browsers and driver."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from providers.browsers import chromium, procfs
from providers.idexx_neo.simulator import SimulatorServer
from tests.daemon_process import DaemonProcess, daemon_env, run_cli

KEY = "e2e-encryption-key-0123456789-abcdefghijkl"
PASSWORD = "demo-password"


def e2e_env(tmp: Path, **settings: str) -> dict[str, str]:
    """A daemon on a SQLite file in ``tmp``, keyed with ``KEY``."""
    return daemon_env(f"sqlite:///{tmp / 'daemon.db'}", KEY, **settings)


def pool_groups(daemon_pid: int) -> list[int]:
    """The process groups of one daemon's browsers (a group's id is its browser's pid), told
    apart from any other Chromium on the machine by the pool's marker switch."""
    return procfs.find_pids_by_argument_prefix(chromium.marker_prefix(daemon_pid))


def pool_browsers(daemon_pid: int) -> set[int]:
    """The Chromium processes of one daemon's pool: its browsers and their helpers."""
    return {pid for group in pool_groups(daemon_pid) for pid in procfs.group_pids(group)}


def driver_pids(daemon_pid: int) -> list[int]:
    """The daemon's Playwright driver (the Node.js child Playwright starts)."""
    return [
        pid
        for pid in procfs.all_pids()
        if (stat := procfs.read_stat(pid)) is not None
        and stat.ppid == daemon_pid
        and stat.state != "Z"
        and "run-driver" in procfs.cmdline(pid)
    ]


class Deployment(DaemonProcess):
    """The daemon plus the simulator its clinics point at, and the API keys a test made."""

    def __init__(self, tmp: Path, simulator: SimulatorServer, env: dict[str, str]) -> None:
        super().__init__(tmp, env)
        self.tmp = tmp
        self.simulator = simulator
        self.keys: dict[str, str] = {}
        self.clinic_id = ""

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(self.env, *args, stdin=stdin)

    def add_clinic(self, name: str) -> tuple[str, str]:
        added = self.cli(
            "clinic", "add", "--name", name, "--base-url", self.simulator.url, "--json"
        )
        assert added.returncode == 0, added.stderr
        clinic_id: str = json.loads(added.stdout)["id"]
        self.set_credentials(clinic_id)
        key = json.loads(
            self.cli("key", "create", "--clinic", clinic_id, "--name", "e2e", "--json").stdout
        )["key"]
        return clinic_id, key

    def set_credentials(self, clinic_id: str) -> None:
        """The simulator's login for the clinic, the password through stdin as an operator would."""
        stored = self.cli(
            "credentials",
            "set",
            "--clinic",
            clinic_id,
            "--username",
            "demo",
            "--company-id",
            "demo-clinic",
            "--password-stdin",
            stdin=PASSWORD,
        )
        assert stored.returncode == 0, stored.stderr
