"""Requests that push the HTTP server's limits: each gets a clear 4xx, no traceback is logged,
and nothing the client sent in a refused header comes back in the answer or the log."""

from __future__ import annotations

import json
import logging
import socket
import uuid
from collections.abc import Callable
from dataclasses import replace

import pytest

from tests.http.conftest import FAST, Api
from tests.observability.polling import wait_until

TOKEN = "Qm4lPlainSessionToken"  # a cookie or key value with no label the masking knows


def _exchange(api: Api, request: bytes, *, close_after_send: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", api.server.port), timeout=30) as client:
        client.sendall(request)
        if close_after_send:
            return b""
        received = b""
        while chunk := client.recv(65536):
            received += chunk
    return received


def _one_response(client: socket.socket) -> bytes:
    """Read one answer, headers and ``Content-Length`` bytes of body (the server may linger
    before it closes, letting a slow client finish sending)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = client.recv(65536)
        assert chunk, "the server closed without answering"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = client.recv(65536)
        assert chunk, "the server closed mid-answer"
        body += chunk
    return head + b"\r\n\r\n" + body


def _status(raw: bytes) -> int:
    return int(raw.split(b"\r\n", 1)[0].split(b" ")[1])


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not any(r.exc_info or r.exc_text for r in caplog.records)
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /health HTTP/1.1\r\nHost: x\r\nCookie: " + TOKEN.encode() * 600 + b"\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-API-Key: " + TOKEN.encode() * 600 + b"\r\n\r\n",
        b"GET /api/schedules?" + TOKEN.encode() * 600 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["cookie", "api-key", "request-line"],
)
def test_an_overlong_line_is_refused_without_quoting_it(
    api: Api, request_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        raw = _exchange(api, request_bytes)
    assert _status(raw) == 400
    body = json.loads(raw.partition(b"\r\n\r\n")[2])
    assert body["error"]["code"] == "invalid_request"
    assert "8190" in body["error"]["message"]  # says which limit was passed
    assert TOKEN.encode() not in raw
    assert TOKEN not in caplog.text
    _no_traceback(caplog)


def _trigger_head(api: Api, length: int) -> bytes:
    return (
        f"POST /api/sync/inbound HTTP/1.1\r\nHost: x\r\nX-API-Key: {api.key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "route", None) == "/api/sync/inbound"]


def test_a_client_that_leaves_mid_body_is_no_internal_error(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        _exchange(api, _trigger_head(api, 100) + b'{"force', close_after_send=True)
        (line,) = wait_until(lambda: _access_lines(caplog), "the trigger's access line")
    assert getattr(line, "status", None) == 400
    _no_traceback(caplog)
    assert api.dispatcher.submitted == []


def test_a_body_that_trickles_in_is_cut_off(
    make_api: Callable[..., Api], caplog: pytest.LogCaptureFixture
) -> None:
    api = make_api(tuning=replace(FAST, body_timeout_s=0.5))
    with (
        caplog.at_level(logging.DEBUG),
        socket.create_connection(("127.0.0.1", api.server.port), timeout=30) as client,
    ):
        # Part of the body, then nothing more: the connection stays open from our side.
        client.sendall(_trigger_head(api, 100) + b'{"force')
        received = _one_response(client)
    assert _status(received) == 400
    error = json.loads(received.partition(b"\r\n\r\n")[2])["error"]
    assert error["code"] == "invalid_request"
    assert error["details"][0]["field"] == "body"
    _no_traceback(caplog)
    assert api.dispatcher.submitted == []


def test_a_body_in_time_is_still_read(make_api: Callable[..., Api]) -> None:
    api = make_api(tuning=replace(FAST, body_timeout_s=5.0))
    reply = api.post_async("/api/sync/inbound", {"forceFullSync": True})
    assert reply.status == 202
    assert uuid.UUID(reply.json()["syncId"])
