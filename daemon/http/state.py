"""What every handler of one application shares, and the way to run blocking work.

The handlers run on the server's event loop; the database and the dispatcher are blocking, so
they are always reached through :func:`run_blocking`, on an executor owned by the application.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final, ParamSpec, TypeVar

from aiohttp import web

from daemon.config import Settings
from daemon.http.dispatch import Dispatcher
from daemon.http.ratelimit import RateLimiter
from daemon.observability.context import bind_context
from daemon.store import Store

P = ParamSpec("P")
R = TypeVar("R")

MAX_BODY_BYTES: Final = 64 * 1024


@dataclass(frozen=True)
class HttpTuning:
    """Intervals of the contract, shortened by tests (never by operators)."""

    wait_poll_s: float = 0.2  # a waiting trigger re-reads its sync this often
    stream_poll_s: float = 1.0  # an SSE stream re-reads its sync (and sends progress) this often
    keepalive_s: float = 15.0  # an SSE comment line this often keeps proxies from closing
    executor_workers: int = 8  # threads for database reads and dispatcher calls


@dataclass
class HttpState:
    store: Store
    dispatcher: Dispatcher
    settings: Settings
    tuning: HttpTuning
    executor: ThreadPoolExecutor
    limiter: RateLimiter
    version: str
    started_monotonic: float = field(default_factory=time.monotonic)
    # Set when the server shuts down, so that streams and waiting triggers end at once
    # instead of holding the shutdown for their whole interval.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


STATE: Final = web.AppKey("pims_sync_http_state", HttpState)


def state_of(request: web.Request) -> HttpState:
    return request.app[STATE]


async def run_blocking(
    request: web.Request, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs
) -> R:
    """Run ``fn`` on the application's executor, carrying the log context along."""
    state = state_of(request)
    job = bind_context(functools.partial(fn, *args, **kwargs))
    return await asyncio.get_running_loop().run_in_executor(state.executor, job)


async def pause(request: web.Request, seconds: float) -> bool:
    """Wait ``seconds`` without blocking the loop; True when the server is stopping."""
    stopping = state_of(request).stopping
    if stopping.is_set():
        return True
    try:
        await asyncio.wait_for(stopping.wait(), timeout=max(seconds, 0.0))
    except TimeoutError:
        return False
    return True
