"""A bounded set of Chromium processes, lent out briefly for logins.

Playwright objects belong to the event loop that created them, so the pool runs its own loop on
its own thread and every browser lives and dies there. Callers on any thread or loop take a
lease (an async context manager) and hand it a job, ``job(browser)``; the job runs on the pool's
loop and only its plain-data result comes back. Two leases are two browsers, so two logins run
at the same time.

Browsers are launched on first need, reused across leases, retired after ``max_uses`` leases
(long-lived Chromium grows), closed after ``idle_timeout_s`` without a lease, replaced when they
crash, and all closed — and their process groups killed if anything is left — by
:meth:`BrowserPool.stop`.

A watcher on the pool's loop (``_doctor``) notices a dead Playwright driver (which takes every
browser with it) and a Chromium that no longer starts, repairs them with backoff, and until then
says so: ``stats()["problem"]``, the observer, and leases that wait (up to their timeout) for the
pool to be back instead of failing at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError

from providers.backoff import Backoff
from providers.base import BrowserUnavailable
from providers.browsers import chromium, procfs
from providers.browsers.driver import Driver, start_driver

log = logging.getLogger("pims_sync.browser")

T = TypeVar("T")

_CLOSE_TIMEOUT_S = 10.0
# Playwright leaves this error on a future nobody reads when its driver dies; we report the
# death ourselves, so asyncio need not print it as "never retrieved".
_DRIVER_GONE = "Connection closed while reading from the driver"


class PoolObserver(Protocol):
    """Told about the pool's health (metrics live outside ``providers/``); called on the
    pool's own thread, so it must be quick and thread-safe."""

    def on_health(self, ok: bool, problem: str | None) -> None: ...

    def on_driver_restart(self) -> None: ...


@dataclass
class _Slot:
    """One place for a browser. Mutated only on the pool's loop (stats read it under a lock)."""

    index: int
    browser: Browser | None = None
    pid: int | None = None
    uses: int = 0
    busy: bool = False
    idle_since: float = 0.0  # loop time of the last release


class _Claim:
    """One caller's request for a browser, shared by both threads.

    If the caller gives up (cancelled) at the very moment the pool grants the browser, exactly
    one side sees the other's move under the lock and returns the browser.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abandoned = False
        self._slot: _Slot | None = None

    def grant(self, slot: _Slot) -> bool:
        """Pool side: False when the caller is already gone."""
        with self._lock:
            if self._abandoned:
                return False
            self._slot = slot
            return True

    def abandon(self) -> _Slot | None:
        """Caller side: the slot granted in the meantime, if any, to be returned."""
        with self._lock:
            self._abandoned = True
            return self._slot


class _Lease:
    """The holder's handle on one browser; valid until the ``lease()`` block exits."""

    def __init__(self, pool: BrowserPool, slot: _Slot, timeout_s: float) -> None:
        self._pool = pool
        self._slot = slot
        self._timeout_s = timeout_s  # also bounds a wait for a new driver inside run()
        self.returned = False

    async def run(self, job: Callable[[Any], Awaitable[T]]) -> T:
        if self.returned:
            raise RuntimeError("this browser lease was already returned")
        pool = self._pool
        future = pool._submit(pool._as_request(pool._run_job(self._slot, job, self._timeout_s)))
        return await asyncio.wrap_future(future)


