"""Logging into the simulator with real Chromium, and reusing the session without it."""

from __future__ import annotations

import json
import socket
from dataclasses import replace

import pytest

from providers.base import (
    AuthenticationFailed,
    BranchPickerShown,
    BrowserUnavailable,
    Credentials,
    PimsUnavailable,
    SecondFactorRequired,
    SessionLost,
)
from providers.browsers import BrowserPool
from providers.idexx_neo.login import LoginTimeouts
from providers.idexx_neo.provider import IdexxNeoProvider
from providers.idexx_neo.simulator import SESSION_COOKIE, SimulatorServer
from tests.providers.conftest import FAST, ProviderFactory, run
from tests.support import CREDENTIALS, TODAY

pytestmark = pytest.mark.browser


def test_real_browser_login_stores_the_session(
    sim: SimulatorServer, pool: BrowserPool, make_provider: ProviderFactory
) -> None:
    provider, harness = make_provider()

    async def scenario() -> int:
        async with provider:
            await provider.authenticate(CREDENTIALS)
            assert provider.is_authenticated()
            return len(await provider.fetch_appointments(TODAY, TODAY))

    assert run(scenario()) > 0
    assert harness.browsers is not None and harness.browsers.leases == 1
    assert harness.observer.logins == ["ok"]
    assert sim.stats()["logins"] == 1
    state = harness.store.load()
    assert state is not None and harness.store.expires_at is not None
    cookies = json.loads(state)["cookies"]
    assert SESSION_COOKIE in {c["name"] for c in cookies}
    assert CREDENTIALS.require("password") not in state
    assert pool.stats()["in_use"] == 0  # the lease was returned before the JSON calls


def test_cached_session_starts_no_browser(
    sim: SimulatorServer, pool: BrowserPool, make_provider: ProviderFactory
) -> None:
    first, first_harness = make_provider()
    run(_authenticate_and_close(first))
    launched = pool.stats()["launched"]
    logins = sim.stats()["logins"]

    second, harness = make_provider(session=first_harness.store.load())

    async def scenario() -> int:
        async with second:
            await second.authenticate(CREDENTIALS)
            return len(await second.fetch_appointments(TODAY, TODAY))

    assert run(scenario()) > 0
    assert harness.browsers is not None and harness.browsers.leases == 0
    assert harness.observer.logins == []
    assert pool.stats()["launched"] == launched
    assert sim.stats()["logins"] == logins


def test_session_for_another_site_is_not_reused(
    sim: SimulatorServer, make_provider: ProviderFactory
) -> None:
    first, first_harness = make_provider()
    run(_authenticate_and_close(first))
    stale = first_harness.store.load()
    assert stale is not None
    moved = stale.replace(sim.url, "http://127.0.0.1:1")
    second, harness = make_provider(session=moved)
    run(_authenticate_and_close(second))
    assert harness.browsers is not None and harness.browsers.leases == 1
    assert harness.store.load() != moved


def test_unreadable_cached_session_means_a_fresh_login(
    sim: SimulatorServer, make_provider: ProviderFactory
) -> None:
    provider, harness = make_provider(session="{not json")
    run(_authenticate_and_close(provider))
    assert harness.observer.logins == ["ok"]
    assert sim.stats()["logins"] == 1


def test_wrong_password_fails_once_and_never_retries(
    sim: SimulatorServer, make_provider: ProviderFactory
) -> None:
    provider, harness = make_provider()
    wrong = Credentials.of(username="demo", password="not-the-password", company_id="demo-clinic")

    async def scenario() -> None:
        async with provider:
            with pytest.raises(AuthenticationFailed) as caught:
                await provider.authenticate(wrong)
            assert type(caught.value) is AuthenticationFailed
            assert "Invalid" in str(caught.value)  # Neo's own reason is passed on
            assert wrong.require("password") not in str(caught.value)
            # Later calls fail the same way without trying the credentials again.
            with pytest.raises(AuthenticationFailed):
                await provider.fetch_appointments(TODAY, TODAY)

    run(scenario())
    stats = sim.stats()
    assert stats["login_failures"] == 1 and stats["logins"] == 0
    assert harness.observer.logins == ["auth_failed"]
    assert harness.store.load() is None


def test_tenant_without_company_field(sim: SimulatorServer, make_provider: ProviderFactory) -> None:
    sim.set_faults(tenant="no_company")
    provider, harness = make_provider()
    run(_authenticate_and_close(provider))
    assert harness.observer.logins == ["ok"]


def test_second_factor_is_reported(sim: SimulatorServer, make_provider: ProviderFactory) -> None:
    sim.set_faults(tenant="second_factor")
    provider, harness = make_provider()
    with pytest.raises(SecondFactorRequired) as caught:
        run(_authenticate_and_close(provider))
    assert caught.value.code == "pims_second_factor"
    assert harness.observer.logins == ["second_factor"]
    assert sim.stats()["second_factor_prompts"] == 1


def test_branch_picker_is_reported(sim: SimulatorServer, make_provider: ProviderFactory) -> None:
    sim.set_faults(tenant="branch_picker")
    provider, harness = make_provider()
    with pytest.raises(BranchPickerShown) as caught:
        run(_authenticate_and_close(provider))
    assert caught.value.code == "pims_branch_picker"
    assert harness.observer.logins == ["branch_picker"]


def test_session_dying_right_after_login_is_session_lost(
    sim: SimulatorServer, make_provider: ProviderFactory
) -> None:
    # With this knob the session dies before the dashboard renders: Neo lets the browser past
    # the form, then sends it back to the login form. The password was right.
    sim.set_faults(session_expire_after=0)
    provider, harness = make_provider()
    with pytest.raises(SessionLost, match="right after the login") as caught:
        run(_authenticate_and_close(provider))
    assert caught.value.code == "pims_session_lost"
    assert harness.observer.logins == ["session_lost"]


def test_login_page_that_never_answers_times_out(
    sim: SimulatorServer, make_provider: ProviderFactory
) -> None:
    sim.set_faults(hang=["login"])
    short = replace(FAST, login=LoginTimeouts(page_s=1.0, step_s=1.0, outcome_s=1.0))
    provider, harness = make_provider(settings=short)
    with pytest.raises(PimsUnavailable, match="timed out"):
        run(_authenticate_and_close(provider))
    assert harness.observer.logins == ["unavailable"]


def test_unreachable_site_is_unavailable(make_provider: ProviderFactory) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    provider, _ = make_provider(base_url=closed_url)
    with pytest.raises(PimsUnavailable, match="ERR_CONNECTION_REFUSED"):
        run(_authenticate_and_close(provider))


def test_no_browser_source_is_a_clear_error(make_provider: ProviderFactory) -> None:
    provider, harness = make_provider(with_browser=False)
    with pytest.raises(BrowserUnavailable):
        run(_authenticate_and_close(provider))
    assert harness.observer.logins == ["no_browser"]


async def _authenticate_and_close(provider: IdexxNeoProvider) -> None:
    async with provider:
        await provider.authenticate(CREDENTIALS)
