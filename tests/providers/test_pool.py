"""The browser pool with real Chromium: bounded, parallel, recycled, self-healing, tidy."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import playwright
import pytest

from providers.backoff import Backoff
from providers.base import BrowserUnavailable
from providers.browsers import BrowserPool, chromium, procfs
from tests.providers.conftest import run

pytestmark = pytest.mark.browser


def wait_until(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.02)


def our_chromium_processes() -> list[int]:
    """Live Chromium processes descended from this test process."""
    me = os.getpid()
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for pid in procfs.all_pids():
        stat = procfs.read_stat(pid)
        if stat is not None and stat.state != "Z":
            parents[pid], names[pid] = stat.ppid, stat.comm
    found = []
    for pid, name in names.items():
        if "chrom" not in name:
            continue
        ancestor = parents.get(pid)
        while ancestor not in (None, 0, 1, me):
            ancestor = parents.get(ancestor)
        if ancestor == me:
            found.append(pid)
    return found


async def page_title(browser: Any) -> str:
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.set_content("<title>leased</title>")
        return str(await page.title())
    finally:
        await context.close()


@pytest.fixture
def small_pool() -> Iterator[BrowserPool]:
    pool = BrowserPool(size=1, max_uses=2)
    pool.start()
    yield pool
    pool.stop()


def lease_and_run(pool: BrowserPool, job: Callable[[Any], Any], timeout_s: float = 30.0) -> Any:
    async def go() -> Any:
        async with pool.lease(timeout_s) as lease:
            return await lease.run(job)

    return run(go())


def test_no_orphan_after_stop() -> None:
    wait_until(lambda: our_chromium_processes() == [])  # earlier modules' pools are gone
    pool = BrowserPool(size=2)
    pool.start()
    pool.warm_up()
    stats = pool.stats()
    assert stats["alive"] == 1 and stats["launched"] == 1 and len(stats["pids"]) == 1
    assert pool.pss_bytes() > 10 * 2**20
    assert our_chromium_processes()
    pool.warm_up()
    assert pool.stats()["launched"] == 1  # warm_up proves Chromium once, it does not pile up
    pool.stop()
    wait_until(lambda: our_chromium_processes() == [])
    assert pool.pss_bytes() == 0
    with pytest.raises(BrowserUnavailable):
        lease_and_run(pool, page_title)


def test_lease_runs_the_job_on_the_pools_loop(small_pool: BrowserPool) -> None:
    assert lease_and_run(small_pool, page_title) == "leased"
    assert small_pool.stats()["in_use"] == 0


def test_lease_is_returned_when_the_job_raises(small_pool: BrowserPool) -> None:
    async def failing(browser: Any) -> None:
        raise ValueError("the job's own error")

    with pytest.raises(ValueError, match="own error"):
        lease_and_run(small_pool, failing)
    assert small_pool.stats()["in_use"] == 0
    assert lease_and_run(small_pool, page_title) == "leased"


def test_pool_is_bounded(small_pool: BrowserPool) -> None:
    async def scenario() -> None:
        async with small_pool.lease(10) as lease:
            assert await lease.run(page_title) == "leased"
            with pytest.raises(BrowserUnavailable, match="no browser free"):
                async with small_pool.lease(0.2):
                    pass
            assert small_pool.stats()["in_use"] == 1

    run(scenario())
    assert small_pool.stats()["alive"] == 1


def test_cancelled_wait_does_not_leak_a_browser(small_pool: BrowserPool) -> None:
    async def scenario() -> None:
        async with small_pool.lease(10):
            waiter = asyncio.create_task(_hold(small_pool))
            await asyncio.sleep(0)  # let the waiter queue up behind us
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
        async with small_pool.lease(5) as lease:
            assert await lease.run(page_title) == "leased"

    run(scenario())
    wait_until(lambda: small_pool.stats()["in_use"] == 0)


async def _hold(pool: BrowserPool) -> None:
    async with pool.lease(30):
        pass


def test_recycled_after_max_uses(small_pool: BrowserPool) -> None:
    pids = []
    for _ in range(5):
        lease_and_run(small_pool, page_title)
        pids.append(small_pool.stats()["pids"])
    stats = small_pool.stats()
    # max_uses=2: leases 1-2 on the first browser, 3-4 on the second, 5 on the third.
    assert stats["launched"] == 3
    assert stats["retired"] >= 2
    assert len({tuple(p) for p in pids if p}) >= 2


def test_killed_browser_is_replaced(small_pool: BrowserPool) -> None:
    small_pool.warm_up()
    (pid,) = small_pool.stats()["pids"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: small_pool.stats()["alive"] == 0)
    wait_until(lambda: procfs.group_pids(pid) == [])  # its helpers went with it
    assert lease_and_run(small_pool, page_title) == "leased"
    stats = small_pool.stats()
    assert stats["crashed"] == 1 and stats["launched"] == 2
    assert stats["pids"] and stats["pids"] != [pid]


def test_idle_browser_is_closed() -> None:
    pool = BrowserPool(size=1, idle_timeout_s=0.2)
    pool.start()
    try:
        assert lease_and_run(pool, page_title) == "leased"
        (pid,) = pool.stats()["pids"]
        wait_until(lambda: pool.stats()["alive"] == 0)
        wait_until(lambda: procfs.group_pids(pid) == [])
        assert pool.stats()["reaped"] == 1
        assert lease_and_run(pool, page_title) == "leased"  # launched again on demand
        assert pool.stats()["launched"] == 2
    finally:
        pool.stop()


def test_two_leases_run_at_the_same_time() -> None:
    pool = BrowserPool(size=2)
    pool.start()
    running = 0
    peak = 0

    async def rendezvous(browser: Any) -> str:
        # Runs on the pool's loop: succeeds only if the other job is running meanwhile.
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            deadline = time.monotonic() + 20
            while peak < 2:
                if time.monotonic() > deadline:
                    raise TimeoutError("the other login never ran alongside")
                await asyncio.sleep(0.01)
            return await page_title(browser)
        finally:
            running -= 1

    results: list[Any] = []

    def from_another_thread() -> None:  # each caller has its own thread and event loop
        results.append(lease_and_run(pool, rendezvous))

    try:
        threads = [threading.Thread(target=from_another_thread) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert results == ["leased", "leased"]
        assert pool.stats()["launched"] == 2
    finally:
        pool.stop()


def test_stop_during_a_job_fails_the_job_and_leaves_nothing_behind() -> None:
    pool = BrowserPool(size=1)
    pool.start()
    job_started = threading.Event()

    async def endless(browser: Any) -> None:
        context = await browser.new_context()
        await context.new_page()
        job_started.set()
        await asyncio.Event().wait()  # only stop() ends this

    outcome: list[BaseException] = []

    def holder() -> None:
        try:
            lease_and_run(pool, endless)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=holder)
    thread.start()
    assert job_started.wait(30)
    pool.stop()
    thread.join(30)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], BrowserUnavailable)
    wait_until(lambda: our_chromium_processes() == [])


def test_bad_chromium_path_is_reported() -> None:
    pool = BrowserPool(chromium_path="/nonexistent/chromium")
    with pytest.raises(BrowserUnavailable, match="CHROMIUM_PATH"):
        pool.start()
    pool.stop()


class HealthRecorder:
    """The pool's observer: every health change and driver restart, in order."""

    def __init__(self) -> None:
        self.changes: list[tuple[bool, str | None]] = []
        self.restarts = 0

    def on_health(self, ok: bool, problem: str | None) -> None:
        self.changes.append((ok, problem))

    def on_driver_restart(self) -> None:
        self.restarts += 1


