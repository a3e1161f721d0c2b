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
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar

from playwright.async_api import Browser, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from providers.base import BrowserUnavailable
from providers.browsers import chromium, procfs

log = logging.getLogger("pims_sync.browser")

T = TypeVar("T")

_CLOSE_TIMEOUT_S = 10.0


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

    def __init__(self, pool: BrowserPool, slot: _Slot) -> None:
        self._pool = pool
        self._slot = slot
        self.returned = False

    async def run(self, job: Callable[[Any], Awaitable[T]]) -> T:
        if self.returned:
            raise RuntimeError("this browser lease was already returned")
        future = self._pool._submit(self._pool._as_request(self._pool._run_job(self._slot, job)))
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
        self._slots = [_Slot(index) for index in range(size)]
        self._state_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._playwright: Playwright | None = None
        self._free: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._requests: set[asyncio.Task[Any]] = set()
        self._group_ids: set[int] = set()
        self._executable: str | None = None
        self._stopping = False
        self._launched = 0
        self._retired = 0
        self._reaped = 0
        self._crashed = 0

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
            if not self._started.wait(timeout_s) or self._playwright is None:
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
        lease = _Lease(self, slot)
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
            }

    def pss_bytes(self) -> int:
        """Proportional set size of all our Chromium processes, helpers included."""
        with self._state_lock:
            leaders = [slot.pid for slot in self._slots if slot.browser is not None and slot.pid]
        return sum(procfs.pss_bytes(pid) for leader in leaders for pid in procfs.group_pids(leader))

    # -- plumbing between threads ----------------------------------------------------------

    def _thread_main(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
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
        self._playwright = await async_playwright().start()
        self._executable = chromium.find_chromium(
            self._chromium_path, self._playwright.chromium.executable_path
        )
        if self._idle_timeout_s is not None:
            self._spawn(self._reap_idle(self._idle_timeout_s))

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

    async def _acquire(
        self, timeout_s: float, claim: _Claim | None, *, count_use: bool = True
    ) -> _Slot:
        assert self._free is not None
        if self._stopping:
            raise BrowserUnavailable("the browser pool is stopping")
        try:
            async with asyncio.timeout(timeout_s):
                await self._free.acquire()
        except TimeoutError:
            raise BrowserUnavailable(
                f"no browser free within {timeout_s:g} s (all {self.size} in use)"
            ) from None
        # The semaphore counts free slots, so one exists; prefer one with a running browser.
        slot = min(
            (s for s in self._slots if not s.busy), key=lambda s: (s.browser is None, s.index)
        )
        with self._state_lock:
            slot.busy = True
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
        if self._playwright is None or self._executable is None or self._stopping:
            raise BrowserUnavailable("the browser pool is not running")
        marker = chromium.new_marker()
        try:
            browser = await self._playwright.chromium.launch(
                **chromium.launch_options(self._executable, marker, self._launch_timeout_s)
            )
        except PlaywrightError as error:
            first_line = (error.message or "").strip().splitlines()[:1]
            raise BrowserUnavailable(
                f"Chromium failed to start: {first_line[0][:200] if first_line else 'no reason'}"
            ) from None
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

    async def _run_job(self, slot: _Slot, job: Callable[[Any], Awaitable[T]]) -> T:
        if not slot.busy:
            raise RuntimeError("this browser lease was already returned")
        await self._ensure_browser(slot)  # it may have died since the lease was granted
        browser = slot.browser
        try:
            return await job(browser)
        except PlaywrightError:
            # Playwright's errors stay on this thread; the holder gets ours.
            if browser is None or not browser.is_connected():
                raise BrowserUnavailable("the browser died during the job") from None
            raise BrowserUnavailable("the browser job failed in Playwright") from None

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
        if self._playwright is not None:
            try:
                await asyncio.wait_for(self._playwright.stop(), _CLOSE_TIMEOUT_S)
            except Exception as error:
                log.warning("Playwright did not stop", extra={"error": type(error).__name__})
            self._playwright = None

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
