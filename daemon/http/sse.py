"""``GET /api/sync/{type}/{syncId}/stream``: live progress as Server-Sent Events (§3.3).

While the sync is queued or running, an ``event: progress`` with the status object goes out
once a second (so a change of ``processed`` shows within a second, and the contract's "at least
every 2 s" holds); a ``: keep-alive`` comment goes out every 15 s for proxies; the stream ends
with one event named after the final status, sent as soon as the sync ends (the stream is woken
by the row's change, see ``daemon.sync.watch``). Opened after the end, it sends that final
event at once.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from daemon.http.auth import READ, authenticate, check_owner, presented_key
from daemon.http.errors import ApiError
from daemon.http.outage import is_outage
from daemon.http.state import run_blocking, state_of, wait_change
from daemon.http.status import find_sync
from daemon.observability.context import log_context
from daemon.observability.logging import get_logger
from daemon.store.syncs import SyncRecord
from daemon.store.types import utcnow

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


class KeyNoLongerValid(Exception):
    """The stream's key was revoked or expired, or its clinic deactivated, while it ran."""


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
        except KeyNoLongerValid as refused:
            # The status line is gone: closing is the refusal. A reconnect gets the 401/403.
            log.info("stream closed: %s", refused, extra={"key_id": str(owner.key_id)})
            return response
        except Exception as error:
            # The status line is gone already: all that is left is to log and close.
            if is_outage(error):
                state_of(request).database.failed(error)
                log.warning("stream of sync %s ended: the database cannot be reached", record.id)
            else:
                log.exception("stream of sync %s failed", record.id)
            return response
        await response.write_eof()
        return response


async def _follow(request: web.Request, response: web.StreamResponse, record: SyncRecord) -> None:
    """Progress when the row changes, at most once per ``stream_poll_s`` and at least that
    often while it runs; the final event as soon as the sync ends (woken, not polled)."""
    state = state_of(request)
    interval = state.tuning.stream_poll_s
    with state.watch.subscribe(record.id) as subscription:
        # Subscribed before this read: a change right after it still wakes us.
        fresh: SyncRecord | None = await run_blocking(request, state.store.syncs.get, record.id)
        record = record if fresh is None else fresh
        await response.write(event_for(record))
        if record.is_final:
            return
        now = time.monotonic()
        next_event = now + interval
        next_comment = now + state.tuning.keepalive_s
        while not record.is_final:
            timeout = min(next_event, next_comment) - time.monotonic()
            if await wait_change(request, subscription, timeout):
                return  # the server stops; the client may reconnect to the next process
            latest = await run_blocking(request, state.store.syncs.get, record.id)
            if latest is None:
                return  # purged (90-day retention); nothing more to tell
            record = latest
            now = time.monotonic()
            if record.is_final:
                break
            if now >= next_event:
                await _still_authorised(request)
                await response.write(event_for(record))
                next_event = now + interval
            if now >= next_comment:
                await response.write(KEEPALIVE)
                next_comment = now + state.tuning.keepalive_s
        await _still_authorised(request)
        await response.write(event_for(record))


async def _still_authorised(request: web.Request) -> None:
    """Before each progress event: the key must still pass §3.1, as at the start (a stream
    can run as long as its sync; a revoked key must not keep reading it)."""
    key = presented_key(request)
    owner = await run_blocking(request, state_of(request).store.keys.lookup, key)
    try:
        check_owner(owner, READ, utcnow())
    except ApiError as refusal:
        raise KeyNoLongerValid(refusal.message) from None
