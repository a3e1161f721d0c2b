"""IDEXX Neo login through real Chromium against the simulator: time and memory.

Prints the login time with a fresh browser (Chromium launched for it) and with a reused one,
the peak proportional set size of the Chromium processes during one login (target ≤ 300 MiB),
and shows that a sync on a cached session starts no browser at all. With ``--chromium PATH``
(repeatable) it measures each browser given, e.g. Debian's headless shell against the full
browser; by default the one the pool autodetects.

    .venv/bin/python -m benchmarks.provider_login [--runs 5] [--chromium PATH]...
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from zoneinfo import ZoneInfo

from providers.base import BrowserLease, Credentials, MemorySessionStore, ProviderContext
from providers.browsers import BrowserPool
from providers.idexx_neo.provider import IdexxNeoProvider
from providers.idexx_neo.simulator import SimulatorServer

ZONE = "America/Los_Angeles"
CREDENTIALS = Credentials.of(username="demo", password="demo-password", company_id="demo-clinic")
MIB = 2**20


class CountingBrowsers:
    def __init__(self, pool: BrowserPool) -> None:
        self.pool = pool
        self.leases = 0

    def lease(self, timeout_s: float = 60.0) -> AbstractAsyncContextManager[BrowserLease]:
        self.leases += 1
        return self.pool.lease(timeout_s)


def timed_login(url: str, browsers: CountingBrowsers, store: MemorySessionStore) -> float:
    context = ProviderContext("bench", ZoneInfo(ZONE), url, store, browsers)

    async def go() -> float:
        async with IdexxNeoProvider(context) as provider:
            started = time.perf_counter()
            await provider.authenticate(CREDENTIALS)
            return time.perf_counter() - started

    return asyncio.run(go())


class PssSampler:
    def __init__(self, pool: BrowserPool) -> None:
        self.pool = pool
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.pool.pss_bytes())
            self._stop.wait(0.01)

    def __enter__(self) -> PssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.3f}s  min {min(values):.3f}s  "
        f"max {max(values):.3f}s  (n={len(values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chromium", action="append", help="a browser executable (repeatable)")
    args = parser.parse_args()
    for chromium_path in args.chromium or [None]:
        measure(args.runs, chromium_path)


def measure(runs: int, chromium_path: str | None) -> None:
    with SimulatorServer() as sim:
        fresh: list[float] = []
        fresh_peaks: list[int] = []
        executable = ""
        for _ in range(runs):
            with BrowserPool(
                size=1, chromium_path=chromium_path
            ) as pool:  # Playwright started, no Chromium yet
                with PssSampler(pool) as sampler:
                    fresh.append(timed_login(sim.url, CountingBrowsers(pool), MemorySessionStore()))
                executable = pool.executable or "?"
                fresh_peaks.append(sampler.peak)

        with BrowserPool(size=1, chromium_path=chromium_path) as pool:
            pool.warm_up()
            idle = pool.pss_bytes()
            reused: list[float] = []
            reused_peaks: list[int] = []
            for _ in range(runs):
                with PssSampler(pool) as sampler:
                    reused.append(
                        timed_login(sim.url, CountingBrowsers(pool), MemorySessionStore())
                    )
                reused_peaks.append(sampler.peak)
            after = pool.pss_bytes()

            # A sync on a cached session: the calendar and ten consultations, no browser.
            store = MemorySessionStore()
            timed_login(sim.url, CountingBrowsers(pool), store)
            launched, logins = pool.stats()["launched"], sim.stats()["logins"]
            browsers = CountingBrowsers(pool)
            context = ProviderContext("bench", ZoneInfo(ZONE), sim.url, store, browsers)

            async def cached_sync() -> tuple[int, int]:
                today = sim.dataset.today
                async with IdexxNeoProvider(context) as provider:
                    await provider.authenticate(CREDENTIALS)
                    appointments = await provider.fetch_appointments(
                        today - timedelta(days=7), today
                    )
                    ids = [a.consultation_id for a in appointments if a.consultation_id][:10]
                    await asyncio.gather(*(provider.fetch_consultation(cid) for cid in ids))
                return len(appointments), len(ids)

            started = time.perf_counter()
            appointment_count, consultation_count = asyncio.run(cached_sync())
            cached_s = time.perf_counter() - started

        print(f"IDEXX Neo login through {executable} (simulator on 127.0.0.1)")
        print(f"  fresh browser (launch + login): {summary(fresh)}")
        print(f"  reused browser (login only):    {summary(reused)}")
        print(
            f"  Chromium PSS peak during one login: fresh {max(fresh_peaks) / MIB:.0f} MiB, "
            f"reused {max(reused_peaks) / MIB:.0f} MiB (target ≤ 300 MiB)"
        )
        print(
            f"  Chromium PSS idle: {idle / MIB:.0f} MiB after launch, "
            f"{after / MIB:.0f} MiB after {runs} logins"
        )
        print(
            f"  cached-session sync ({appointment_count} appointments, "
            f"{consultation_count} consultations) in {cached_s:.3f}s: "
            f"{browsers.leases} browser leases, "
            f"{pool.stats()['launched'] - launched} Chromium launches, "
            f"{sim.stats()['logins'] - logins} logins"
        )


if __name__ == "__main__":
    main()
