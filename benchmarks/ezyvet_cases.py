"""The ezyVet cases fetch over the simulator's ``scale`` data at 50 ms latency.

300 appointments over 14 days, 150 of them finalized with consults. On a cached token, the
provider reads the appointments of the 14 days and the 150 consultations (what a ``cases``
sync asks of it). Prints:

- the number of HTTP requests (target ≤ 40) and the wall time against the ideal
  ``ceil(requests / parallelBatchSize) × latency`` (target ratio ≤ 2), per parallelBatchSize;
- the 429s under the default limits (60 a minute per endpoint, 180 per site; target 0) and the
  most requests any endpoint got in one minute;
- the same through the real ``cases`` sync engine (SQLite, parallelBatchSize 5);
- at 5 requests a minute per endpoint: one fetch in a real minute, then three fetches back to
  back with the minute scaled down to 2 s (time and 429s, with a client that knows the limit
  and with one that only learns it from the 429s).

    .venv/bin/python -m benchmarks.ezyvet_cases [--latency-ms 50]

The simulator runs in its own process so that it does not share this process's GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from providers.base import Credentials, MemorySessionStore, ProviderContext
from providers.ezyvet.client import ClientSettings
from providers.ezyvet.pacing import PacingSettings
from providers.ezyvet.provider import EzyVetProvider, EzyVetSettings
from providers.simulation.process import simulator_process as run_simulator

ZONE = "Pacific/Auckland"
TODAY = date(2026, 3, 4)
CONSULTS = 150


@contextmanager
def simulator_process(latency_ms: int) -> Iterator[str]:
    """The ezyVet simulator's ``scale`` scenario in a process of its own; yields its URL."""
    options = ["--scenario", "scale", "--latency-ms", str(latency_ms), "--timezone", ZONE]
    with run_simulator("ezyvet", *options, "--today", TODAY.isoformat()) as url:
        yield url


def control(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{url}{path}", data=data, method="GET" if data is None else "POST"
    )
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


async def fetch(
    url: str, store: MemorySessionStore, creds: Credentials, parallel: int, pacing: PacingSettings
) -> tuple[int, int]:
    """One cases-shaped fetch; returns (appointments, consultations loaded)."""
    context = ProviderContext("bench", ZoneInfo(ZONE), url, store, max_concurrency=parallel)
    settings = EzyVetSettings(client=ClientSettings(pacing=pacing))
    async with EzyVetProvider(context, settings) as provider:
        await provider.authenticate(creds)
        appointments = await provider.fetch_appointments(TODAY - timedelta(days=13), TODAY)
        ids = [a.consultation_id for a in appointments if a.status.is_finalized]
        results = await provider.fetch_consultations([i for i in ids if i])
    loaded = sum(1 for r in results.values() if not isinstance(r, Exception))
    return len(appointments), loaded


def credentials() -> Credentials:
    # A site uid of its own per measurement: the process-wide pacer starts empty.
    return Credentials.of(
        partner_id="demo-partner",
        client_id="demo-client",
        client_secret="demo-secret",
        site_uid=f"bench-{uuid.uuid4().hex[:8]}",
    )


def measure(
    url: str,
    parallel: int,
    pacing: PacingSettings,
    rounds: int = 1,
    limits: dict[str, Any] | None = None,
) -> tuple[float, dict[str, Any]]:
    store, creds = MemorySessionStore(), credentials()
    asyncio.run(fetch(url, store, creds, parallel, PacingSettings()))  # the token, cached
    control(url, "/_sim/reset", {})  # zeroed counters and rate windows, default knobs
    if limits:
        control(url, "/_sim/faults", limits)
    began = time.perf_counter()
    for _ in range(rounds):
        appointments, loaded = asyncio.run(fetch(url, store, creds, parallel, pacing))
        assert (appointments, loaded) == (300, CONSULTS), (appointments, loaded)
    wall = time.perf_counter() - began
    stats = control(url, "/_sim/stats")
    assert stats["tokens_issued"] == 0
    return wall, stats


