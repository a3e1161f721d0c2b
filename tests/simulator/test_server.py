"""Lifecycle of the threaded runner."""

from __future__ import annotations

import aiohttp
import pytest

from providers.idexx_neo.simulator import SimulatorServer
from tests.simulator.conftest import TODAY, run


def test_start_reports_a_taken_port_and_stop_is_idempotent() -> None:
    with SimulatorServer(today=TODAY) as first:
        assert first.is_running and first.url == f"http://127.0.0.1:{first.port}"
        with pytest.raises(RuntimeError, match="could not listen"):
            SimulatorServer(today=TODAY, port=first.port).start()
    assert not first.is_running
    first.stop()  # a second stop is harmless


def test_bad_settings_fail_before_anything_listens() -> None:
    with pytest.raises(ValueError):
        SimulatorServer(scenario="bogus")
    with pytest.raises(ValueError):
        SimulatorServer(latency_ms=-5)


def test_constructor_latency_is_the_default_knob_and_reset_restores_everything() -> None:
    with SimulatorServer(today=TODAY, latency_ms=7, password="s3cret") as server:
        assert server.get_faults()["latency_ms"] == 7
        first = next(iter(server.dataset.events))
        server.dataset.remove_event(first)
        server.set_faults(latency_ms=0, password="other")

        async def ping() -> int:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"{server.url}/login") as resp,
            ):
                return resp.status

        assert run(ping()) == 200
        assert server.stats()["login"] == 1
        server.reset()
        assert server.get_faults()["latency_ms"] == 7
        assert server.get_faults()["password"] == "s3cret"
        assert first in server.dataset.events
        assert server.stats()["login"] == 0
