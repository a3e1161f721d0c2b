"""Several `pims-sync run` replicas on one throwaway PostgreSQL database, clinics pointed at the
IDEXX Neo simulator with a cached session each (so no replica needs a browser login).

Shared by ``tests/replicas`` and ``benchmarks/replicas_failover.py``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine

from daemon.config import DEFAULT_TEST_DATABASE_URL, normalise_database_url
from daemon.store import Database, SecretBox, Store
from daemon.store.clinics import ScheduleEntry
from daemon.store.migrate import upgrade
from providers.idexx_neo.login import SessionState

KEY = "replicas-encryption-key-0123456789-abcdefgh"
ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not reached within {timeout:g} s: {what}")
        time.sleep(0.05)


def create_database() -> tuple[str, Callable[[], None]]:
    """A fresh PostgreSQL database on the test server; returns its URL and a dropper."""
    server = make_url(
        normalise_database_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL))
    )
    name = f"pims_sync_replicas_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return server.set(database=name).render_as_string(hide_password=False), drop


def simulator_session(base_url: str) -> str:
    """One real login over HTTP to the simulator, as the provider's cached session state."""
    reply = requests.post(
        f"{base_url}/login",
        data={"company_id": "demo-clinic", "username": "demo", "password": "demo-password"},
        allow_redirects=False,
        timeout=10,
    )
    cookie = reply.cookies.get("neo_session")
    assert cookie, f"simulator login failed: {reply.status_code}"
    host = urlsplit(base_url).hostname or "127.0.0.1"
    state = SessionState(
        base_url=base_url,
        cookies=[{"name": "neo_session", "value": cookie, "domain": host, "path": "/"}],
        created_at=datetime.now(UTC),
    )
    return state.to_json()


@dataclass
class Replica:
    name: str
    port: int
    process: subprocess.Popen[str]
    logs: list[IO[str]]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def health(self) -> dict[str, Any]:
        reply = requests.get(f"{self.base}/health", timeout=5)
        result: dict[str, Any] = reply.json()
        return result

    def ready(self) -> bool:
        if not self.alive():
            raise AssertionError(f"replica {self.name} exited with {self.process.returncode}")
        try:
            return requests.get(f"{self.base}/ready", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def post(self, key: str, sync_type: str, *, wait: bool = True) -> requests.Response:
        headers = {"X-API-Key": key, "Content-Type": "application/json"}
        if not wait:
            headers["Prefer"] = "respond-async"
        return requests.post(
            f"{self.base}/api/sync/{sync_type}", headers=headers, data="{}", timeout=60
        )

    def get(self, key: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(f"{self.base}{path}", headers={"X-API-Key": key}, timeout=30, **kwargs)

    def signal(self, sig: int) -> None:
        if self.alive():
            self.process.send_signal(sig)

    def close(self, timeout: float = 60) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        for handle in self.logs:
            handle.close()


@dataclass
class Cluster:
    url: str
    simulator_url: str
    tmp: Path
    ttl_s: float = 4.0
    env: dict[str, str] = field(default_factory=dict)
    replicas: dict[str, Replica] = field(default_factory=dict)
    clinics: list[uuid.UUID] = field(default_factory=list)
    keys: dict[uuid.UUID, str] = field(default_factory=dict)
    engine: Engine | None = None

    def __post_init__(self) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "PIMS_ENCRYPTION_KEY": KEY,
            "HOST": "127.0.0.1",
            "LEASE_TTL_S": f"{self.ttl_s:g}",
            "SHUTDOWN_GRACE_S": "3",
            "CONFIG_POLL_INTERVAL_S": "3600",
            "BROWSER_POOL_SIZE": "1",
            "SYNC_WAIT_MAX_S": "30",
            "API_RATE_LIMIT_PER_MIN": "100000",
            "LOG_LEVEL": "INFO",
            "AUTO_MIGRATE": "false",
        }
        self.engine = create_engine(self.url)

    # -- set-up ---------------------------------------------------------------------------------

    def seed(self, count: int, *, cron: str | None = None) -> None:
        db = Database(self.url)
        upgrade(db.engine)
        store = Store(db, SecretBox(KEY))
        session = simulator_session(self.simulator_url)
        for index in range(count):
            clinic = store.clinics.add(
                name=f"Replica Clinic {index:02d}",
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
            store.session_store(clinic.id).save(session, datetime.now(UTC) + timedelta(hours=6))
            if cron is not None:
                store.clinics.set_schedule(clinic.id, ScheduleEntry("reconciliation", cron))
            _view, key = store.keys.create(clinic.id, name="replicas")
            self.clinics.append(clinic.id)
            self.keys[clinic.id] = key
        db.dispose()

    # -- replicas -------------------------------------------------------------------------------

    def spawn(self, name: str, **env: str) -> Replica:
        port = free_port()
        logs: list[IO[str]] = [
            (self.tmp / f"{name}.{kind}.log").open("a") for kind in ("out", "err")
        ]
        process = subprocess.Popen(
            [sys.executable, "-m", "daemon", "run"],
            env={**self.env, "PORT": str(port), "REPLICA_ID": name, **env},
            cwd=ROOT,
            text=True,
            stdout=logs[0],
            stderr=logs[1],
        )
        replica = Replica(name, port, process, logs)
        self.replicas[name] = replica
        return replica

    def start(self, *names: str, **env: str) -> list[Replica]:
        started = [self.spawn(name, **env) for name in names]
        for replica in started:
            wait_for(replica.ready, 90, f"{replica.name} ready")
        return started

    def log_of(self, name: str) -> str:
        path = self.tmp / f"{name}.err.log"
        return path.read_text() if path.exists() else ""

    def close(self) -> None:
        for replica in self.replicas.values():  # all at once: each drains for a while
            replica.signal(signal.SIGCONT)
            replica.signal(signal.SIGTERM)
        for replica in self.replicas.values():
            replica.close()
        if self.engine is not None:
            self.engine.dispose()

    # -- the database's view --------------------------------------------------------------------

    def query(self, sql: str, **params: Any) -> list[Any]:
        assert self.engine is not None
        with self.engine.begin() as connection:
            return list(connection.execute(text(sql), params).all())

    def owners(self) -> dict[uuid.UUID, str | None]:
        """Clinic → owner of an unexpired lease (None when free or expired)."""
        rows = self.query(
            "SELECT clinic_id, CASE WHEN expires_at > now() THEN owner_id END AS owner"
            " FROM clinic_leases"
        )
        owners: dict[uuid.UUID, str | None] = {c: None for c in self.clinics}
        owners.update({r.clinic_id: r.owner for r in rows})
        return owners

    def spread(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for owner in self.owners().values():
            if owner is not None:
                counts[owner] = counts.get(owner, 0) + 1
        return counts

    def owner_of(self, clinic_id: uuid.UUID) -> str | None:
        return self.owners().get(clinic_id)

    def sync_row(self, sync_id: str) -> Any:
        rows = self.query("SELECT * FROM schedule_syncs WHERE id = :id", id=uuid.UUID(sync_id))
        return rows[0] if rows else None


def status_events(response: requests.Response) -> list[tuple[str, dict[str, Any]]]:
    """Parse an SSE body into (event, data) pairs."""
    events: list[tuple[str, dict[str, Any]]] = []
    name = ""
    for raw in response.iter_lines():
        line = raw.decode() if isinstance(raw, bytes) else str(raw)
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[len("data: ") :])))
    return events
