"""The JSON client on the wire, against a small recording server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from providers.base import NotFound, PimsUnavailable, UnexpectedPayload
from providers.idexx_neo.client import (
    USER_AGENT,
    ClientSettings,
    NeoJsonClient,
    RetryPolicy,
    SessionExpired,
)
from tests.providers.conftest import RecordingObserver, run
from tests.providers.threaded_server import ThreadedServer

FAST = ClientSettings(
    connect_timeout_s=1.0,
    total_timeout_s=5.0,
    retry=RetryPolicy(retries=3, base_delay_s=0.01, max_delay_s=0.02),
)
COOKIES = [
    {"name": "neo_session", "value": "s3cr3t", "domain": "127.0.0.1", "path": "/", "expires": -1},
    {"name": "other_site", "value": "x", "domain": "example.test", "path": "/", "expires": -1},
    {"name": "stale", "value": "old", "domain": "127.0.0.1", "path": "/", "expires": 1.0},
]


class RecordingServer(ThreadedServer):
    """Answers each path as the test says, records what arrived and how many ran at once."""

    method = "GET"

    def __init__(self) -> None:
        super().__init__()
        self.raw_paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.peak = 0
        self.delay_s = 0.0
        self.answers: dict[str, Any] = {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.headers.append(dict(request.headers))
        self.raw_paths.append(request.raw_path)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)  # simulated latency, server side
            answer = self.answers.get(request.path, {"ok": True})
            return answer() if callable(answer) else web.json_response(answer)
        finally:
            self.in_flight -= 1


@pytest.fixture(scope="module")
def server() -> Iterator[RecordingServer]:
    recording = RecordingServer().start()
    yield recording
    recording.stop()


@pytest.fixture(autouse=True)
def _reset(server: RecordingServer) -> None:
    server.headers.clear()
    server.raw_paths.clear()
    server.answers.clear()
    server.delay_s = 0.0
    server.peak = 0


def client_for(server: RecordingServer, **kwargs: Any) -> NeoJsonClient:
    client = NeoJsonClient(server.url, settings=FAST, **kwargs)
    client.set_cookies(COOKIES)
    return client


def get(client: NeoJsonClient, path: str = "/x", **params: str) -> Any:
    async def call() -> Any:
        try:
            return await client.get_json("calendar", path, params or None)
        finally:
            await client.close()

    return run(call())


def test_headers_and_cookies(server: RecordingServer) -> None:
    assert get(client_for(server), "/q", start="2026-03-02 00:00:00") == {"ok": True}
    (headers,) = server.headers
    assert headers["Accept"] == "application/json"
    assert headers["X-Requested-With"] == "XMLHttpRequest"
    assert headers["User-Agent"] == USER_AGENT
    # Only this site's cookies, and no expired one.
    assert headers["Cookie"] == "neo_session=s3cr3t"


def test_query_is_percent_encoded_like_the_web_app(server: RecordingServer) -> None:
    get(client_for(server), "/q", start="2026-03-02 00:00:00", end="2026-03-08 23:59:59")
    assert server.raw_paths == ["/q?start=2026-03-02%2000%3A00%3A00&end=2026-03-08%2023%3A59%3A59"]


@pytest.mark.parametrize(
    "answer",
    [
        lambda: web.Response(status=302, headers={"Location": "/login"}),
        lambda: web.Response(status=401),
        lambda: web.Response(status=403),
        lambda: web.Response(text="<!doctype html><form>", content_type="text/html"),
        lambda: web.Response(text="  <html>", content_type="application/json"),
    ],
)
def test_signs_of_a_dead_session(server: RecordingServer, answer: Any) -> None:
    server.answers["/x"] = answer
    observer = RecordingObserver()
    with pytest.raises(SessionExpired):
        get(client_for(server, observer=observer))
    assert len(server.headers) == 1  # never followed, never retried
    assert observer.outcomes("calendar") == ["session_expired"]


def test_unreadable_json(server: RecordingServer) -> None:
    server.answers["/x"] = lambda: web.Response(text="{oops", content_type="application/json")
    with pytest.raises(UnexpectedPayload):
        get(client_for(server))


def test_not_found(server: RecordingServer) -> None:
    server.answers["/x"] = lambda: web.json_response({"error": "nope"}, status=404)
    with pytest.raises(NotFound):
        get(client_for(server))
    assert len(server.headers) == 1


def test_concurrency_is_bounded(server: RecordingServer) -> None:
    server.delay_s = 0.05
    client = client_for(server, max_concurrency=3)

    async def many() -> None:
        try:
            await asyncio.gather(*(client.get_json("consultation", f"/c/{n}") for n in range(12)))
        finally:
            await client.close()

    run(many())
    assert len(server.headers) == 12
    assert server.peak == 3


def test_rotated_session_cookie_is_kept(server: RecordingServer) -> None:
    def answer() -> web.Response:
        response = web.json_response({"ok": True})
        response.set_cookie("neo_session", "rotated", path="/")
        return response

    server.answers["/x"] = answer
    refreshed: list[list[dict[str, Any]]] = []
    client = client_for(server, on_cookies_refreshed=refreshed.append)
    get(client)
    assert [c["value"] for c in refreshed[0] if c["name"] == "neo_session"] == ["rotated"]
    assert any(c["value"] == "rotated" for c in client.cookies())


def test_connection_refused_is_retried_then_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    observer = RecordingObserver()
    client = NeoJsonClient(f"http://127.0.0.1:{port}", settings=FAST, observer=observer)
    with pytest.raises(PimsUnavailable, match="connection"):
        get(client)
    assert observer.outcomes("calendar") == ["connection_error"] * 4


def test_secrets_stay_out_of_errors(server: RecordingServer) -> None:
    server.answers["/x"] = lambda: web.Response(status=401)
    with pytest.raises(SessionExpired) as caught:
        get(client_for(server))
    assert "s3cr3t" not in str(caught.value)
