"""How each PIMS client turns what the wire did into an exception and a metrics outcome.

Both clients run against one small server on 127.0.0.1 that answers each path from a script;
every case pins the exception the caller sees and the outcome of every attempt, which are the
labels of ``pims_sync_pims_requests_total`` (docs/observability.md).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from providers.base import (
    AuthenticationFailed,
    BadRequest,
    MemorySessionStore,
    NotFound,
    PimsUnavailable,
    RateLimited,
    SessionLost,
    UnexpectedPayload,
)
from providers.ezyvet import facts
from providers.ezyvet.client import ClientSettings as EzyVetSettings
from providers.ezyvet.client import EzyVetClient
from providers.ezyvet.client import RetryPolicy as EzyVetRetry
from providers.ezyvet.pacing import PacingSettings, SitePacer
from providers.ezyvet.token import TokenKeeper
from providers.idexx_neo.client import ClientSettings as NeoSettings
from providers.idexx_neo.client import NeoJsonClient, RequestRejected, SessionExpired
from providers.idexx_neo.client import RetryPolicy as NeoRetry
from providers.transport import outcome_of
from tests.providers.conftest import RecordingObserver, run
from tests.providers.threaded_server import ThreadedServer

TIMEOUT_S = 0.5
NEO = NeoSettings(
    connect_timeout_s=TIMEOUT_S,
    total_timeout_s=TIMEOUT_S,
    retry=NeoRetry(retries=3, base_delay_s=0.01, max_delay_s=0.02),
)
EZYVET = EzyVetSettings(
    connect_timeout_s=TIMEOUT_S,
    total_timeout_s=TIMEOUT_S,
    retry=EzyVetRetry(retries=3, base_delay_s=0.01, max_delay_s=0.02),
)

Answer = Callable[[], Awaitable[web.StreamResponse]]


def status(code: int, **headers: str) -> Answer:
    async def answer() -> web.StreamResponse:
        return web.json_response({"status": code}, status=code, headers=headers)

    return answer


def body(text: str, content_type: str) -> Answer:
    async def answer() -> web.StreamResponse:
        return web.Response(text=text, content_type=content_type)

    return answer


def hang() -> Answer:
    async def answer() -> web.StreamResponse:
        await asyncio.sleep(TIMEOUT_S * 20)  # the client gives up long before
        return web.json_response({})

    return answer


OK = status(200)


class ScriptedServer(ThreadedServer):
    """Answers each path with the next answer of its script (the last one repeats)."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: dict[str, list[Answer]] = {}
        self.arrived: list[str] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.arrived.append(request.path)
        if request.path == facts.TOKEN_PATH and request.path not in self.scripts:
            return web.json_response({"access_token": f"token-{len(self.arrived)}"})
        script = self.scripts.get(request.path) or [status(599)]
        answer = script.pop(0) if len(script) > 1 else script[0]
        return await answer()


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer().start()
    yield scripted
    scripted.stop()


@pytest.fixture(autouse=True)
def _fresh(server: ScriptedServer) -> None:
    server.scripts.clear()
    server.arrived.clear()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


Get = Callable[[str, RecordingObserver], Any]


def answer_or_raise(get: Get, url: str, raised: type[BaseException] | None) -> RecordingObserver:
    """Make the call: it returns the server's answer, or raises exactly ``raised``."""
    observer = RecordingObserver()
    if raised is None:
        assert get(url, observer) == {"status": 200}
    else:
        with pytest.raises(raised) as caught:
            get(url, observer)
        assert type(caught.value) is raised
    return observer


# ---------------------------------------------------------------------------------------------
# IDEXX Neo


def neo_get(url: str, observer: RecordingObserver) -> Any:
    async def call() -> Any:
        client = NeoJsonClient(url, settings=NEO, observer=observer)
        try:
            return await client.get_json("calendar", "/calendar")
        finally:
            await client.close()

    return run(call())


NEO_CASES: list[tuple[str, list[Answer], type[BaseException] | None, list[str]]] = [
    ("ok", [OK], None, ["ok"]),
    ("redirect", [status(302, Location="/login")], SessionExpired, ["session_expired"]),
    ("401", [status(401)], SessionExpired, ["session_expired"]),
    ("403", [status(403)], SessionExpired, ["session_expired"]),
    ("html", [body("<html>login</html>", "text/html")], SessionExpired, ["session_expired"]),
    ("404", [status(404)], NotFound, ["not_found"]),
    ("418", [status(418)], RequestRejected, ["bad_request"]),
    ("bad json", [body("{nope", "application/json")], UnexpectedPayload, ["bad_payload"]),
    ("500 then ok", [status(500), OK], None, ["server_error", "ok"]),
    ("503 always", [status(503)], PimsUnavailable, ["server_error"] * 4),
    ("429 then ok", [status(429, **{"Retry-After": "0"}), OK], None, ["rate_limited", "ok"]),
    ("429 always", [status(429, **{"Retry-After": "0"})], RateLimited, ["rate_limited"] * 4),
    ("timeout", [hang()], PimsUnavailable, ["timeout"] * 4),
]


