"""Database outages as the API sees them (contract §7): 503 ``unavailable`` with
``Retry-After`` for every ``/api/`` request, before authentication (a key cannot be checked).

:class:`DatabaseHealth` is told of every database failure a request meets and of the result of
a ping the server sends every few seconds (every second while the database is down), so
requests that would not touch the database (a missing key) get the same answer, and the API
comes back by itself as soon as the database answers again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from daemon.observability.logging import get_logger
from daemon.store.database import DatabaseUnavailable

RETRY_AFTER_S: Final = 5
DOWN_PROBE_S: Final = 1.0
PING_TIMEOUT_S: Final = 10.0

log = get_logger("http")


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be reached (not that a query was wrong)."""
    if isinstance(
        error, DatabaseUnavailable | OperationalError | InterfaceError | DisconnectionError
    ):
        return True
    if isinstance(error, PoolTimeout):  # every connection busy or hung: the same to a caller
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


class DatabaseHealth:
    """Up or down, as last seen. Used from the server's event loop thread only."""

    def __init__(self) -> None:
        self.down_since: float | None = None

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: BaseException) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
            # The class name only: a driver's message may carry the URL.
            log.warning(
                "database unreachable: /api/ answers 503 until it is back",
                extra={"error": type(error).__name__},
            )

    def answered(self) -> None:
        if self.down_since is not None:
            log.info(
                "database reachable again",
                extra={"down_s": round(time.monotonic() - self.down_since, 1)},
            )
            self.down_since = None


async def probe_forever(
    health: DatabaseHealth,
    ping: Callable[[], Awaitable[None]],
    interval_s: float,
    stopping: asyncio.Event,
) -> None:
    """Ping the database every ``interval_s`` (every second while it is down) until
    ``stopping`` is set; ``ping`` runs the blocking ping off the loop."""
    while not stopping.is_set():
        wait = DOWN_PROBE_S if health.down else interval_s
        try:
            await asyncio.wait_for(stopping.wait(), timeout=wait)
            return
        except TimeoutError:
            pass
        try:
            await asyncio.wait_for(ping(), timeout=PING_TIMEOUT_S)
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            health.failed(error)
        else:
            health.answered()
