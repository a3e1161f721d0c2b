"""How long logins are without a browser after the Playwright driver is killed (kill -9).

Each round warms a browser, kills the pool's driver and times a lease taken right after it:
the lease waits while the pool notices, starts a new driver and launches Chromium (or runs its
job again when it caught the driver mid-death). Prints kill → job done per round and the
median.

    .venv/bin/python -m benchmarks.browser_driver_recovery [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import time
from typing import Any

from providers.browsers import BrowserPool


async def _title(browser: Any) -> str:
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.set_content("<title>ok</title>")
        return str(await page.title())
    finally:
        await context.close()


def _lease_once(pool: BrowserPool) -> str:
    async def go() -> str:
        async with pool.lease(60) as lease:
            return await lease.run(_title)

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    pool = BrowserPool(size=1)
    pool.start()
    caller_s: list[float] = []
    try:
        for round_number in range(1, args.rounds + 1):
            pool.warm_up()
            driver = pool.stats()["driver_pid"]
            if driver is None:
                raise SystemExit("the driver's pid is unknown here (no /proc?)")
            killed_at = time.monotonic()
            os.kill(driver, signal.SIGKILL)
            assert _lease_once(pool) == "ok"
            caller_s.append(time.monotonic() - killed_at)
            stats = pool.stats()
            print(
                f"round {round_number}: a lease right after the kill finished in "
                f"{caller_s[-1]:.2f} s (driver restarts so far: {stats['driver_restarts']})"
            )
    finally:
        pool.stop()
    print(
        f"median kill → login-ready: {statistics.median(caller_s):.2f} s "
        f"(min {min(caller_s):.2f}, max {max(caller_s):.2f}, {len(caller_s)} rounds)"
    )


if __name__ == "__main__":
    main()