@pytest.mark.parametrize(
    ("answers", "raised", "outcomes"), [c[1:] for c in NEO_CASES], ids=[c[0] for c in NEO_CASES]
)
def test_neo_exceptions_and_outcomes(
    server: ScriptedServer,
    answers: list[Answer],
    raised: type[BaseException] | None,
    outcomes: list[str],
) -> None:
    server.scripts["/calendar"] = list(answers)
    observer = answer_or_raise(neo_get, server.url, raised)
    assert observer.outcomes("calendar") == outcomes


def test_neo_connection_refused(server: ScriptedServer) -> None:
    observer = RecordingObserver()
    with pytest.raises(PimsUnavailable) as caught:
        neo_get(closed_port_url(), observer)
    assert type(caught.value) is PimsUnavailable and "connection error" in str(caught.value)
    assert observer.outcomes("calendar") == ["connection_error"] * 4


def test_neo_session_expired_is_a_lost_session_with_its_code(server: ScriptedServer) -> None:
    server.scripts["/calendar"] = [status(401)]
    with pytest.raises(SessionLost) as caught:
        neo_get(server.url, RecordingObserver())
    assert caught.value.code == "pims_session_lost"


def test_neo_cancelled_request(server: ScriptedServer) -> None:
    server.scripts["/calendar"] = [hang()]
    observer = RecordingObserver()

    async def call() -> None:
        client = NeoJsonClient(server.url, settings=NEO, observer=observer)
        try:
            await cancel_once_arrived(server, client.get_json("calendar", "/calendar"))
        finally:
            await client.close()

    run(call())
    assert observer.outcomes("calendar") == ["cancelled"]


# ---------------------------------------------------------------------------------------------
# ezyVet


def ezyvet_client(url: str, observer: RecordingObserver) -> EzyVetClient:
    client = EzyVetClient(url, SitePacer(PacingSettings()), settings=EZYVET, observer=observer)

    async def request_token() -> str:
        return await client.request_token({"client_secret": "s3cr3t"})

    client.tokens = TokenKeeper(MemorySessionStore(), "transport-test", request_token)
    return client


def ezyvet_get(url: str, observer: RecordingObserver) -> Any:
    async def call() -> Any:
        client = ezyvet_client(url, observer)
        try:
            return await client.get("appointment", "/v2/appointment", {})
        finally:
            await client.close()

    return run(call())


EZYVET_CASES: list[tuple[str, list[Answer], type[BaseException] | None, list[str]]] = [
    ("ok", [OK], None, ["ok"]),
    ("redirect", [status(302, Location="/elsewhere")], BadRequest, ["bad_request"]),
    ("404", [status(404)], BadRequest, ["bad_request"]),
    ("403", [status(403)], BadRequest, ["bad_request"]),
    ("418", [status(418)], BadRequest, ["bad_request"]),
    ("html", [body("<html></html>", "text/html")], UnexpectedPayload, ["bad_payload"]),
    ("bad json", [body("{nope", "application/json")], UnexpectedPayload, ["bad_payload"]),
    ("500 then ok", [status(500), OK], None, ["server_error", "ok"]),
    ("503 always", [status(503)], PimsUnavailable, ["server_error"] * 4),
    (
        "429 then ok",
        [status(429, **{"x-ratelimit-reset": "0"}), OK],
        None,
        ["rate_limited", "ok"],
    ),
    ("401 then ok", [status(401), OK], None, ["unauthorized", "ok"]),
    ("401 always", [status(401)], AuthenticationFailed, ["unauthorized", "unauthorized"]),
    ("timeout", [hang()], PimsUnavailable, ["timeout"] * 4),
]


@pytest.mark.parametrize(
    ("answers", "raised", "outcomes"),
    [c[1:] for c in EZYVET_CASES],
    ids=[c[0] for c in EZYVET_CASES],
)
def test_ezyvet_exceptions_and_outcomes(
    server: ScriptedServer,
    answers: list[Answer],
    raised: type[BaseException] | None,
    outcomes: list[str],
) -> None:
    server.scripts["/v2/appointment"] = list(answers)
    observer = answer_or_raise(ezyvet_get, server.url, raised)
    assert observer.outcomes("appointment") == outcomes
    # One token at first, and one renewal at most when the API refuses it.
    assert observer.outcomes("access_token") == ["ok"] * (2 if "unauthorized" in outcomes else 1)


@pytest.mark.parametrize("code", [400, 401])
def test_ezyvet_refused_credentials(server: ScriptedServer, code: int) -> None:
    server.scripts[facts.TOKEN_PATH] = [status(code)]
    observer = RecordingObserver()
    with pytest.raises(AuthenticationFailed) as caught:
        ezyvet_get(server.url, observer)
    assert type(caught.value) is AuthenticationFailed and caught.value.code == "pims_auth_failed"
    assert observer.outcomes("access_token") == ["auth_failed"]
    assert observer.outcomes("appointment") == []


