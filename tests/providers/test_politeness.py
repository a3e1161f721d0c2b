"""A polite client when IDEXX Neo is failing: no storm of retries, the rate limit named as such.

One browser login per module; every test then runs on that cached session, without a browser.
"""

from __future__ import annotations

import pytest

from providers.base import Consultation, PimsUnavailable, ProviderError, RateLimited
from providers.idexx_neo.provider import IdexxNeoProvider
from providers.idexx_neo.simulator import SimulatorServer
from tests.providers.conftest import Harness, ProviderFactory, run
from tests.support import CREDENTIALS, TODAY

PARALLEL = 5
RETRIES = 3  # the contract's; FAST keeps it and only shortens the waits


@pytest.fixture
def cached(session: str, make_provider: ProviderFactory) -> tuple[IdexxNeoProvider, Harness]:
    provider, harness = make_provider(session=session, max_concurrency=PARALLEL)
    run(provider.authenticate(CREDENTIALS))
    return provider, harness


def fetch_all(
    provider: IdexxNeoProvider, ids: list[str]
) -> dict[str, Consultation | ProviderError]:
    async def scenario() -> dict[str, Consultation | ProviderError]:
        async with provider:
            return await provider.fetch_consultations(ids)

    return run(scenario())


def test_neo_down_for_every_consultation_is_no_retry_storm(
    sim: SimulatorServer, cached: tuple[IdexxNeoProvider, Harness]
) -> None:
    provider, _ = cached
    ids = [f"c-{n}" for n in range(150)]
    sim.set_faults(errors={"consultation": {"rate": 1.0, "status": 503}})
    results = fetch_all(provider, ids)
    # Every consultation failed as an outage (tried again next run), none as "not there".
    assert set(results) == set(ids)
    for result in results.values():
        assert type(result) is PimsUnavailable
        assert result.code == "pims_unavailable" and result.retryable
    # Once the requests that were running gave up after all their retries, Neo was taken to be
    # down: the other consultations were not asked for at all (150 × 4 requests otherwise).
    sent = sim.stats()["consultation"]
    assert sent <= 2 * PARALLEL * (1 + RETRIES), sent


def test_a_few_broken_consultations_do_not_stop_the_others(
    sim: SimulatorServer, cached: tuple[IdexxNeoProvider, Harness]
) -> None:
    provider, _ = cached
    ids = sorted(sim.dataset.consultations)
    broken = ids[:4]  # first in line, failing together, while the others answer
    sim.set_faults(consultation_status={cid: 500 for cid in broken})
    results = fetch_all(provider, ids)
    assert {cid for cid, r in results.items() if isinstance(r, PimsUnavailable)} == set(broken)
    assert all(isinstance(results[cid], Consultation) for cid in ids if cid not in broken)


def test_neo_back_after_an_outage_is_asked_again_by_the_next_sync(
    sim: SimulatorServer, session: str, make_provider: ProviderFactory
) -> None:
    provider, _ = make_provider(session=session, max_concurrency=PARALLEL)
    run(provider.authenticate(CREDENTIALS))
    sim.set_faults(errors={"consultation": {"rate": 1.0, "status": 502}})
    ids = sorted(sim.dataset.consultations)
    assert all(isinstance(r, PimsUnavailable) for r in fetch_all(provider, ids).values())
    sim.reset()
    following, _ = make_provider(session=session, max_concurrency=PARALLEL)
    run(following.authenticate(CREDENTIALS))
    assert all(isinstance(r, Consultation) for r in fetch_all(following, ids).values())


def test_a_rate_limit_that_outlasts_the_retries_is_pims_rate_limited(
    sim: SimulatorServer, cached: tuple[IdexxNeoProvider, Harness]
) -> None:
    provider, harness = cached
    sim.set_faults(errors={"calendar": {"rate": 1.0, "status": 429}})

    async def scenario() -> None:
        async with provider:
            await provider.fetch_appointments(TODAY, TODAY)

    with pytest.raises(RateLimited) as caught:
        run(scenario())
    assert caught.value.code == "pims_rate_limited"
    assert harness.observer.outcomes("calendar") == ["rate_limited"] * (1 + RETRIES)
