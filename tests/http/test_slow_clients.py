"""Issue 11: slow clients cannot use up the file descriptors (real sockets, a real process).

Hundreds of connections that send half their headers, against a server whose open-file limit
is lowered: ``/health`` keeps answering, the half-sent connections are closed after the
header timeout (not held for minutes), and the log stays a handful of lines.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.observability.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]
FD_LIMIT = 400  # the server's connection cap is then 400 - 100 - 128 = 172
SLOW_CLIENTS = 500
HALF_REQUEST = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.http.fd_server", str(FD_LIMIT), str(tmp_path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield port, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)


def health(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as reply:
            return int(reply.status)
    except OSError:
        return 0


def closed_by_server(client: socket.socket) -> bool:
    try:
        return client.recv(4096, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False  # still open, nothing to read
    except OSError:
        return True  # reset


@pytest.mark.timeout(120)
def test_half_sent_headers_neither_hold_descriptors_nor_silence_health(
    server: tuple[int, subprocess.Popen[str]],
) -> None:
    port, process = server
    clients: list[socket.socket] = []
    try:
        for _ in range(SLOW_CLIENTS):
            client = socket.create_connection(("127.0.0.1", port), timeout=10)
            client.sendall(HALF_REQUEST)
            clients.append(client)
        # With every slot taken by a slow client, a probe still gets in (an idle one makes room).
        assert wait_until(lambda: health(port) == 200, "/health answering 200", timeout_s=30)
        # Every half-sent connection is closed by the server after the header timeout.
        assert wait_until(
            lambda: all(closed_by_server(c) for c in clients),
            "every half-sent connection closed",
            timeout_s=60,
        )
        assert health(port) == 200
    finally:
        for client in clients:
            client.close()
    _, stderr = process.communicate(input="", timeout=60)  # closing stdin stops it
    assert process.returncode == 0, stderr[-3000:]
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert len(lines) < 50, [line["message"] for line in lines][:60]
    tracebacks = [line for line in lines if "Traceback" in line.get("exception", "")]
    assert tracebacks == []