class BrowserPool:
    """Thread-safe owner of up to ``size`` Chromium processes (implements ``BrowserSource``)."""

    def __init__(
        self,
        size: int = 2,
        chromium_path: str | None = None,
        max_uses: int = 50,
        *,
        launch_timeout_s: float = 30.0,
        idle_timeout_s: float | None = 300.0,
        watch_interval_s: float = 1.0,
        backoff: Backoff | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("a browser pool needs at least one browser")
        if max_uses < 1:
            raise ValueError("max_uses must be at least 1")
        self.size = size
        self.max_uses = max_uses
        self._chromium_path = chromium_path
        self._launch_timeout_s = launch_timeout_s
        self._idle_timeout_s = idle_timeout_s
        self._watch_interval_s = watch_interval_s
        self._backoff = backoff or Backoff(first_s=0.5, max_s=30.0)
        self._slots = [_Slot(index) for index in range(size)]
        self._state_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._driver: Driver | None = None
        self._free: asyncio.Semaphore | None = None
        self._healthy: asyncio.Event | None = None  # set while the pool can serve leases
        self._wake: asyncio.Event | None = None  # asks the doctor to look now
        self._problem: str | None = None  # why the pool cannot serve; None when it can
        self._cause: str | None = None  # the problem that began the current outage
        self._down_since = 0.0  # loop time the current outage began
        self._observer: PoolObserver | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._requests: set[asyncio.Task[Any]] = set()
        self._group_ids: set[int] = set()
        self._executable: str | None = None
        self._stopping = False
        self._launched = 0
        self._retired = 0
        self._reaped = 0
        self._crashed = 0
        self._driver_restarts = 0
        self._outages = 0

    # -- lifecycle (any thread) ------------------------------------------------------------

    @property
    def executable(self) -> str | None:
        """The Chromium binary in use, once :meth:`start` resolved it."""
        return self._executable

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the pool's thread, its loop and Playwright. Launches no browser. Idempotent."""
        with self._start_lock:
            if self._stopping:
                raise BrowserUnavailable("the browser pool was stopped")
            starting = self._loop is None
            if starting:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=self._thread_main, args=(loop,), name="browser-pool", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
        if not starting:
            # Another thread is starting the pool (or did): wait for it to finish.
            if not self._started.wait(timeout_s) or self._executable is None:
                raise BrowserUnavailable("the browser pool did not start")
            return
        try:
            self._call(self._start_playwright(), timeout_s)
        except BaseException:
            self.stop()
            raise
        finally:
            self._started.set()

    def warm_up(self, timeout_s: float = 60.0) -> None:
        """Make sure one browser runs (launching it if none does): proves Chromium works."""
        self.start()
        self._call(self._warm_up(timeout_s), timeout_s + self._launch_timeout_s)

    def warm_up_soon(self, timeout_s: float = 60.0) -> None:
        """:meth:`warm_up` without waiting: the outcome shows in :meth:`stats` (``launched``,
        ``problem``), and a failed launch is retried with backoff."""
        self.start()
        self._submit(self._warm_up_quietly(timeout_s))

    def set_observer(self, observer: PoolObserver | None) -> None:
        self._observer = observer

    def stop(self, timeout_s: float = 30.0) -> None:
        """Close every browser and Playwright, end the thread; kill whatever survived."""
        with self._start_lock:
            self._stopping = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            try:
                self._submit(self._shutdown()).result(timeout_s)
            except Exception as error:
                log.warning(
                    "browser pool did not close cleanly", extra={"error": type(error).__name__}
                )
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout_s)
        # Last resort for a browser whose close failed or timed out: no Chromium outlives us.
        for group_id in sorted(self._group_ids):
            if procfs.kill_group(group_id):
                log.warning("killed leftover Chromium processes", extra={"pgid": group_id})
        with self._start_lock:
            self._loop = self._thread = None

    def __enter__(self) -> BrowserPool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- leasing (any thread, any loop) ----------------------------------------------------

    def lease(self, timeout_s: float = 60.0) -> AbstractAsyncContextManager[_Lease]:
        """Reserve one browser; raises :class:`BrowserUnavailable` after ``timeout_s``."""
        return self._lease(timeout_s)

    @asynccontextmanager
    async def _lease(self, timeout_s: float) -> AsyncIterator[_Lease]:
        # Cheap once started. The first lease of a pool nobody started blocks its caller's loop
        # while Playwright starts (about a second): the daemon calls start() at boot instead.
        self.start()
        claim = _Claim()
        future = self._submit(self._as_request(self._acquire(timeout_s, claim)))
        try:
            slot = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            granted = claim.abandon()
            if granted is not None:
                self._release_soon(granted)
            raise
        lease = _Lease(self, slot, timeout_s)
        try:
            yield lease
        finally:
            lease.returned = True
            released = self._release_soon(slot)
            if released is not None and not self._stopping:
                # Wait until the pool has taken it back, so that stats() and the next lease
                # see it free; shielded so a cancellation cannot skip the release itself, and
                # bounded because a pool stopping meanwhile never runs the callback.
                with suppress(TimeoutError):
                    await asyncio.wait_for(
                        asyncio.shield(asyncio.wrap_future(released)), _CLOSE_TIMEOUT_S
                    )

    # -- observation (any thread) ----------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        with self._state_lock:
            pids = [slot.pid for slot in self._slots if slot.browser is not None and slot.pid]
            return {
                "size": self.size,
                "in_use": sum(1 for slot in self._slots if slot.busy),
                "launched": self._launched,
                "alive": sum(1 for slot in self._slots if slot.browser is not None),
                "pids": pids,
                "retired": self._retired,
                "reaped": self._reaped,
                "crashed": self._crashed,
                "max_uses": self.max_uses,
                "healthy": self._problem is None,
                "problem": self._problem,
                "driver_pid": None if self._driver is None else self._driver.pid,
                "driver_restarts": self._driver_restarts,
                "outages": self._outages,
            }

    def pss_bytes(self) -> int:
        """Proportional set size of all our Chromium processes, helpers included."""
        with self._state_lock:
            leaders = [slot.pid for slot in self._slots if slot.browser is not None and slot.pid]
        return sum(procfs.pss_bytes(pid) for leader in leaders for pid in procfs.group_pids(leader))

    # -- plumbing between threads ----------------------------------------------------------

    def _thread_main(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(_quiet_about_the_driver)
        try:
            loop.run_forever()
        finally:
            with suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        loop = self._loop
        if loop is None or loop.is_closed():
            coroutine.close()
            raise BrowserUnavailable("the browser pool is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, loop)

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout_s: float) -> T:
        """Run a coroutine on the pool's loop and block this (other) thread for its result."""
        future = self._submit(coroutine)
        try:
            return future.result(timeout_s)
        except TimeoutError:
            future.cancel()
            raise BrowserUnavailable(f"browser pool gave no answer in {timeout_s:g} s") from None

    def _release_soon(self, slot: _Slot) -> Future[None] | None:
        """Hand a slot back from any thread; the future completes once the pool took it."""
        loop = self._loop
        if loop is None:
            return None
        done: Future[None] = Future()

        def release() -> None:
            try:
                self._release(slot)
            finally:
                done.set_result(None)

        try:
            loop.call_soon_threadsafe(release)
        except RuntimeError:  # the loop already closed: nothing left to release
            return None
        return done

    # -- on the pool's loop ----------------------------------------------------------------

    async def _start_playwright(self) -> None:
        self._free = asyncio.Semaphore(self.size)
        self._healthy, self._wake = asyncio.Event(), asyncio.Event()
        self._healthy.set()
        self._driver = await start_driver(self._launch_timeout_s)
        self._executable = chromium.find_chromium(
            self._chromium_path, self._driver.playwright.chromium.executable_path
        )
        if self._idle_timeout_s is not None:
            self._spawn(self._reap_idle(self._idle_timeout_s))
        self._spawn(self._doctor())

    # -- health: noticing and repairing a dead driver or a Chromium that will not start ------

    def _driver_alive(self) -> bool:
        return self._driver is not None and self._driver.alive()

    def _notice(self) -> None:
        """Cheap check on any path that is about to use the driver: a dead one is reported and
        repaired now rather than at the doctor's next round."""
        if self._problem is None and not self._driver_alive() and not self._stopping:
            self._set_problem("the Playwright driver died; starting a new one")
            self._wake_doctor()

    def _wake_doctor(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _doctor(self) -> None:
        """Watch the driver every ``watch_interval_s``; while something is broken, repair it
        with backoff, and keep ``problem`` saying what broke and how the repair goes."""
        assert self._wake is not None
        failures = 0
        while True:
            if failures == 0:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._watch_interval_s)
            else:
                await asyncio.sleep(self._backoff.delay(failures))
            self._wake.clear()
            if self._stopping:
                return
            if self._problem is None and self._driver_alive():
                continue
            self._notice()
            try:
                await self._repair()
            except Exception as error:
                failures += 1
                detail = str(error)[:200] or type(error).__name__
                self._set_problem(
                    f"{self._cause} ({failures} attempt(s) failed so far, last: {detail})"
                )
                log.warning(
                    "browser pool repair failed; retrying with backoff",
                    extra={"attempt": failures, "error": detail},
                )
                continue
            failures = 0
            self._set_healthy()

    async def _repair(self) -> None:
        if not self._driver_alive():
            self._forget_browsers()
            old, self._driver = self._driver, None
            if old is not None:
                await old.stop(_CLOSE_TIMEOUT_S)
            self._driver = await start_driver(self._launch_timeout_s)
            with self._state_lock:
                self._driver_restarts += 1
            if self._observer is not None:
                self._observer.on_driver_restart()
        await self._prove_chromium()

    async def _prove_chromium(self) -> None:
        """Launch one browser unless one runs: the pool is healthy only once Chromium starts."""
        assert self._free is not None
        if any(s.browser is not None and s.browser.is_connected() for s in self._slots):
            return
        if self._free.locked():
            return  # every slot is leased: the holders' own launches will tell
        slot = await self._take_slot()
        try:
            await self._ensure_browser(slot)
        finally:
            self._release(slot)

    def _forget_browsers(self) -> None:
        """The driver is gone and its browsers with it: drop them, kill whatever lingers."""
        for slot in self._slots:
            with self._state_lock:
                pid, had = slot.pid, slot.browser is not None
                slot.browser, slot.pid = None, None
                if had:
                    self._crashed += 1
            if pid is not None:
                procfs.kill_group(pid)

    def _set_problem(self, problem: str) -> None:
        assert self._healthy is not None
        with self._state_lock:
            previous, self._problem = self._problem, problem
            if previous is None:
                self._outages += 1
                self._cause = problem
                self._down_since = asyncio.get_running_loop().time()
        self._healthy.clear()
        if previous is None:
            log.warning("browser pool cannot serve logins: %s", problem)
        if problem != previous and self._observer is not None:
            self._observer.on_health(False, problem)

    def _set_healthy(self) -> None:
        assert self._healthy is not None
        with self._state_lock:
            previous, self._problem = self._problem, None
        self._healthy.set()
        if previous is not None:
            down_s = asyncio.get_running_loop().time() - self._down_since
            log.info(
                "browser pool serving logins again after %.1f s",
                down_s,
                extra={"cause": self._cause, "down_s": round(down_s, 1)},
            )
            if self._observer is not None:
                self._observer.on_health(True, None)

    async def _reap_idle(self, idle_timeout_s: float) -> None:
        """Close browsers nobody leased for a while: with sessions cached, most syncs need no
        browser, and an idle Chromium still holds a few hundred MiB."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(30.0, max(0.05, idle_timeout_s / 4)))
            for slot in self._slots:
                idle = loop.time() - slot.idle_since
                if slot.busy or slot.browser is None or idle < idle_timeout_s:
                    continue
                assert self._free is not None
                if self._free.locked():
                    break  # someone is waiting for a browser: let them have this one
                await self._free.acquire()  # free, so this returns at once
                with self._state_lock:
                    slot.busy = True
                    self._reaped += 1
                try:
                    log.info("closing an idle browser", extra={"idle_s": round(idle)})
                    await self._close_browser(slot)
                finally:
                    self._release(slot)

    async def _warm_up(self, timeout_s: float) -> None:
        slot = await self._acquire(timeout_s, None, count_use=False)
        self._release(slot)

    async def _warm_up_quietly(self, timeout_s: float) -> None:
        try:
            await self._warm_up(timeout_s)
        except BrowserUnavailable as error:
            log.error("Chromium could not be started: %s", error)

    async def _take_slot(self) -> _Slot:
        """Wait for a free slot and mark it busy; prefer one with a running browser."""
        assert self._free is not None
        await self._free.acquire()
        # The semaphore counts free slots, so one exists.
        slot = min(
            (s for s in self._slots if not s.busy), key=lambda s: (s.browser is None, s.index)
        )
        with self._state_lock:
            slot.busy = True
        return slot

    async def _acquire(
        self, timeout_s: float, claim: _Claim | None, *, count_use: bool = True
    ) -> _Slot:
        assert self._healthy is not None
        if self._stopping:
            raise BrowserUnavailable("the browser pool is stopping")
        self._notice()
        try:
            async with asyncio.timeout(timeout_s):
                # A pool under repair is usually back within seconds: wait for it.
                await self._healthy.wait()
                slot = await self._take_slot()
        except TimeoutError:
            if self._problem is not None:
                raise BrowserUnavailable(self._problem) from None
            raise BrowserUnavailable(
                f"no browser free within {timeout_s:g} s (all {self.size} in use)"
            ) from None
        try:
            await self._ensure_browser(slot)
        except BaseException:
            self._release(slot)
            raise
        if count_use:
            slot.uses += 1
        if claim is not None and not claim.grant(slot):
            self._release(slot)  # the caller gave up while we launched: nobody will use it
        return slot

    def _release(self, slot: _Slot) -> None:
        if not slot.busy:
            return
        if slot.browser is not None and slot.uses >= self.max_uses and not self._stopping:
            # Stays busy until closed, so the pool never runs more than `size` processes.
            self._spawn(self._retire(slot))
            return
        with self._state_lock:
            slot.busy = False
            slot.idle_since = asyncio.get_running_loop().time()
        assert self._free is not None
        self._free.release()

    async def _retire(self, slot: _Slot) -> None:
        log.info("recycling a browser after its last lease", extra={"uses": slot.uses})
        await self._close_browser(slot)
        with self._state_lock:
            self._retired += 1
        self._release(slot)

    async def _ensure_browser(self, slot: _Slot) -> None:
        if slot.browser is not None and slot.browser.is_connected():
            return
        if slot.browser is not None:
            await self._close_browser(slot)
        driver = self._driver
        if driver is None or self._executable is None or self._stopping:
            raise BrowserUnavailable("the browser pool is not running")
        marker = chromium.new_marker()
        try:
            browser = await driver.playwright.chromium.launch(
                **chromium.launch_options(self._executable, marker, self._launch_timeout_s)
            )
        except PlaywrightError as error:
            self._notice()
            if not self._driver_alive():
                raise BrowserUnavailable("the Playwright driver died; starting a new one") from None
            first_line = (error.message or "").strip().splitlines()[:1]
            problem = (
                f"Chromium failed to start: {first_line[0][:200] if first_line else 'no reason'}"
            )
            self._set_problem(problem)
            self._wake_doctor()
            raise BrowserUnavailable(problem) from None
        pid = procfs.find_pid_by_argument(marker)
        browser.on("disconnected", lambda _: self._on_disconnected(slot, browser))
        with self._state_lock:
            slot.browser, slot.pid, slot.uses = browser, pid, 0
            self._launched += 1
            if pid is not None:
                self._group_ids.add(pid)
        log.info("launched a browser", extra={"pid": pid, "slot": slot.index})

    def _on_disconnected(self, slot: _Slot, browser: Browser) -> None:
        if slot.browser is not browser:
            return  # our own close: _close_browser already detached it
        log.warning("a browser died; it will be replaced", extra={"pid": slot.pid})
        pid = slot.pid
        with self._state_lock:
            slot.browser, slot.pid = None, None
            self._crashed += 1
        if pid is not None:
            procfs.kill_group(pid)  # helpers of a killed browser may linger

    async def _close_browser(self, slot: _Slot) -> None:
        browser, pid = slot.browser, slot.pid
        with self._state_lock:
            slot.browser, slot.pid = None, None
        if browser is not None:
            try:
                await asyncio.wait_for(browser.close(), _CLOSE_TIMEOUT_S)
            except (TimeoutError, PlaywrightError) as error:
                log.warning("a browser did not close", extra={"error": type(error).__name__})
        if pid is not None:
            procfs.kill_group(pid)

    async def _run_job(
        self, slot: _Slot, job: Callable[[Any], Awaitable[T]], timeout_s: float
    ) -> T:
        if not slot.busy:
            raise RuntimeError("this browser lease was already returned")
        for attempt in (1, 2):
            await self._wait_for_driver(timeout_s)
            await self._ensure_browser(slot)  # it may have died since the lease was granted
            browser = slot.browser
            try:
                return await job(browser)
            except Exception as error:
                self._notice()
                if self._driver_alive():
                    if not isinstance(error, PlaywrightError):
                        raise
                    # Playwright's errors stay on this thread; the holder gets ours.
                    if browser is None or not browser.is_connected():
                        raise BrowserUnavailable("the browser died during the job") from None
                    raise BrowserUnavailable("the browser job failed in Playwright") from None
                # Whatever the job made of it, it failed because the driver died under it:
                # once more on the new driver (a login that never finished is safe to redo).
                if attempt == 2:
                    raise BrowserUnavailable("the Playwright driver died during the job") from None
                log.warning("the Playwright driver died during a browser job; running it again")
        raise AssertionError("unreachable")

    async def _wait_for_driver(self, timeout_s: float) -> None:
        """Return once the driver runs; a dead one is being replaced, so wait (bounded)."""
        assert self._healthy is not None
        try:
            async with asyncio.timeout(timeout_s):
                while not self._driver_alive():
                    if self._stopping:
                        raise BrowserUnavailable("the browser pool is stopping")
                    self._notice()  # clears `_healthy` until the doctor has a new driver
                    await self._healthy.wait()
        except TimeoutError:
            raise BrowserUnavailable(self._problem or "the Playwright driver died") from None

    async def _as_request(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """A caller's request on the pool's loop: stop() cancels it and the caller learns why."""
        task = asyncio.current_task()
        assert task is not None
        self._requests.add(task)
        try:
            return await coroutine
        except asyncio.CancelledError:
            if self._stopping:
                raise BrowserUnavailable("the browser pool stopped") from None
            raise
        finally:
            self._requests.discard(task)

    async def _shutdown(self) -> None:
        pending = [*self._requests, *self._tasks]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.gather(
            *(self._close_browser(slot) for slot in self._slots), return_exceptions=True
        )
        if self._driver is not None:
            await self._driver.stop(_CLOSE_TIMEOUT_S)
            self._driver = None

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _quiet_about_the_driver(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    if str(context.get("exception")) == _DRIVER_GONE:
        return  # the pool reports and repairs the driver's death itself
    loop.default_exception_handler(context)