@pytest.fixture
def switchable_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Playwright's Node.js behind a switch: while the returned file exists, a new driver
    cannot start (the real node is exec'd otherwise, so the driver's pid is the script's)."""
    real_node = Path(playwright.__file__).parent / "driver" / "node"
    broken = tmp_path / "driver-broken"
    wrapper = tmp_path / "node"
    wrapper.write_text(f'#!/bin/sh\n[ -e "{broken}" ] && exit 1\nexec "{real_node}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PLAYWRIGHT_NODEJS_PATH", str(wrapper))
    return broken


def driver_children() -> list[int]:
    me = os.getpid()
    return [
        pid
        for pid in procfs.all_pids()
        if (stat := procfs.read_stat(pid)) is not None
        and stat.ppid == me
        and stat.state != "Z"
        and "run-driver" in procfs.cmdline(pid)
    ]


def test_killed_driver_is_replaced_and_the_outage_is_reported(switchable_node: Path) -> None:
    recorder = HealthRecorder()
    pool = BrowserPool(size=1, watch_interval_s=0.1, backoff=Backoff(first_s=0.2, max_s=1.0))
    pool.set_observer(recorder)
    pool.start()
    try:
        assert lease_and_run(pool, page_title) == "leased"
        stats = pool.stats()
        driver, (browser,) = stats["driver_pid"], stats["pids"]
        assert driver in driver_children() and stats["healthy"]

        switchable_node.touch()  # the outage lasts until the test ends it
        os.kill(driver, signal.SIGKILL)
        wait_until(lambda: pool.stats()["problem"] is not None)
        wait_until(lambda: procfs.group_pids(browser) == [])  # the browser went with the driver
        wait_until(lambda: "attempt(s) failed" in (pool.stats()["problem"] or ""))
        stats = pool.stats()
        assert not stats["healthy"] and stats["alive"] == 0 and stats["outages"] == 1
        assert recorder.changes[0][0] is False and "driver died" in str(recorder.changes[0][1])
        with pytest.raises(BrowserUnavailable, match="driver"):
            lease_and_run(pool, page_title, timeout_s=0.5)  # says why, after its timeout

        switchable_node.unlink()
        assert lease_and_run(pool, page_title, timeout_s=30) == "leased"  # waits for the repair
        stats = pool.stats()
        assert stats["healthy"] and stats["problem"] is None
        assert stats["driver_restarts"] == 1 and recorder.restarts == 1
        assert stats["driver_pid"] != driver and stats["driver_pid"] in driver_children()
        assert stats["pids"] and stats["pids"] != [browser]
        assert recorder.changes[-1] == (True, None)
    finally:
        pool.stop()
    wait_until(lambda: our_chromium_processes() == [] and driver_children() == [])


def test_a_lease_right_after_the_driver_died_waits_for_the_new_one() -> None:
    pool = BrowserPool(size=1, watch_interval_s=60)  # only the lease itself can notice
    pool.start()
    try:
        pool.warm_up()
        driver = pool.stats()["driver_pid"]
        os.kill(driver, signal.SIGKILL)  # no wait: the lease may catch it mid-death
        assert lease_and_run(pool, page_title) == "leased"
        assert pool.stats()["driver_restarts"] == 1 and pool.stats()["healthy"]
    finally:
        pool.stop()
    wait_until(lambda: our_chromium_processes() == [] and driver_children() == [])


def test_chromium_that_stops_starting_is_reported_and_retried(tmp_path: Path) -> None:
    """A browser dies and its replacement cannot start (the binary broke): the pool says so,
    and launches again by itself once Chromium works."""
    real = chromium.find_chromium(None, None)
    broken = tmp_path / "chromium-broken"
    wrapper = tmp_path / "chromium"
    wrapper.write_text(f'#!/bin/sh\n[ -e "{broken}" ] && exit 1\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    pool = BrowserPool(
        size=1,
        chromium_path=str(wrapper),
        watch_interval_s=0.1,
        backoff=Backoff(first_s=0.2, max_s=1.0),
    )
    pool.start()
    try:
        pool.warm_up()
        (pid,) = pool.stats()["pids"]
        broken.touch()
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: pool.stats()["alive"] == 0)
        with pytest.raises(BrowserUnavailable, match="Chromium failed to start"):
            lease_and_run(pool, page_title, timeout_s=5)
        wait_until(lambda: "attempt(s) failed" in (pool.stats()["problem"] or ""))
        broken.unlink()
        wait_until(lambda: pool.stats()["healthy"] and pool.stats()["alive"] == 1)
        assert lease_and_run(pool, page_title) == "leased"
    finally:
        pool.stop()
    wait_until(lambda: our_chromium_processes() == [])
