"""Several `pims-sync run` replicas on one throwaway PostgreSQL database, clinics pointed at the
IDEXX Neo simulator with a cached session each (so no replica needs a browser login).

Shared by ``tests/replicas`` and ``benchmarks/replicas_failover.py``."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from providers.idexx_neo.login import SessionState
from tests import throwaway_database
from tests.daemon_process import DaemonProcess, daemon_env, seed_clinics

KEY = "replicas-encryption-key-0123456789-abcdefgh"


def create_database() -> tuple[str, Callable[[], None]]:
    """A fresh PostgreSQL database on the test server; returns its URL and a dropper."""
    return throwaway_database.create_database("pims_sync_replicas")


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


class Replica(DaemonProcess):
    """One replica: a daemon with ``REPLICA_ID`` set, its logs named after it."""

    def close(self, timeout: float = 60) -> None:
        """SIGTERM, woken first in case a test stopped it with SIGSTOP; killed if it lingers."""
        self.signal(signal.SIGCONT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.stop(signal.SIGTERM, timeout)


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
        self.env = daemon_env(
            self.url,
            KEY,
            LEASE_TTL_S=f"{self.ttl_s:g}",
            SHUTDOWN_GRACE_S="3",
            CONFIG_POLL_INTERVAL_S="3600",
            BROWSER_POOL_SIZE="1",
            SYNC_WAIT_MAX_S="30",
            API_RATE_LIMIT_PER_MIN="100000",
            LOG_LEVEL="INFO",
            AUTO_MIGRATE="false",
        )
        self.engine = create_engine(self.url)

    # -- set-up ---------------------------------------------------------------------------------

    def seed(self, count: int, *, cron: str | None = None) -> None:
        seeded = seed_clinics(
            self.url,
            KEY,
            self.simulator_url,
            [f"Replica Clinic {index:02d}" for index in range(count)],
            key_name="replicas",
            schedules=() if cron is None else (("reconciliation", cron),),
            session=simulator_session(self.simulator_url),
        )
        for clinic_id, key in seeded:
            self.clinics.append(clinic_id)
            self.keys[clinic_id] = key

    # -- replicas -------------------------------------------------------------------------------

    def spawn(self, name: str, **env: str) -> Replica:
        replica = Replica(self.tmp, {**self.env, "REPLICA_ID": name, **env}, name)
        replica.spawn()
        self.replicas[name] = replica
        return replica

    def start(self, *names: str, **env: str) -> list[Replica]:
        started = [self.spawn(name, **env) for name in names]
        for replica in started:
            replica.wait_ready(90)
        return started

    def log_of(self, name: str) -> str:
        return self.replicas[name].errors()

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
