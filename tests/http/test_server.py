"""``HttpServer``: its own thread and loop, binding in ``start``, graceful ``stop``."""

from __future__ import annotations

import socket
import threading
import urllib.request

import pytest

from daemon.config import Settings
from daemon.http import HttpServer, build_app
from daemon.store import Store
from tests.http.standin import StandInDispatcher


def make_server(store: Store, port: int = 0) -> HttpServer:
    settings = Settings(host="127.0.0.1", port=port)
    return HttpServer(build_app(store, StandInDispatcher(store), settings), "127.0.0.1", port)


def test_port_zero_binds_a_free_port_and_serves_from_its_own_thread(store: Store) -> None:
    server = make_server(store)
    server.start()
    try:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert any(t.name == "http-server" for t in threading.enumerate())
        with urllib.request.urlopen(server.url + "/health", timeout=10) as reply:
            assert reply.status == 200
    finally:
        server.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url + "/health", timeout=10)
    assert not any(t.name == "http-server" for t in threading.enumerate())


def test_a_port_conflict_fails_start(store: Store) -> None:
    taken = socket.create_server(("127.0.0.1", 0))
    try:
        server = make_server(store, taken.getsockname()[1])
        with pytest.raises(OSError):
            server.start()
        server.stop()  # harmless after a failed start
    finally:
        taken.close()


def test_stop_is_idempotent_and_start_only_once(store: Store) -> None:
    server = make_server(store)
    server.stop()  # before start: nothing to do
    server.start()
    with pytest.raises(RuntimeError):
        server.start()
    server.stop()
    server.stop()
