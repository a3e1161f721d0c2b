"""A session IDEXX Neo rotates on an answer (Set-Cookie) is used at once and saved for the next
sync: after the request, in a thread (the save is a database write and must not hold up the
other requests on the sync's event loop), and the newest state last."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from providers.base import MemorySessionStore, ProviderContext
from providers.idexx_neo.login import SessionState
from providers.idexx_neo.provider import APPOINTMENT_VIEW_PATH, IdexxNeoProvider
from tests.providers.conftest import FAST, run
from tests.providers.test_client import RecordingServer
from tests.support import CREDENTIALS


class ThreadRecordingStore(MemorySessionStore):
    """The in-memory store, noting the thread of every save."""

    def __init__(self) -> None:
        super().__init__()
        self.save_threads: list[int] = []

    def save(self, state: str, expires_at: datetime | None) -> None:
        self.save_threads.append(threading.get_ident())
        super().save(state, expires_at)


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    recording = RecordingServer().start()
    yield recording
    recording.stop()


def test_a_rotated_session_is_saved_off_the_event_loop(server: RecordingServer) -> None:
    turn = iter(["rotated-1", "rotated-2"])

    def answer() -> web.Response:
        response = web.json_response({"slotInterval": 15, "businessHours": []})
        response.set_cookie("neo_session", next(turn), path="/")
        return response

    server.answers[APPOINTMENT_VIEW_PATH] = answer
    cookie = {"name": "neo_session", "value": "first", "domain": "127.0.0.1", "path": "/"}
    store = ThreadRecordingStore()
    store.save(SessionState(server.url, [cookie], datetime.now(UTC)).to_json(), None)
    store.save_threads.clear()
    context = ProviderContext("clinic-test", ZoneInfo("UTC"), server.url, store, None)
    loop_threads: list[int] = []

    async def scenario() -> None:
        loop_threads.append(threading.get_ident())
        async with IdexxNeoProvider(context, FAST) as provider:
            await provider.authenticate(CREDENTIALS)
            await provider.fetch_schedule_config()
            await provider.fetch_schedule_config()

    run(scenario())
    saved = SessionState.from_json(store.load() or "")
    assert saved is not None and [c["value"] for c in saved.cookies] == ["rotated-2"]
    assert len(store.save_threads) == 2 and loop_threads[0] not in store.save_threads
    # The second request went out with the session the first answer rotated.
    assert "neo_session=rotated-1" in server.headers[-1].get("Cookie", "")
