"""Fixtures for the provider tests: a simulator, a browser pool, and fast settings.

The simulator and the pool are shared per module (a Chromium launch and a server start are the
slow parts); every test starts from the simulator's default knobs, data and counters.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest

from providers.base import MemorySessionStore, ProviderContext
from providers.browsers import BrowserPool
from providers.idexx_neo.provider import IdexxNeoProvider, NeoSettings
from providers.idexx_neo.simulator import SimulatorServer
from tests.support import CREDENTIALS, TODAY, ZONE, CountingBrowsers, fast_settings

T = TypeVar("T")

FAST = fast_settings(login_s=5.0)


def run(coroutine: Awaitable[T]) -> T:
    async def main() -> T:
        return await coroutine

    return asyncio.run(main())


class RecordingObserver:
    """Collects what the provider reports (requests and logins), from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self.logins: list[str] = []

    def on_request(self, endpoint: str, outcome: str, seconds: float) -> None:
        assert seconds >= 0
        with self._lock:
            self.requests.append((endpoint, outcome))

    def on_login(self, outcome: str) -> None:
        with self._lock:
            self.logins.append(outcome)

    def outcomes(self, endpoint: str) -> list[str]:
        with self._lock:
            return [outcome for name, outcome in self.requests if name == endpoint]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(today=TODAY, timezone=ZONE) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_simulator(request: pytest.FixtureRequest) -> None:
    if "sim" in request.fixturenames:
        request.getfixturevalue("sim").reset()


@pytest.fixture(scope="module")
def pool() -> Iterator[BrowserPool]:
    browser_pool = BrowserPool(size=2)
    browser_pool.start()
    try:
        yield browser_pool
    finally:
        browser_pool.stop()


@dataclass
class Harness:
    """What a test inspects around one provider."""

    store: MemorySessionStore
    observer: RecordingObserver
    browsers: CountingBrowsers | None


ProviderFactory = Callable[..., tuple[IdexxNeoProvider, Harness]]


@pytest.fixture
def make_provider(sim: SimulatorServer, pool: BrowserPool) -> ProviderFactory:
    """Builds a provider pointed at the simulator; ``session`` pre-fills its session store."""

    def factory(
        *,
        session: str | None = None,
        max_concurrency: int = 5,
        settings: NeoSettings = FAST,
        with_browser: bool = True,
        base_url: str | None = None,
    ) -> tuple[IdexxNeoProvider, Harness]:
        harness = Harness(
            MemorySessionStore(),
            RecordingObserver(),
            CountingBrowsers(pool) if with_browser else None,
        )
        if session is not None:
            harness.store.save(session, None)
        context = ProviderContext(
            clinic_id="clinic-test",
            timezone=ZoneInfo(ZONE),
            base_url=base_url or sim.url,
            session_store=harness.store,
            browsers=harness.browsers,
            max_concurrency=max_concurrency,
            observer=harness.observer,
        )
        return IdexxNeoProvider(context, settings), harness

    return factory


@pytest.fixture(scope="module")
def session(sim: SimulatorServer, pool: BrowserPool) -> Iterator[str]:
    """A session from one real login, shared by the module's tests."""
    store = MemorySessionStore()
    context = ProviderContext("clinic-test", ZoneInfo(ZONE), sim.url, store, pool)

    async def log_in() -> None:
        async with IdexxNeoProvider(context, FAST) as provider:
            await provider.authenticate(CREDENTIALS)

    run(log_in())
    assert store.state is not None
    yield store.state
