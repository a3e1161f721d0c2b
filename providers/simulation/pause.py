"""Simulated latency that never holds up a server that is shutting down."""

from __future__ import annotations

import asyncio
import threading

POLL_S = 0.05  # how often a held request looks at the stop flag (and knobs) again


async def pause(stopping: threading.Event, seconds: float) -> None:
    """Sleep without blocking the loop, in short steps so that a stopping server need not wait."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not stopping.is_set():
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        await asyncio.sleep(min(remaining, POLL_S))
