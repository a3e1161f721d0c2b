"""150 consultation fetches from the simulator at 50 ms latency, at several concurrencies.

Prints the wall time per concurrency C and its ratio to the ideal ``ceil(150 / C) × 50 ms``
(target ≤ 1.3 at C = 8), and shows that the JSON phase holds no browser lease: one real login
first, then every fetch runs on the exported cookies while the pool is sampled.

    .venv/bin/python -m benchmarks.provider_consultations [--latency-ms 50] [--runs 3]

The simulator runs in its own process, so that it does not share this process's GIL with the
client being measured.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from providers.base import Credentials, MemorySessionStore, ProviderContext
from providers.browsers import BrowserPool
from providers.idexx_neo.provider import IdexxNeoProvider
from providers.simulation.process import simulator_process as run_simulator

ZONE = "America/Los_Angeles"
CREDENTIALS = Credentials.of(username="demo", password="demo-password", company_id="demo-clinic")
CONCURRENCIES = (1, 2, 5, 8, 16)
FETCHES = 150


@contextmanager
def simulator_process(latency_ms: int) -> Iterator[str]:
    """The IDEXX Neo simulator's ``scale`` scenario in a process of its own; yields its URL."""
    with run_simulator("idexx_neo", "--scenario", "scale", "--latency-ms", str(latency_ms)) as url:
        yield url


def consultation_ids(url: str, session: str, count: int) -> list[str]:
    """Consultation ids of the scenario's appointments, read through the provider itself."""

    async def read() -> list[str]:
        store = MemorySessionStore()
        store.save(session, None)
        context = ProviderContext("bench", ZoneInfo(ZONE), url, store)
        today = datetime.now(ZoneInfo(ZONE)).date()
        async with IdexxNeoProvider(context) as provider:
            await provider.authenticate(CREDENTIALS)
            appointments = await provider.fetch_appointments(
                today - timedelta(days=21), today + timedelta(days=21)
            )
        return [a.consultation_id for a in appointments if a.consultation_id]

    ids = asyncio.run(read())
    if len(ids) < count:
        raise SystemExit(f"the scale scenario has only {len(ids)} consultations")
    return ids[:count]


def log_in(url: str, pool: BrowserPool) -> str:
    store = MemorySessionStore()
    context = ProviderContext("bench", ZoneInfo(ZONE), url, store, pool)

    async def go() -> None:
        async with IdexxNeoProvider(context) as provider:
            await provider.authenticate(CREDENTIALS)

    asyncio.run(go())
    assert store.state is not None
    return store.state


class LeaseSampler:
    """Samples the pool's leases in use from another thread while the fetches run."""

    def __init__(self, pool: BrowserPool) -> None:
        self.pool = pool
        self.samples = 0
        self.peak_in_use = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.samples += 1
            self.peak_in_use = max(self.peak_in_use, self.pool.stats()["in_use"])

    def __enter__(self) -> LeaseSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def fetch_all(url: str, session: str, pool: BrowserPool, ids: list[str], c: int) -> float:
    store = MemorySessionStore()
    store.save(session, None)
    context = ProviderContext("bench", ZoneInfo(ZONE), url, store, pool, max_concurrency=c)
    async with IdexxNeoProvider(context) as provider:
        await provider.authenticate(CREDENTIALS)
        await provider.fetch_consultation(ids[0])  # open the connection pool outside the clock
        started = time.perf_counter()
        results = await asyncio.gather(*(provider.fetch_consultation(cid) for cid in ids))
        elapsed = time.perf_counter() - started
    assert len(results) == len(ids)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3, help="best of N per concurrency")
    args = parser.parse_args()
    latency = args.latency_ms / 1000

    with simulator_process(args.latency_ms) as url, BrowserPool(size=1) as pool:
        session = log_in(url, pool)
        launched_after_login = pool.stats()["launched"]
        ids = consultation_ids(url, session, FETCHES)
        print(f"{FETCHES} consultation fetches, simulated latency {args.latency_ms} ms")
        print(f"{'C':>3} {'wall (best)':>12} {'median':>8} {'ideal':>8} {'ratio':>6}")
        with LeaseSampler(pool) as sampler:
            for c in CONCURRENCIES:
                walls = [
                    asyncio.run(fetch_all(url, session, pool, ids, c)) for _ in range(args.runs)
                ]
                ideal = math.ceil(FETCHES / c) * latency
                best = min(walls)
                print(
                    f"{c:>3} {best:>11.3f}s {statistics.median(walls):>7.3f}s "
                    f"{ideal:>7.3f}s {best / ideal:>6.2f}"
                )
        print(
            f"browser leases in use during the JSON phase: peak {sampler.peak_in_use} "
            f"over {sampler.samples} samples; Chromium launches during it: "
            f"{pool.stats()['launched'] - launched_after_login}"
        )


if __name__ == "__main__":
    main()
