"""Assembling the aiohttp application from the daemon's parts."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from daemon import __version__
from daemon.config import Settings
from daemon.http.dispatch import Dispatcher
from daemon.http.middleware import add_request_id, api_middleware
from daemon.http.outage import probe_forever
from daemon.http.ratelimit import RateLimiter
from daemon.http.routes import add_routes
from daemon.http.state import MAX_BODY_BYTES, STATE, HttpState, HttpTuning
from daemon.store import Store
from daemon.sync.watch import LocalSyncWatch, SyncWatch


def build_app(
    store: Store,
    dispatcher: Dispatcher,
    settings: Settings,
    *,
    tuning: HttpTuning | None = None,
    version: str = __version__,
    watch: SyncWatch | None = None,
) -> web.Application:
    """The API of contract §3 over ``store`` (keys, sync rows) and ``dispatcher`` (all work).

    Uses ``settings.sync_wait_max_s`` and ``settings.api_rate_limit_per_min``. The application
    owns a thread pool for blocking calls, shut down with the application. ``watch`` wakes
    waiting triggers and streams when a sync changes (default: this process's own writes).
    """
    tuning = tuning or HttpTuning()
    watch = watch or LocalSyncWatch()
    app = web.Application(middlewares=[api_middleware], client_max_size=MAX_BODY_BYTES)
    state = HttpState(
        store=store,
        dispatcher=dispatcher,
        settings=settings,
        tuning=tuning,
        executor=ThreadPoolExecutor(tuning.executor_workers, thread_name_prefix="http-io"),
        limiter=RateLimiter(settings.api_rate_limit_per_min),
        version=version,
        watch=watch,
    )
    app[STATE] = state
    add_routes(app)
    unsubscribe = store.syncs.on_change(watch.notify)
    app.on_response_prepare.append(add_request_id)
    app.on_startup.append(_start_probe)
    app.on_shutdown.append(_signal_stopping)
    app.on_cleanup.append(_release_executor)

    async def _unsubscribe(_app: web.Application) -> None:
        unsubscribe()

    app.on_cleanup.append(_unsubscribe)
    return app


async def _start_probe(app: web.Application) -> None:
    state = app[STATE]
    loop = asyncio.get_running_loop()

    async def ping() -> None:
        await loop.run_in_executor(state.executor, state.store.db.ping)

    state.probe = asyncio.create_task(
        probe_forever(state.database, ping, state.tuning.db_probe_s, state.stopping),
        name="database-probe",
    )


async def _signal_stopping(app: web.Application) -> None:
    # Streams and waiting triggers return at once instead of holding the shutdown.
    app[STATE].stopping.set()


async def _release_executor(app: web.Application) -> None:
    probe = app[STATE].probe
    if probe is not None:
        probe.cancel()
    app[STATE].executor.shutdown(wait=False, cancel_futures=True)
