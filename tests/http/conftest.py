"""A live API per test: the real server on 127.0.0.1, a real database, a stand-in dispatcher.

``make_api`` starts :class:`HttpServer` (its own thread and loop) over the parametrised
``store`` (SQLite and PostgreSQL), with one clinic and an all-permission key. Everything a
request needs from outside is in :class:`Api` (URL, key), so a test written against it could
also drive the real daemon process.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from daemon.config import Settings
from daemon.http import HttpServer, HttpTuning, build_app
from daemon.store import Store
from daemon.store.models import PERMISSIONS
from daemon.store.syncs import SyncRecord
from tests.http.client import LoopClient, Reply
from tests.http.standin import StandInDispatcher
from tests.observability.polling import wait_until

#: Short intervals so tests see several polls quickly (the contract's are 0.2 s, 1 s, 15 s).
FAST = HttpTuning(wait_poll_s=0.05, stream_poll_s=0.1, keepalive_s=15.0, executor_workers=4)


@dataclass
class Api:
    url: str
    key: str
    clinic_id: uuid.UUID
    store: Store
    dispatcher: StandInDispatcher
    server: HttpServer
    client: LoopClient
    _keys: list[str] = field(default_factory=list)

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"X-API-Key": key or self.key}

    def get(self, path: str, key: str | None = None, **headers: str) -> Reply:
        return self.client.request("GET", path, headers={**self.auth(key), **headers})

    def post(self, path: str, body: object = None, key: str | None = None, **headers: str) -> Reply:
        return self.client.request(
            "POST", path, headers={**self.auth(key), **headers}, json_body=body
        )

    def post_async(self, path: str, body: object = None, key: str | None = None) -> Reply:
        return self.post(path, body, key, Prefer="respond-async")

    def new_key(
        self,
        *,
        clinic_id: uuid.UUID | None = None,
        permissions: tuple[str, ...] = PERMISSIONS,
        expires_in_days: int | None = None,
    ) -> tuple[uuid.UUID, str]:
        view, key = self.store.keys.create(
            clinic_id or self.clinic_id,
            name="test",
            permissions=permissions,
            expires_in_days=expires_in_days,
        )
        return view.id, key

    def new_clinic(self) -> uuid.UUID:
        return self.store.clinics.add(
            name=f"Other {uuid.uuid4().hex[:6]}",
            timezone="Europe/Berlin",
            provider="idexx-neo",
            base_url=None,
        ).id

    def wait_queued(self, sync_type: str) -> SyncRecord:
        record = wait_until(
            lambda: self.store.syncs.active_of_type(self.clinic_id, sync_type),
            f"a queued {sync_type} sync",
        )
        assert record is not None
        return record


@pytest.fixture
def make_api(store: Store) -> Iterator[Callable[..., Api]]:
    made: list[Api] = []

    def make(
        *,
        wait_s: float = 30.0,
        rate: int = 10_000,
        tuning: HttpTuning = FAST,
        autorun: bool = False,
    ) -> Api:
        clinic = store.clinics.add(
            name=f"Clinic {uuid.uuid4().hex[:6]}",
            timezone="America/Los_Angeles",
            provider="idexx-neo",
            base_url=None,
        )
        _, key = store.keys.create(clinic.id, name="all")
        dispatcher = StandInDispatcher(store)
        if autorun:
            dispatcher.start_autorun()
        settings = Settings(
            host="127.0.0.1", port=0, sync_wait_max_s=wait_s, api_rate_limit_per_min=rate
        )
        server = HttpServer(
            build_app(store, dispatcher, settings, tuning=tuning), settings.host, settings.port
        )
        server.start()
        api = Api(server.url, key, clinic.id, store, dispatcher, server, LoopClient(server.url))
        made.append(api)
        return api

    yield make
    for api in made:
        api.client.close()
        api.server.stop()
        api.dispatcher.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()