def sync_run(url: str, latency: float) -> None:
    """The same through the real ``cases`` sync (SQLite, parallelBatchSize 5), twice."""
    import tempfile
    from pathlib import Path

    from daemon.store import Database, SecretBox, Store
    from daemon.store.migrate import upgrade
    from daemon.sync.providers import ProviderFactory
    from daemon.sync.requests import SyncRequest
    from daemon.sync.runner import SyncRunner

    db = Database(f"sqlite:///{Path(tempfile.mkdtemp(prefix='ezyvet-bench-')) / 'bench.db'}")
    upgrade(db.engine)
    store = Store(db, SecretBox("benchmark-encryption-key-0123456789abcdef"))
    clinic = store.clinics.add(name="Bench", timezone=ZONE, provider="ezyvet", base_url=url)
    fields = {"partner_id": "demo-partner", "client_id": "demo-client"}
    fields.update(client_secret="demo-secret", site_uid=f"bench-{uuid.uuid4().hex[:8]}")
    store.credentials.set(clinic.id, provider="ezyvet", fields=fields)
    runner = SyncRunner(store, ProviderFactory(store, None))
    request = SyncRequest("cases", "cli", start_date=TODAY - timedelta(days=13), end_date=TODAY)
    warm = runner.submit_and_run(clinic.id, request)  # the token, cached; the cases written
    assert warm.stats["created"] == CONSULTS, warm.stats
    for label in ("second run, nothing changed", "third run, nothing changed"):
        control(url, "/_sim/reset", {})
        began = time.perf_counter()
        record = runner.submit_and_run(clinic.id, request)
        wall = time.perf_counter() - began
        stats = control(url, "/_sim/stats")
        ideal = math.ceil(stats["requests"] / 5) * latency
        print(
            f"  cases sync ({label}): {stats['requests']} requests, {wall:.2f} s "
            f"(ideal {ideal:.2f} s, ratio {wall / ideal:.2f}), {stats['rate_limited']} × 429, "
            f"{stats['tokens_issued']} tokens, {record.status} {record.stats}"
        )
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--skip-real-minute", action="store_true")
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    with simulator_process(args.latency_ms) as url:
        print(
            f"ezyVet scale data: 300 appointments, {CONSULTS} consults; "
            f"latency {args.latency_ms} ms"
        )
        print("default limits (60/min per endpoint, 180/min per site), cached token:")
        print(
            f"{'C':>3} {'requests':>8} {'wall s':>7} {'ideal s':>7} {'ratio':>5} {'429s':>4}  "
            "busiest endpoint/min"
        )
        for parallel in (1, 5, 10):
            wall, stats = measure(url, parallel, PacingSettings())
            requests = stats["requests"]
            ideal = math.ceil(requests / parallel) * latency
            peaks = dict(stats["peak_per_window"])
            site = peaks.pop("site")
            busiest = max(peaks.items(), key=lambda kv: kv[1])
            mark = "  (targets: ≤ 40 requests, ratio ≤ 2, 0 × 429)" if parallel == 5 else ""
            print(
                f"{parallel:>3} {requests:>8} {wall:7.2f} {ideal:7.2f} {wall / ideal:5.2f} "
                f"{stats['rate_limited']:>4}  {busiest[0]} {busiest[1]}, site {site}{mark}"
            )
            print(
                "     per endpoint: " + ", ".join(f"{k} {v}" for k, v in sorted(peaks.items()))
            ) if parallel == 5 else None

        print("through the sync engine (SQLite), default limits, C = 5:")
        sync_run(url, latency)
        print("5 requests a minute per endpoint (server), parallelBatchSize 5:")
        if not args.skip_real_minute:
            wall, stats = measure(url, 5, PacingSettings(), limits={"rate_limit_per_window": 5})
            print(
                f"  one fetch, real 60 s window, client budget 60/min: {wall:.2f} s, "
                f"{stats['rate_limited']} × 429, {stats['requests']} requests"
            )
        scaled = {"rate_limit_per_window": 5, "rate_window_s": 2.0}
        for label, pacing in (
            ("client budget 5/window", PacingSettings(per_endpoint=5, window_s=2.0)),
            ("client budget 60/window (learns from 429s)", PacingSettings(window_s=2.0)),
        ):
            wall, stats = measure(url, 5, pacing, rounds=3, limits=scaled)
            print(
                f"  three fetches back to back, window scaled to 2 s, {label}: {wall:.2f} s, "
                f"{stats['rate_limited']} × 429, {stats['requests']} requests"
            )


if __name__ == "__main__":
    main()
