"""The browser pool's own thread, running its own event loop.

Playwright objects belong to the event loop that created them, so every browser lives and dies
on this one loop, whatever thread or loop its callers run on. This module is the bridge: run a
coroutine on the loop and get its result back on the calling thread (:meth:`PoolThread.submit`,
:meth:`PoolThread.call`, :meth:`PoolThread.call_soon`), and keep track of what runs there so
that stopping can cancel all of it (:meth:`PoolThread.cancel_all`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from contextlib import suppress
from typing import Any, TypeVar

from providers.base import BrowserUnavailable

T = TypeVar("T")

ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


class PoolThread:
    """Opened once, stopped once; ``open``/``stop``/``forget`` are serialised by the owner."""

    def __init__(self, name: str, exception_handler: ExceptionHandler) -> None:
        self._name = name
        self._exception_handler = exception_handler
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # the pool's own background work
        self._requests: set[asyncio.Task[Any]] = set()  # callers' requests being served

    @property
    def is_open(self) -> bool:
        return self._loop is not None

    def open(self) -> None:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=self._main, args=(loop,), name=self._name, daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread

    def stop(self, timeout_s: float, close: Callable[[], None]) -> None:
        """Let ``close`` (called on this thread while the loop still runs) end the work on the
        loop, then stop the loop and wait up to ``timeout_s`` for the thread to end."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            close()
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout_s)

    def forget(self) -> None:
        self._loop = self._thread = None

    def _main(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(self._exception_handler)
        try:
            loop.run_forever()
        finally:
            with suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    # -- from any other thread -------------------------------------------------------------

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        loop = self._loop
        if loop is None or loop.is_closed():
            coroutine.close()
            raise BrowserUnavailable("the browser pool is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, loop)

    def call(self, coroutine: Coroutine[Any, Any, T], timeout_s: float) -> T:
        """Run a coroutine on the pool's loop and block this (other) thread for its result."""
        future = self.submit(coroutine)
        try:
            return future.result(timeout_s)
        except TimeoutError:
            future.cancel()
            raise BrowserUnavailable(f"browser pool gave no answer in {timeout_s:g} s") from None

    def call_soon(self, callback: Callable[[], None]) -> Future[None] | None:
        """Run ``callback`` on the loop; the future completes once it ran. None when the loop is
        gone, so the callback never will."""
        loop = self._loop
        if loop is None:
            return None
        done: Future[None] = Future()

        def run() -> None:
            try:
                callback()
            finally:
                done.set_result(None)

        try:
            loop.call_soon_threadsafe(run)
        except RuntimeError:  # the loop already closed
            return None
        return done

    # -- on the pool's loop ----------------------------------------------------------------

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run background work that :meth:`cancel_all` cancels."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def serve(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await a caller's request, as one that :meth:`cancel_all` cancels."""
        task = asyncio.current_task()
        assert task is not None
        self._requests.add(task)
        try:
            return await coroutine
        finally:
            self._requests.discard(task)

    async def cancel_all(self) -> None:
        """Cancel every request and background task, and wait until they ended."""
        pending = [*self._requests, *self._tasks]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
