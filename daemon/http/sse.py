"""``GET /api/sync/{type}/{syncId}/stream``: live progress as Server-Sent Events (§3.3).

While the sync is queued or running, an ``event: progress`` with the status object follows
every database read (one a second, so well within the promised two seconds); a
``: keep-alive`` comment goes out every 15 s for proxies; the stream ends with one event named
after the final status. Opened after the end, it sends that final event at once.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from daemon.http.auth import READ, authenticate
from daemon.http.state import pause, run_blocking, state_of
from daemon.http.status import find_sync
from daemon.observability.context import log_context
from daemon.observability.logging import get_logger
from daemon.store.syncs import SyncRecord

log = get_logger("http")

HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx and friends would otherwise hold the events back
}
KEEPALIVE = b": keep-alive\n\n"


def event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def event_for(record: SyncRecord) -> bytes:
    return event(record.status if record.is_final else "progress", record.status_json())


async def stream(request: web.Request) -> web.StreamResponse:
    owner = await authenticate(request, READ)
    with log_context(clinic_id=owner.clinic_id):
        record = await find_sync(request, owner)  # 404 before any byte of the stream
        response = web.StreamResponse(headers=HEADERS)
        await response.prepare(request)
        try:
            await _follow(request, response, record)
        except ConnectionResetError:
            log.debug("stream client went away")
            return response
        except Exception:
            # The status line is gone already: all that is left is to log and close.
            log.exception("stream of sync %s failed", record.id)
            return response
        await response.write_eof()
        return response


async def _follow(request: web.Request, response: web.StreamResponse, record: SyncRecord) -> None:
    state = state_of(request)
    await response.write(event_for(record))
    now = time.monotonic()
    next_read = now + state.tuning.stream_poll_s
    next_comment = now + state.tuning.keepalive_s
    while not record.is_final:
        if await pause(request, min(next_read, next_comment) - time.monotonic()):
            return  # the server stops; the client may reconnect to the next process
        now = time.monotonic()
        if now >= next_comment:
            await response.write(KEEPALIVE)
            next_comment = now + state.tuning.keepalive_s
        if now >= next_read:
            latest = await run_blocking(request, state.store.syncs.get, record.id)
            next_read = time.monotonic() + state.tuning.stream_poll_s
            if latest is None:
                return  # purged (90-day retention); nothing more to tell
            record = latest
            await response.write(event_for(record))
