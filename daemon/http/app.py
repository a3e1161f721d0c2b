"""Assembling the aiohttp application from the daemon's parts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from daemon import __version__
from daemon.config import Settings
from daemon.http.dispatch import Dispatcher
from daemon.http.middleware import add_request_id, api_middleware
from daemon.http.ratelimit import RateLimiter
from daemon.http.routes import add_routes
from daemon.http.state import MAX_BODY_BYTES, STATE, HttpState, HttpTuning
from daemon.store import Store


def build_app(
    store: Store,
    dispatcher: Dispatcher,
    settings: Settings,
    *,
    tuning: HttpTuning | None = None,
    version: str = __version__,
) -> web.Application:
    """The API of contract §3 over ``store`` (keys, sync rows) and ``dispatcher`` (all work).

    Uses ``settings.sync_wait_max_s`` and ``settings.api_rate_limit_per_min``. The application
    owns a thread pool for blocking calls, shut down with the application.
    """
    tuning = tuning or HttpTuning()
    app = web.Application(middlewares=[api_middleware], client_max_size=MAX_BODY_BYTES)
    state = HttpState(
        store=store,
        dispatcher=dispatcher,
        settings=settings,
        tuning=tuning,
        executor=ThreadPoolExecutor(tuning.executor_workers, thread_name_prefix="http-io"),
        limiter=RateLimiter(settings.api_rate_limit_per_min),
        version=version,
    )
    app[STATE] = state
    add_routes(app)
    app.on_response_prepare.append(add_request_id)
    app.on_shutdown.append(_signal_stopping)
    app.on_cleanup.append(_release_executor)
    return app


async def _signal_stopping(app: web.Application) -> None:
    # Streams and waiting triggers return at once instead of holding the shutdown.
    app[STATE].stopping.set()


async def _release_executor(app: web.Application) -> None:
    app[STATE].executor.shutdown(wait=False, cancel_futures=True)
