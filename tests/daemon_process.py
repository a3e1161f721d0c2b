"""`pims-sync run` as a real process, for the end-to-end, fault and replica tests and the daemon
benchmarks: its environment, a database seeded with simulated clinics, start until `/ready`,
HTTP, signals, a bounded stop that never leaves the process behind, and its output in files.

Importable from ``benchmarks/`` too (they put the repository root on ``sys.path``)."""

from __future__ import annotations

import json
import os
import signal as signals
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from daemon.store import Database, SecretBox, Store
from daemon.store.clinics import ScheduleEntry
from daemon.store.migrate import upgrade
from tests.support import add_simulated_clinic

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(
    condition: Callable[[], Any], timeout: float, what: str, *, interval: float = 0.05
) -> Any:
    """Poll ``condition`` until it returns something truthy; it is asked at least once and once
    more at the deadline, so a slow first answer never fails a wait by itself."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not reached within {timeout:g} s: {what}")
        time.sleep(interval)


def daemon_env(database_url: str, encryption_key: str, **settings: str) -> dict[str, str]:
    """This process's environment plus what every daemon under test needs: the database, the
    key and a loopback-only listener; ``settings`` adds or overrides the rest."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "PIMS_ENCRYPTION_KEY": encryption_key,
        "HOST": "127.0.0.1",
        **settings,
    }


def run_cli(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """One `pims-sync` command to its end, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "daemon", *args],
        input=stdin,
        env=env,
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=timeout,
    )


def seed_clinics(
    database_url: str,
    encryption_key: str,
    simulator_url: str,
    names: Sequence[str],
    *,
    key_name: str,
    schedules: Sequence[tuple[str, str]] = (),
    session: str | None = None,
) -> list[tuple[uuid.UUID, str]]:
    """A migrated database with one IDEXX Neo clinic per name on the simulator, each with the
    simulator's credentials, the given (sync type, cron) schedules, an API key, and, when
    ``session`` is given, that cached login (so the daemon needs no browser to sync).

    Returns (clinic id, API key) per name, in order."""
    db = Database(database_url)
    try:
        upgrade(db.engine)
        store = Store(db, SecretBox(encryption_key))
        seeded = []
        for name in names:
            clinic = add_simulated_clinic(store, name, simulator_url)
            if session is not None:
                store.session_store(clinic.id).save(session, datetime.now(UTC) + timedelta(hours=6))
            for sync_type, cron in schedules:
                store.clinics.set_schedule(clinic.id, ScheduleEntry(sync_type, cron))
            _view, key = store.keys.create(clinic.id, name=key_name)
            seeded.append((clinic.id, key))
        return seeded
    finally:
        db.dispose()


class DaemonProcess:
    """One `pims-sync run` child. Its stdout and stderr go to ``<name>.out.log`` and
    ``<name>.err.log`` in ``log_dir`` (appended to, so a restart keeps the earlier output)."""

    def __init__(self, log_dir: Path, env: dict[str, str], name: str = "daemon") -> None:
        self.log_dir = log_dir
        self.env = env
        self.name = name
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self._running().pid

    @property
    def log_files(self) -> tuple[Path, Path]:
        return self.log_dir / f"{self.name}.out.log", self.log_dir / f"{self.name}.err.log"

    # -- life -----------------------------------------------------------------------------------

    def spawn(self) -> DaemonProcess:
        """Start the process on a free port without waiting for it (see ``wait_ready``)."""
        self.port = free_port()
        self.env["PORT"] = str(self.port)
        out, err = (path.open("ab") for path in self.log_files)
        with out, err:  # the child holds its own copies for as long as it runs
            self.process = subprocess.Popen(
                [sys.executable, "-m", "daemon", "run"],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=err,
            )
        return self

    def start(self, timeout: float = 90) -> DaemonProcess:
        """Spawn and wait until `/ready` answers 200; a process that cannot get there is killed."""
        self.spawn()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def wait_ready(self, timeout: float = 90) -> None:
        wait_for(self.ready, timeout, f"{self.name}'s /ready")

    def ready(self) -> bool:
        """`/ready` answers 200; a process that has exited fails the wait with its output."""
        process = self._running()
        if process.poll() is not None:
            raise AssertionError(
                f"{self.name} exited with {process.returncode}: {self.output()[-3000:]}"
            )
        try:
            return requests.get(f"{self.base}/ready", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int = signals.SIGTERM) -> None:
        if self.alive():
            self._running().send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self._running().wait(timeout)

    def stop(self, sig: int = signals.SIGTERM, timeout: float = 60) -> int:
        """Send ``sig`` and return the exit code; a process still there after ``timeout`` is
        killed before the ``TimeoutExpired`` goes up, so no daemon outlives its test."""
        self.signal(sig)
        try:
            return self.wait(timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        """SIGKILL if it is still running (a no-op otherwise, or when it never started)."""
        if self.alive():
            process = self._running()
            process.kill()
            process.wait(30)

    def _running(self) -> subprocess.Popen[bytes]:
        assert self.process is not None, f"{self.name} was never started"
        return self.process

    # -- output ---------------------------------------------------------------------------------

    def output(self) -> str:
        """Everything it printed so far, stdout then stderr."""
        return "".join(path.read_text() for path in self.log_files if path.exists())

    def errors(self) -> str:
        """What it printed on stderr so far (its log lines)."""
        path = self.log_files[1]
        return path.read_text() if path.exists() else ""

    def log_lines(self) -> list[dict[str, Any]]:
        """Its JSON log records (``LOG_FORMAT=json``), skipping any other line."""
        records = []
        for line in self.output().splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
        return records

    # -- HTTP -----------------------------------------------------------------------------------

    def get(
        self, path: str, key: str | None = None, *, timeout: float = 60, **kwargs: Any
    ) -> requests.Response:
        headers = {} if key is None else {"X-API-Key": key}
        return requests.get(f"{self.base}{path}", headers=headers, timeout=timeout, **kwargs)

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self.get("/health", timeout=10).json()
        return result

    def post(
        self,
        sync_type: str,
        key: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        asynchronous: bool = False,
        timeout: float = 120,
    ) -> requests.Response:
        """A trigger, ``POST /api/sync/<sync_type>``; ``asynchronous`` asks for the 202 at once."""
        sent = {"Content-Type": "application/json", **(headers or {})}
        if key is not None:
            sent["X-API-Key"] = key
        if asynchronous:
            sent["Prefer"] = "respond-async"
        return requests.post(
            f"{self.base}/api/sync/{sync_type}",
            headers=sent,
            data=json.dumps(body if body is not None else {}),
            timeout=timeout,
        )
