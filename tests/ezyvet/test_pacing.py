"""Rate limits: the provider paces itself under ezyVet's limits and waits out 429s.

A "minute" is scaled down to about a second here (the window is a setting on both sides).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from providers.base import Appointment, MemorySessionStore, RateLimited
from providers.ezyvet.pacing import PacingSettings, SitePacer
from providers.ezyvet.simulator import EzyVetSimulator
from tests.ezyvet.conftest import (
    SCALE_START,
    TODAY,
    ZONE,
    credentials,
    fast,
    fetch_all,
    make,
    run,
)

WINDOW_S = 1.0
Expected = tuple[list[Appointment], dict[str, Any]]


@pytest.fixture(scope="module")
def expected(scale_sim: EzyVetSimulator) -> Expected:
    scale_sim.reset()
    return run(fetch_all(make(scale_sim.url), SCALE_START, TODAY))


def test_the_scale_data_under_default_limits_never_meets_a_429(
    scale_sim: EzyVetSimulator,
    expected: Expected,
) -> None:
    assert run(fetch_all(make(scale_sim.url), SCALE_START, TODAY)) == expected
    stats = scale_sim.stats()
    assert stats["rate_limited"] == 0
    assert max(stats["peak_per_window"].values()) <= 60  # the site included: ≤ 180
    assert stats["requests"] <= 40


@pytest.fixture
def tight_sim() -> Iterator[EzyVetSimulator]:
    """The scale site allowing 5 requests per endpoint and 15 per site in each 1 s window."""
    with EzyVetSimulator(
        scenario="scale",
        today=TODAY,
        timezone=ZONE,
        rate_limit_per_min=5,
        site_rate_limit_per_min=15,
        rate_window_s=WINDOW_S,
    ) as server:
        yield server


def test_a_client_that_knows_the_limit_stays_under_it(
    tight_sim: EzyVetSimulator,
    expected: Expected,
) -> None:
    # The server counts but never refuses here, so its peaks show the client's own pacing.
    tight_sim.set_faults(rate_limit_per_window=1000, site_rate_limit_per_window=1000)
    pacing = PacingSettings(per_endpoint=5, per_site=15, window_s=WINDOW_S)
    got = run(fetch_all(make(tight_sim.url, settings=fast(pacing)), SCALE_START, TODAY))
    assert got == expected
    stats = tight_sim.stats()
    assert stats["rate_limited"] == 0
    peaks = stats["peak_per_window"]
    assert peaks.pop("site") <= 15 and max(peaks.values()) <= 5


def test_429s_are_waited_out_and_the_result_is_the_same(
    tight_sim: EzyVetSimulator,
    expected: Expected,
) -> None:
    # The client believes in the default budget (60/180 per window): the server's 429s teach it.
    pacing = PacingSettings(window_s=WINDOW_S)
    got = run(fetch_all(make(tight_sim.url, settings=fast(pacing)), SCALE_START, TODAY))
    assert got == expected
    stats = tight_sim.stats()
    assert stats["rate_limited"] > 0
    peaks = stats["peak_per_window"]
    assert peaks.pop("site") <= 15 and max(peaks.values()) <= 5


def test_a_429_storm_is_waited_out_not_retried_away(sim: EzyVetSimulator) -> None:
    expected = run(fetch_all(make(sim.url), TODAY, TODAY))
    sim.reset()
    sim.set_faults(storm=8, storm_reset_s=0.2)  # more 429s than the three retries
    pacing = PacingSettings(window_s=WINDOW_S)
    assert run(fetch_all(make(sim.url, settings=fast(pacing)), TODAY, TODAY)) == expected
    assert sim.stats()["rate_limited"] == 8


def test_waits_beyond_the_budget_fail_with_rate_limited(sim: EzyVetSimulator) -> None:
    sim.set_faults(storm=1000, storm_reset_s=5)
    pacing = PacingSettings(window_s=WINDOW_S, max_wait_s=2.0)
    made = make(sim.url, settings=fast(pacing))

    async def go() -> str:
        async with made.provider as provider:
            with pytest.raises(RateLimited) as caught:
                await provider.authenticate(made.creds)
            return caught.value.code

    assert run(go()) == "pims_rate_limited"
    assert sim.stats()["rate_limited"] == 1  # it did not hammer the site while paused


def test_the_pacer_budget_is_per_endpoint_and_per_site() -> None:
    pacer = SitePacer(PacingSettings(per_endpoint=2, per_site=3, window_s=10, margin_fraction=0))
    assert pacer.reserve("a", now=0) == 0 and pacer.reserve("a", now=1) == 0
    assert pacer.reserve("a", now=2) == pytest.approx(8)  # endpoint full until t=10
    assert pacer.reserve("b", now=2) == 0
    assert pacer.reserve("c", now=3) == pytest.approx(7)  # site full until t=10
    assert pacer.reserve("c", now=10) == 0
    pacer.pause(5, now=11)
    assert pacer.reserve("d", now=12) == pytest.approx(4)


def test_two_syncs_of_one_site_share_one_budget(
    tight_sim: EzyVetSimulator,
    expected: Expected,
) -> None:
    """Two providers of the same clinic, each in its own thread and event loop (as two syncs
    run), draw from one process-wide budget: together they stay under the limit."""
    tight_sim.set_faults(rate_limit_per_window=1000, site_rate_limit_per_window=1000)
    pacing = PacingSettings(per_endpoint=5, per_site=15, window_s=WINDOW_S)
    creds = credentials("shared-site")
    store = MemorySessionStore()  # the clinic's session store, as the daemon shares it
    results: list[Expected] = []

    def one() -> None:
        made = make(tight_sim.url, store=store, creds=creds, settings=fast(pacing))
        results.append(run(fetch_all(made, SCALE_START, TODAY)))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert results == [expected, expected]
    peaks = tight_sim.stats()["peak_per_window"]
    assert peaks.pop("site") <= 15 and max(peaks.values()) <= 5
