"""Every way a real-browser login ends gives its own error code and hands the browser back clean:
the lease returned to the pool, and no browser context (and so no page) left open in Chromium."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from playwright.async_api import Browser

from providers.base import (
    AuthenticationFailed,
    BranchPickerShown,
    PimsUnavailable,
    ProviderError,
    SecondFactorRequired,
)
from providers.browsers import BrowserPool
from providers.idexx_neo.login import LoginTimeouts
from providers.idexx_neo.simulator import SimulatorServer
from tests.providers.conftest import FAST, ProviderFactory, run
from tests.support import CREDENTIALS

pytestmark = pytest.mark.browser

SHORT = replace(FAST, login=LoginTimeouts(page_s=1.0, step_s=1.0, outcome_s=1.0))


async def _open_contexts(browser: Browser) -> int:
    return len(browser.contexts)


def open_contexts(pool: BrowserPool) -> list[int]:
    """Contexts open in each of the pool's browsers, read on the pool's own loop (every
    browser leased at once, so each one is looked at)."""

    async def scenario() -> list[int]:
        async with pool.lease(10.0) as first, pool.lease(10.0) as second:
            return [await first.run(_open_contexts), await second.run(_open_contexts)]

    assert pool.size == 2
    return run(scenario())


CASES: list[tuple[str, dict[str, Any], type[ProviderError], str, str]] = [
    (
        "wrong password",
        {"password": "changed-at-the-clinic"},
        AuthenticationFailed,
        "pims_auth_failed",
        "auth_failed",
    ),
    (
        "second factor",
        {"tenant": "second_factor"},
        SecondFactorRequired,
        "pims_second_factor",
        "second_factor",
    ),
    (
        "branch picker",
        {"tenant": "branch_picker"},
        BranchPickerShown,
        "pims_branch_picker",
        "branch_picker",
    ),
    (
        "login page never loads",
        {"hang": ["login"]},
        PimsUnavailable,
        "pims_unavailable",
        "unavailable",
    ),
    (
        "dashboard never appears",
        {"hang": ["dashboard"]},
        PimsUnavailable,
        "pims_unavailable",
        "unavailable",
    ),
]


@pytest.mark.parametrize(
    ("knobs", "error", "code", "outcome"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_failed_login_has_its_code_and_returns_a_clean_browser(
    knobs: dict[str, Any],
    error: type[ProviderError],
    code: str,
    outcome: str,
    sim: SimulatorServer,
    pool: BrowserPool,
    make_provider: ProviderFactory,
) -> None:
    sim.set_faults(**knobs)
    provider, harness = make_provider(settings=SHORT)

    async def scenario() -> None:
        async with provider:
            await provider.authenticate(CREDENTIALS)

    with pytest.raises(error) as caught:
        run(scenario())
    assert type(caught.value) is error and caught.value.code == code
    assert CREDENTIALS.require("password") not in str(caught.value)
    assert harness.observer.logins == [outcome]
    assert harness.store.load() is None
    sim.reset()  # lift a hang: the browser's request is answered, not left dangling
    assert pool.stats()["in_use"] == 0
    assert open_contexts(pool) == [0, 0]


def test_login_over_a_slow_network_succeeds_and_returns_a_clean_browser(
    sim: SimulatorServer, pool: BrowserPool, make_provider: ProviderFactory
) -> None:
    # Every page and redirect takes 300 ms: slower than the simulator's norm, well inside the
    # login's per-step timeouts.
    sim.set_faults(latency_ms=300)
    provider, harness = make_provider()

    async def scenario() -> None:
        async with provider:
            await provider.authenticate(CREDENTIALS)

    run(scenario())
    assert harness.observer.logins == ["ok"]
    assert harness.store.load() is not None
    assert pool.stats()["in_use"] == 0
    assert open_contexts(pool) == [0, 0]


def test_a_login_that_outlasts_its_whole_bound_ends_and_returns_a_clean_browser(
    sim: SimulatorServer, pool: BrowserPool, make_provider: ProviderFactory
) -> None:
    """Every step within its own timeout, the whole login past its bound: it ends as an
    outage at the bound (whatever it was waiting on), never holding its browser."""
    sim.set_faults(latency_ms=400)  # each page well inside its step's time, four of them not
    slow = replace(FAST, login=LoginTimeouts(page_s=5.0, step_s=5.0, outcome_s=5.0, whole_s=1.0))
    provider, harness = make_provider(settings=slow)

    async def scenario() -> None:
        async with provider:
            await provider.authenticate(CREDENTIALS)

    with pytest.raises(PimsUnavailable, match=r"login did not finish within 1 s"):
        run(scenario())
    assert harness.observer.logins == ["unavailable"]
    assert harness.store.load() is None
    sim.reset()
    assert pool.stats()["in_use"] == 0
    assert open_contexts(pool) == [0, 0]