def test_ezyvet_token_endpoint_outage(server: ScriptedServer) -> None:
    server.scripts[facts.TOKEN_PATH] = [status(502)]
    observer = RecordingObserver()
    with pytest.raises(PimsUnavailable):
        ezyvet_get(server.url, observer)
    assert observer.outcomes("access_token") == ["server_error"] * 4


def test_ezyvet_connection_refused(server: ScriptedServer) -> None:
    observer = RecordingObserver()
    with pytest.raises(PimsUnavailable) as caught:
        ezyvet_get(closed_port_url(), observer)
    assert type(caught.value) is PimsUnavailable and "connection error" in str(caught.value)
    assert observer.outcomes("access_token") == ["connection_error"] * 4


def test_ezyvet_cancelled_request(server: ScriptedServer) -> None:
    server.scripts["/v2/appointment"] = [hang()]
    observer = RecordingObserver()

    async def call() -> None:
        client = ezyvet_client(server.url, observer)
        try:
            await cancel_once_arrived(
                server, client.get("appointment", "/v2/appointment", {}), "/v2/appointment"
            )
        finally:
            await client.close()

    run(call())
    assert observer.outcomes("appointment") == ["cancelled"]


# ---------------------------------------------------------------------------------------------


async def cancel_once_arrived(
    server: ScriptedServer, request: Awaitable[Any], path: str = "/calendar"
) -> None:
    """Start ``request``, cancel it once the server holds it, and wait for it to end."""
    task = asyncio.ensure_future(request)
    deadline = time.monotonic() + 5.0
    while path not in server.arrived:
        assert time.monotonic() < deadline, "the request never arrived"
        assert not task.done(), "the request ended before it arrived"
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_an_unforeseen_failure_is_counted_as_error() -> None:
    assert outcome_of(aiohttp.ClientResponseError(None, (), status=400)) == "error"  # type: ignore[arg-type]
    assert outcome_of(RuntimeError("bug")) == "error"


@pytest.mark.parametrize(
    ("pims", "path", "expected"),
    [
        ("IDEXX Neo", "/calendar", "IDEXX Neo calendar failed after 4 attempts: HTTP 503"),
        ("ezyVet", "/v2/appointment", "ezyVet appointment failed after 4 attempts: HTTP 503"),
    ],
)
def test_an_outage_names_the_pims_endpoint_and_attempts(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture, pims: str, path: str, expected: str
) -> None:
    server.scripts[path] = [status(503)]
    get = neo_get if pims == "IDEXX Neo" else ezyvet_get
    with (
        caplog.at_level(logging.INFO, logger="pims_sync.pims"),
        pytest.raises(PimsUnavailable) as caught,
    ):
        get(server.url, RecordingObserver())
    assert str(caught.value) == expected
    retries = [r for r in caplog.records if r.getMessage() == f"{pims} request failed, retrying"]
    assert [r.__dict__["retry"] for r in retries] == [1, 2, 3]


def test_a_closed_client_opens_a_new_session_when_used_again(server: ScriptedServer) -> None:
    server.scripts["/calendar"] = [OK]
    server.scripts["/v2/appointment"] = [OK]
    observer = RecordingObserver()

    async def go() -> list[Any]:
        neo = NeoJsonClient(server.url, settings=NEO, observer=observer)
        ezyvet = ezyvet_client(server.url, observer)
        answers = []
        for _ in range(2):
            answers.append(await neo.get_json("calendar", "/calendar"))
            answers.append(await ezyvet.get("appointment", "/v2/appointment", {}))
            await neo.close()
            await ezyvet.close()
        return answers

    assert run(go()) == [{"status": 200}] * 4
    assert observer.outcomes("calendar") == observer.outcomes("appointment") == ["ok", "ok"]


@pytest.mark.parametrize("header", ["Retry-After", "x-ratelimit-reset"])
def test_ezyvet_429_wait_read_from_an_http_date_or_seconds(
    server: ScriptedServer, header: str
) -> None:
    """The wait a 429 asks for is honoured in both of RFC 9110's forms: a date already passed
    means "go again now". Unread, it would fall back on the default pause, which here is longer
    than a sync may wait, so the request would fail with ``RateLimited``."""
    value = "0" if header == "x-ratelimit-reset" else "Wed, 21 Oct 2015 07:28:00 GMT"
    server.scripts["/v2/appointment"] = [status(429, **{header: value}), OK]
    observer = RecordingObserver()
    patient = SitePacer(PacingSettings(default_pause_s=3600.0, max_wait_s=30.0))

    async def call() -> Any:
        client = EzyVetClient(server.url, patient, settings=EZYVET, observer=observer)

        async def request_token() -> str:
            return await client.request_token({"client_secret": "s3cr3t"})

        client.tokens = TokenKeeper(MemorySessionStore(), "transport-test", request_token)
        try:
            return await client.get("appointment", "/v2/appointment", {})
        finally:
            await client.close()

    run(call())
    assert observer.outcomes("appointment") == ["rate_limited", "ok"]
