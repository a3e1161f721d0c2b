"""Shared set-up for the daemon benchmarks: a SQLite database with N clinics pointed at the
simulator, and the daemon as a real subprocess (``tests/daemon_process.py``)."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.daemon_process import DaemonProcess, daemon_env, seed_clinics  # noqa: E402

KEY = "benchmark-encryption-key-0123456789-abcdef"


def proc_status(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "Threads"):
            values[name] = int(rest.split()[0])
    return {"rss_bytes": values.get("VmRSS", 0) * 1024, "threads": values.get("Threads", 0)}


def bench_env(database_url: str) -> dict[str, str]:
    """Quiet logs, no rate limit or sync-wait cap in the way of a burst, no config polling."""
    return daemon_env(
        database_url,
        KEY,
        LOG_LEVEL="WARNING",
        API_RATE_LIMIT_PER_MIN="10000",
        SYNC_WAIT_MAX_S="600",
        CONFIG_POLL_INTERVAL_S="3600",
    )


@dataclass
class Bench:
    tmp: Path
    simulator_url: str
    env: dict[str, str] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)
    clinic_ids: list[str] = field(default_factory=list)
    daemon: DaemonProcess | None = None

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.tmp / 'bench.db'}"

    @property
    def process(self) -> DaemonProcess:
        assert self.daemon is not None, "the daemon was never started"
        return self.daemon

    @property
    def base(self) -> str:
        return self.process.base

    def seed(self, clinics: int, *, schedules: bool = True) -> None:
        seeded = seed_clinics(
            self.database_url,
            KEY,
            self.simulator_url,
            [f"Clinic {index:03d}" for index in range(clinics)],
            key_name="bench",
            schedules=(("inbound", "0 6 * * *"), ("cases", "0 8,14,20 * * *")) if schedules else (),
        )
        for clinic_id, key in seeded:
            self.keys.append(key)
            self.clinic_ids.append(str(clinic_id))
        self.env = bench_env(self.database_url)

    def start(self, **env: str) -> None:
        self.daemon = DaemonProcess(self.tmp, {**self.env, **env}).start(timeout=120)

    def health(self) -> dict[str, object]:
        return self.process.health()

    def stop(self) -> None:
        if self.daemon is not None:
            self.daemon.stop(timeout=120)

    def trigger(
        self,
        key: str,
        sync_type: str,
        body: dict[str, object] | None = None,
        asynchronous: bool = False,
    ) -> dict[str, object]:
        reply = self.process.post(sync_type, key, body, asynchronous=asynchronous, timeout=900)
        reply.raise_for_status()
        result: dict[str, object] = reply.json()
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
