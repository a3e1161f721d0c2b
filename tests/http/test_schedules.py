"""``GET /api/schedules`` through the daemon's own dispatcher: a stored schedule that never
fires (``0 0 31 2 *``) answers ``nextRunAt: null`` beside the clinic's other schedules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from actors.directory import ClinicDirectory
from actors.serving import ServiceBoard
from daemon.config import Settings
from daemon.dispatcher import ActorDispatcher
from daemon.http import HttpServer, build_app
from daemon.store import Store
from daemon.store.clinics import ScheduleEntry
from tests.http.client import LoopClient
from tests.http.conftest import FAST


@pytest.fixture
def served(store: Store) -> Iterator[tuple[LoopClient, str, Store]]:
    clinic = store.clinics.add(
        name="Schedules", timezone="Europe/Berlin", provider="idexx-neo", base_url=None
    )
    store.clinics.set_schedule(clinic.id, ScheduleEntry("inbound", "*/15 * * * *"))
    store.clinics.set_schedule(clinic.id, ScheduleEntry("cases", "0 0 31 2 *"))
    _, key = store.keys.create(clinic.id, name="all")
    dispatcher = ActorDispatcher(
        store=store,
        directory=ClinicDirectory(),
        board=ServiceBoard(),
        scheduler_enabled=True,
        scheduler_loaded=lambda: True,
        browser_status=lambda: {"warmed": True},
        browser_pss=lambda: 0,
        clock=lambda: datetime.now(UTC),
    )
    settings = Settings(host="127.0.0.1", port=0)
    server = HttpServer(build_app(store, dispatcher, settings, tuning=FAST), "127.0.0.1", 0)
    server.start()
    client = LoopClient(server.url)
    try:
        yield client, key, store
    finally:
        client.close()
        server.stop()
        dispatcher.close()


def test_a_schedule_that_never_fires_has_no_next_run_and_no_500(
    served: tuple[LoopClient, str, Store],
) -> None:
    client, key, _ = served
    reply = client.request("GET", "/api/schedules", headers={"X-API-Key": key})
    assert reply.status == 200, reply.text
    entries = {entry["type"]: entry for entry in reply.json()["schedules"]}
    assert entries["cases"]["nextRunAt"] is None
    assert entries["inbound"]["nextRunAt"] is not None
    assert entries["inbound"]["nextRunAt"].endswith("Z")
