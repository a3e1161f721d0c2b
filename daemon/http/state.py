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
from daemon.http.deprecation import DeprecationLog
from daemon.http.dispatch import Dispatcher
from daemon.http.outage import DatabaseHealth
from daemon.http.ratelimit import RateLimiter
from daemon.observability.context import bind_context
from daemon.store import Store
from daemon.sync.watch import Subscription, SyncWatch

P = ParamSpec("P")
R = TypeVar("R")

MAX_BODY_BYTES: Final = 64 * 1024


@dataclass(frozen=True)
class HttpTuning:
    """Intervals of the contract, shortened by tests (never by operators)."""

    # A waiting trigger is woken when its sync changes (daemon.sync.watch); it also re-reads
    # the row this often, for changes made where no one announces them (another process).
    wait_poll_s: float = 1.0
    stream_poll_s: float = 1.0  # SSE progress: at most this often, at least this often
    keepalive_s: float = 15.0  # an SSE comment line this often keeps proxies from closing
    executor_workers: int = 8  # threads for database reads and dispatcher calls
    db_probe_s: float = 5.0  # the database is pinged this often (every second while down)
    header_timeout_s: float = 5.0  # a connection must send a whole request within this
    # ... and, once its headers are in, the whole body (at most 64 KiB) within this: a body
    # that trickles in would otherwise hold its connection (never evicted) without end.
    body_timeout_s: float = 10.0
    max_connections: int | None = None  # None: three quarters of the open-file limit


@dataclass
class HttpState:
    store: Store
    dispatcher: Dispatcher
    settings: Settings
    tuning: HttpTuning
    executor: ThreadPoolExecutor
    limiter: RateLimiter
    version: str
    watch: SyncWatch
    database: DatabaseHealth = field(default_factory=DatabaseHealth)
    deprecations: DeprecationLog = field(default_factory=DeprecationLog)
    started_monotonic: float = field(default_factory=time.monotonic)
    # Set when the server shuts down, so that streams and waiting triggers end at once
    # instead of holding the shutdown for their whole interval.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    probe: asyncio.Task[None] | None = None  # the database ping, while the server runs


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


async def wait_change(request: web.Request, subscription: Subscription, seconds: float) -> bool:
    """Wait until the subscribed sync may have changed, ``seconds`` pass, or the server
    stops; True when the server is stopping."""
    stopping = state_of(request).stopping
    if stopping.is_set():
        return True
    change = asyncio.ensure_future(subscription.changed(seconds))
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({change, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (change, stop):
            task.cancel()
    return stopping.is_set()
