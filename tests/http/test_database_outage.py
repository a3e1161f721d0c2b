"""Contract §7 and issue 11: while the database cannot be reached, every ``/api/`` request is
503 ``unavailable`` with ``Retry-After`` (before authentication), a caller already waiting gets
its ``syncId`` back, and the API comes back by itself with the database.

The database is a throwaway PostgreSQL cluster this test starts on a port of its own (never
the machine's shared server), stopped and started again mid-test.
"""

from __future__ import annotations

import glob
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from daemon.config import Settings
from daemon.http import HttpServer, build_app
from daemon.store import Database, SecretBox, Store
from daemon.store.apikeys import generate_key
from daemon.store.migrate import upgrade
from tests.conftest import TEST_KEY
from tests.http.client import LoopClient, Reply
from tests.http.conftest import FAST
from tests.http.standin import StandInDispatcher
from tests.observability.polling import wait_until


def pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None
    )
    if found is None:
        pytest.fail(f"{name} not found: install PostgreSQL's server binaries", pytrace=False)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    directory: Path
    port: int

    def _ctl(self, *args: str) -> None:
        command = " ".join([pg_bin("pg_ctl"), "-D", str(self.directory), *args])
        subprocess.run(
            ["su", "postgres", "-c", command], check=True, capture_output=True, timeout=60
        )

    def start(self) -> None:
        options = f"'-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1'"
        self._ctl("-o", options, "-l", str(self.directory / "log"), "-w", "start")

    def stop(self) -> None:
        self._ctl("-m", "immediate", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    # Not under pytest's temporary root: that is private to root, and the cluster runs as
    # the postgres user.
    root = Path(tempfile.mkdtemp(prefix="pims-sync-pg-outage-"))
    directory = root / "data"
    directory.mkdir()
    shutil.chown(root, "postgres")
    shutil.chown(directory, "postgres")
    subprocess.run(
        ["su", "postgres", "-c", f"{pg_bin('initdb')} -D {directory} -A trust -U postgres"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    running = Cluster(directory, free_port())
    running.start()
    try:
        yield running
    finally:
        subprocess.run(
            ["su", "postgres", "-c", f"{pg_bin('pg_ctl')} -D {directory} -m immediate stop"],
            capture_output=True, timeout=60,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Live:
    client: LoopClient
    key: str
    store: Store

    def post(self, path: str, key: str | None = None, **headers: str) -> Reply:
        return self.client.request(
            "POST", path, headers={"X-API-Key": key or self.key, **headers}, json_body={}
        )


@pytest.fixture
def live(cluster: Cluster) -> Iterator[Live]:
    db = Database(cluster.url)
    upgrade(db.engine)
    store = Store(db, SecretBox(TEST_KEY))
    clinic = store.clinics.add(
        name="Outage clinic", timezone="Europe/Berlin", provider="idexx-neo", base_url=None
    )
    _, key = store.keys.create(clinic.id, name="all")
    dispatcher = StandInDispatcher(store)
    settings = Settings(host="127.0.0.1", port=0, sync_wait_max_s=60)
    tuning = replace(FAST, wait_poll_s=0.2, db_probe_s=0.5)
    server = HttpServer(build_app(store, dispatcher, settings, tuning=tuning), "127.0.0.1", 0)
    server.start()
    client = LoopClient(server.url)
    try:
        yield Live(client, key, store)
    finally:
        client.close()
        server.stop()
        db.dispose()


def is_unavailable(reply: Reply) -> bool:
    return reply.status == 503 and reply.json()["error"]["code"] == "unavailable"


@pytest.mark.timeout(240)
def test_an_outage_is_503_with_retry_after_and_the_waiting_caller_keeps_its_sync_id(
    live: Live, cluster: Cluster
) -> None:
    assert live.post("/api/sync/inbound", Prefer="respond-async").status == 202
    waiting = live.client.start(
        "POST", "/api/sync/cases", headers={"X-API-Key": live.key}, json_body={}
    )
    cases = wait_until(
        lambda: next((r for r in live.store.syncs.active() if r.sync_type == "cases"), None),
        "the queued cases sync",
    )
    assert cases is not None

    cluster.stop()
    reply = waiting.result(60)
    assert is_unavailable(reply), reply.text
    assert reply.json()["syncId"] == str(cases.id)
    assert reply.json()["statusUrl"] == f"/api/sync/cases/{cases.id}"
    assert int(reply.headers["Retry-After"]) >= 1

    # Every /api/ request, whatever its key, before authentication.
    for method, path, headers in [
        ("POST", "/api/sync/reconciliation", {"X-API-Key": live.key}),
        ("POST", "/api/sync/inbound", {}),
        ("POST", "/api/sync/full", {"X-API-Key": generate_key()}),
        ("GET", f"/api/sync/cases/{uuid.uuid4()}", {"X-API-Key": "junk"}),
        ("GET", "/api/schedules", {"X-API-Key": live.key}),
    ]:
        answer = live.client.request(method, path, headers=headers)
        assert is_unavailable(answer), (method, path, answer.text)
        assert int(answer.headers["Retry-After"]) >= 1
    # The router's own answers and liveness stay as they are.
    assert live.client.request("GET", "/api/nothing").status == 404
    assert live.client.request("GET", "/health").status == 200

    cluster.start()
    back = wait_until(
        lambda: (
            live.client.request("GET", "/api/schedules", headers={"X-API-Key": live.key}).status
            == 200
        ),
        "the API back with the database",
        timeout_s=60,
    )
    assert back
    status = live.client.request(
        "GET", f"/api/sync/cases/{cases.id}", headers={"X-API-Key": live.key}
    )
    assert status.status == 200 and status.json()["syncId"] == str(cases.id)
