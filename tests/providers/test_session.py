"""A session Neo stops accepting: one fresh login, then the call is retried, or SessionLost."""

from __future__ import annotations

import asyncio

import pytest

from providers.base import AuthenticationFailed, SessionLost
from providers.idexx_neo.provider import IdexxNeoProvider
from providers.idexx_neo.simulator import SimulatorServer
from tests.providers.conftest import ProviderFactory, run
from tests.support import CREDENTIALS, TODAY

pytestmark = pytest.mark.browser


def _consultation_ids(sim: SimulatorServer, count: int) -> list[str]:
    ids = sorted(sim.dataset.consultations)
    assert len(ids) >= count
    return ids[:count]


@pytest.mark.parametrize("mode", ["redirect", "401", "403", "html"])
def test_expiry_mid_run_means_exactly_one_relogin(
    mode: str, sim: SimulatorServer, make_provider: ProviderFactory
) -> None:
    sim.set_faults(session_expire_after=3, expiry_mode=mode)
    provider, harness = make_provider()
    ids = _consultation_ids(sim, 5)

    async def scenario() -> list[str]:
        async with provider:
            await provider.authenticate(CREDENTIALS)
            return [(await provider.fetch_consultation(cid)).id for cid in ids]

    assert run(scenario()) == ids
    assert sim.stats()["logins"] == 2  # the first login and one re-login
    assert sim.stats()["sessions_expired"] == 1
    assert harness.observer.logins == ["ok", "ok"]
    assert harness.observer.outcomes("consultation").count("session_expired") == 1


def test_concurrent_calls_that_find_the_session_dead_share_one_relogin(
    sim: SimulatorServer, make_provider: ProviderFactory
) -> None:
    provider, harness = make_provider(max_concurrency=8)
    ids = _consultation_ids(sim, 8)

    async def scenario() -> list[str]:
        async with provider:
            await provider.authenticate(CREDENTIALS)
            for cid in ids:  # the first session serves 8 requests...
                await provider.fetch_consultation(cid)
            # ...and dies now, while any new session may serve 8 more.
            sim.set_faults(session_expire_after=8, expiry_mode="401")
            found = await asyncio.gather(*(provider.fetch_consultation(cid) for cid in ids))
            return [c.id for c in found]

    assert run(scenario()) == ids
    assert sim.stats()["logins"] == 2
    assert harness.observer.logins == ["ok", "ok"]
    assert harness.observer.outcomes("consultation").count("session_expired") == 8


@pytest.mark.parametrize("status", [302, 401, 403])
def test_session_rejected_again_after_relogin_is_lost(
    status: int, sim: SimulatorServer, make_provider: ProviderFactory
) -> None:
    provider, harness = make_provider()
    (cid,) = _consultation_ids(sim, 1)

    async def scenario() -> None:
        async with provider:
            await provider.authenticate(CREDENTIALS)
            sim.set_faults(fail_next={"consultation": [status, status]})
            with pytest.raises(SessionLost) as caught:
                await provider.fetch_consultation(cid)
            assert caught.value.code == "pims_session_lost"
            # The next call has a working session again.
            assert (await provider.fetch_consultation(cid)).id == cid

    run(scenario())
    assert sim.stats()["logins"] == 2
    assert harness.observer.logins == ["ok", "ok"]
    assert harness.observer.outcomes("consultation") == ["session_expired"] * 2 + ["ok"]


def test_cached_session_found_dead_triggers_one_login(
    sim: SimulatorServer, make_provider: ProviderFactory
) -> None:
    first, first_harness = make_provider()

    async def first_run() -> None:
        async with first:
            await first.authenticate(CREDENTIALS)
            await first.fetch_appointments(TODAY, TODAY)

    run(first_run())
    cached = first_harness.store.load()
    # The cached session has served one request and dies now; a new one serves one request,
    # which is exactly the retried call.
    sim.set_faults(session_expire_after=1, expiry_mode="html")
    second, harness = make_provider(session=cached)

    async def scenario() -> int:
        async with second:
            await second.authenticate(CREDENTIALS)
            assert harness.browsers is not None and harness.browsers.leases == 0
            return len(await second.fetch_appointments(TODAY, TODAY))

    assert run(scenario()) > 0
    assert harness.browsers is not None and harness.browsers.leases == 1
    assert harness.store.load() not in (None, cached)


def test_password_changed_while_the_session_was_cached(
    sim: SimulatorServer, make_provider: ProviderFactory
) -> None:
    first, first_harness = make_provider()
    run(_authenticate(first))
    sim.set_faults(session_expire_after=0, password="changed-at-the-clinic")
    provider, harness = make_provider(session=first_harness.store.load(), max_concurrency=4)
    ids = _consultation_ids(sim, 6)

    async def scenario() -> list[BaseException | object]:
        async with provider:
            await provider.authenticate(CREDENTIALS)
            return await asyncio.gather(
                *(provider.fetch_consultation(cid) for cid in ids), return_exceptions=True
            )

    results = run(scenario())
    assert all(isinstance(r, AuthenticationFailed) for r in results)
    assert sim.stats()["login_failures"] == 1  # six calls, one attempt with the old password
    assert harness.observer.logins == ["auth_failed"]
    assert harness.store.load() is None


async def _authenticate(provider: IdexxNeoProvider) -> None:
    async with provider:
        await provider.authenticate(CREDENTIALS)


def test_neo_rejecting_every_fresh_session_is_no_loop_of_logins(
    sim: SimulatorServer, make_provider: ProviderFactory
) -> None:
    # The login works, but the JSON endpoint refuses every session (as when Neo wants something
    # a login does not give us): one re-login may help, a second one would not either.
    provider, harness = make_provider(max_concurrency=5)
    ids = _consultation_ids(sim, 20)

    async def scenario() -> dict[str, object]:
        async with provider:
            await provider.authenticate(CREDENTIALS)
            sim.set_faults(errors={"consultation": {"rate": 1.0, "status": 401}})
            return dict(await provider.fetch_consultations(ids))

    results = run(scenario())
    assert set(results) == set(ids)
    for result in results.values():
        assert isinstance(result, SessionLost) and result.code == "pims_session_lost"
    assert sim.stats()["logins"] == 2  # the first login and one re-login, not one per batch
    assert harness.observer.logins == ["ok", "ok"]
