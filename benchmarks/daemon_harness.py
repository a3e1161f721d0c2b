"""Shared set-up for the daemon benchmarks: a database with N clinics pointed at the simulator,
and the daemon as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from daemon.store import Database, SecretBox, Store  # noqa: E402
from daemon.store.migrate import upgrade  # noqa: E402

KEY = "benchmark-encryption-key-0123456789-abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def proc_status(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "Threads"):
            values[name] = int(rest.split()[0])
    return {"rss_bytes": values.get("VmRSS", 0) * 1024, "threads": values.get("Threads", 0)}


@dataclass
class Bench:
    tmp: Path
    simulator_url: str
    env: dict[str, str] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)
    clinic_ids: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def seed(self, clinics: int, *, schedules: bool = True) -> None:
        url = f"sqlite:///{self.tmp / 'bench.db'}"
        db = Database(url)
        upgrade(db.engine)
        store = Store(db, SecretBox(KEY))
        from daemon.store.clinics import ScheduleEntry

        for index in range(clinics):
            clinic = store.clinics.add(
                name=f"Clinic {index:03d}",
                timezone="America/Los_Angeles",
                provider="idexx-neo",
                base_url=self.simulator_url,
            )
            store.credentials.set(
                clinic.id,
                provider="idexx-neo",
                fields={
                    "username": "demo",
                    "password": "demo-password",
                    "company_id": "demo-clinic",
                },
            )
            if schedules:
                store.clinics.set_schedule(clinic.id, ScheduleEntry("inbound", "0 6 * * *"))
                store.clinics.set_schedule(clinic.id, ScheduleEntry("cases", "0 8,14,20 * * *"))
            _view, key = store.keys.create(clinic.id, name="bench")
            self.keys.append(key)
            self.clinic_ids.append(str(clinic.id))
        db.dispose()
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "PIMS_ENCRYPTION_KEY": KEY,
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            "API_RATE_LIMIT_PER_MIN": "10000",
            "SYNC_WAIT_MAX_S": "600",
            "CONFIG_POLL_INTERVAL_S": "3600",
        }

    def start(self, **env: str) -> None:
        self.port = free_port()
        with (self.tmp / "daemon.log").open("ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [sys.executable, "-m", "daemon", "run"],
                env={**self.env, "PORT": str(self.port), **env},
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base}/ready", timeout=5) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the daemon did not become ready")

    def health(self) -> dict[str, object]:
        with urllib.request.urlopen(f"{self.base}/health", timeout=10) as reply:
            result: dict[str, object] = json.loads(reply.read())
            return result

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(120)

    def trigger(
        self,
        key: str,
        sync_type: str,
        body: dict[str, object] | None = None,
        asynchronous: bool = False,
    ) -> dict[str, object]:
        headers = {"X-API-Key": key, "Content-Type": "application/json"}
        if asynchronous:
            headers["Prefer"] = "respond-async"
        request = urllib.request.Request(
            f"{self.base}/api/sync/{sync_type}",
            method="POST",
            data=json.dumps(body or {}).encode(),
            headers=headers,
        )
        with urllib.request.urlopen(request, timeout=900) as reply:
            result: dict[str, object] = json.loads(reply.read())
            return result


@contextmanager
def bench(scenario: str = "default", latency_ms: int = 0) -> Iterator[tuple[Bench, object]]:
    from providers.idexx_neo.simulator import SimulatorServer

    with (
        tempfile.TemporaryDirectory() as tmp,
        SimulatorServer(scenario=scenario, latency_ms=latency_ms) as simulator,
    ):
        harness = Bench(Path(tmp), simulator.url)
        try:
            yield harness, simulator
        finally:
            harness.stop()
