"""The daemon as a real process for fault tests: seeded through the store, driven over HTTP and
signals, its output kept in a file."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

from daemon.store import Database, SecretBox, Store
from daemon.store.clinics import ScheduleEntry
from daemon.store.migrate import upgrade
from tests.support import add_simulated_clinic

KEY = "faults-encryption-key-0123456789-abcdefghij"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not reached within {timeout:.0f} s: {what}")


def seed_clinic(
    database_url: str,
    simulator_url: str,
    name: str,
    schedules: tuple[tuple[str, str], ...] = (),
) -> tuple[str, str]:
    """A migrated database with one simulated clinic; returns (clinic id, API key)."""
    db = Database(database_url)
    try:
        upgrade(db.engine)
        store = Store(db, SecretBox(KEY))
        clinic = add_simulated_clinic(store, name, simulator_url)
        for sync_type, cron in schedules:
            store.clinics.set_schedule(clinic.id, ScheduleEntry(sync_type, cron))
        _view, key = store.keys.create(clinic.id, name="faults")
        return str(clinic.id), key
    finally:
        db.dispose()


@dataclass
class DaemonProcess:
    tmp: Path
    env: dict[str, str]
    port: int = 0
    process: subprocess.Popen[str] | None = None
    logs: list[IO[str]] = field(default_factory=list)

    @classmethod
    def configured(cls, tmp: Path, database_url: str, **env: str) -> DaemonProcess:
        base = {
            **os.environ,
            "DATABASE_URL": database_url,
            "PIMS_ENCRYPTION_KEY": KEY,
            "HOST": "127.0.0.1",
            "BROWSER_POOL_SIZE": "1",
            "CONFIG_POLL_INTERVAL_S": "3600",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "API_RATE_LIMIT_PER_MIN": "100000",
        }
        return cls(tmp, {**base, **env})

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DaemonProcess:
        self.port = free_port()
        self.env["PORT"] = str(self.port)
        self.logs = [(self.tmp / name).open("a") for name in ("stdout.log", "stderr.log")]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daemon", "run"],
            env=self.env,
            text=True,
            stdout=self.logs[0],
            stderr=self.logs[1],
        )
        wait_for(self._ready, 90, "the daemon's /ready")
        return self

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

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.output().splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    continue
        return lines

    def post(self, path: str, key: str, body: Any = None, *, asynchronous: bool = True) -> Any:
        headers = {"Content-Type": "application/json", "X-API-Key": key}
        if asynchronous:
            headers["Prefer"] = "respond-async"
        return requests.post(
            f"{self.base}{path}", headers=headers, data=json.dumps(body or {}), timeout=60
        )

    def get(self, path: str, key: str | None = None) -> requests.Response:
        headers = {} if key is None else {"X-API-Key": key}
        return requests.get(f"{self.base}{path}", headers=headers, timeout=30)

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        for handle in self.logs:
            handle.close()
        self.logs = []
