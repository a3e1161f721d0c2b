"""Below the API: HEAD on the probes, and requests the HTTP parser refuses."""

from __future__ import annotations

import json
import logging
import socket
import uuid

import pytest

from tests.http.conftest import Api


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics"])
def test_head_on_the_probes(api: Api, path: str) -> None:
    get = api.client.request("GET", path)
    head = api.client.request("HEAD", path)
    assert head.status == get.status == 200
    assert head.body == b""
    assert head.headers["Content-Type"] == get.headers["Content-Type"]


def test_head_follows_readiness(api: Api) -> None:
    api.dispatcher.draining = True
    assert api.client.request("HEAD", "/ready").status == 503


def raw_exchange(api: Api, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", api.server.port), timeout=10) as client:
        client.sendall(request)
        received = b""
        while chunk := client.recv(65536):
            received += chunk
    return received


@pytest.mark.parametrize(
    "header",
    [b"X-Bad: a\x00b", b"X-API-Key: pims_sk_\x00secret", b"Bad Header", b"X-Ctl: \x01"],
    ids=["nul", "nul-in-key", "no-colon", "control"],
)
def test_a_malformed_header_is_a_json_400_without_a_traceback(
    api: Api, header: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        raw = raw_exchange(api, b"GET /health HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].split(b" ")[1] == b"400"
    headers = dict(
        line.decode().split(": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line
    )
    request_id = headers["X-Request-Id"]
    assert str(uuid.UUID(request_id)) == request_id
    error = json.loads(body)["error"]
    assert error["code"] == "invalid_request"
    assert b"secret" not in raw
    assert not any(record.exc_info for record in caplog.records)
    assert "secret" not in caplog.text
    lines = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
