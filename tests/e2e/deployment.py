"""A real `pims-sync run` process for end-to-end tests: its environment, CLI, HTTP and logs."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests  # schemathesis brings it; plain blocking HTTP keeps these tests simple

from providers.browsers import chromium, procfs
from providers.idexx_neo.simulator import SimulatorServer

KEY = "e2e-encryption-key-0123456789-abcdefghijkl"
PASSWORD = "demo-password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not reached before the deadline: {what}")


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


@dataclass
class Deployment:
    tmp: Path
    simulator: SimulatorServer
    env: dict[str, str]
    port: int = 0
    process: subprocess.Popen[str] | None = None
    keys: dict[str, str] = field(default_factory=dict)
    clinic_id: str = ""
    logs: list[IO[str]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "daemon", *args],
            input=stdin,
            text=True,
            capture_output=True,
            env=self.env,
            timeout=120,
        )

    def add_clinic(self, name: str) -> tuple[str, str]:
        added = self.cli(
            "clinic", "add", "--name", name, "--base-url", self.simulator.url, "--json"
        )
        assert added.returncode == 0, added.stderr
        clinic_id = json.loads(added.stdout)["id"]
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
        key = json.loads(
            self.cli("key", "create", "--clinic", clinic_id, "--name", "e2e", "--json").stdout
        )["key"]
        return clinic_id, key

    def start(self) -> None:
        self.port = free_port()
        self.env["PORT"] = str(self.port)
        # Held open for the life of the process; closed by stop().
        self.logs = [(self.tmp / name).open("a") for name in ("stdout.log", "stderr.log")]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daemon", "run"],
            env=self.env,
            text=True,
            stdout=self.logs[0],
            stderr=self.logs[1],
        )
        wait_for(self._ready, 90, "the daemon's /ready")

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"daemon exited: {self.output()[-3000:]}")
        try:
            return requests.get(f"{self.base}/ready", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def output(self) -> str:
        return "".join(
            (self.tmp / name).read_text()
            for name in ("stdout.log", "stderr.log")
            if (self.tmp / name).exists()
        )

    def post(
        self,
        sync_type: str,
        key: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if key is not None:
            sent["X-API-Key"] = key
        return requests.post(
            f"{self.base}/api/sync/{sync_type}",
            headers=sent,
            data=json.dumps(body if body is not None else {}),
            timeout=120,
        )

    def get(self, path: str, key: str | None = None) -> requests.Response:
        headers = {} if key is None else {"X-API-Key": key}
        return requests.get(f"{self.base}{path}", headers=headers, timeout=60)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        finally:
            for handle in self.logs:
                handle.close()
