"""``GET /api/sync/{type}/{syncId}`` and ``GET /api/schedules`` (contract §3.3).

Both read the database (or the dispatcher's schedule view), never a busy clinic actor, so a
sync started by the CLI or before a restart is visible too.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from daemon.http.auth import READ, authenticate
from daemon.http.errors import ApiError
from daemon.http.state import run_blocking, state_of
from daemon.http.triggers import ROUTE_TYPES
from daemon.observability.context import log_context
from daemon.store.keys import KeyOwner
from daemon.store.syncs import SyncRecord


async def find_sync(request: web.Request, owner: KeyOwner) -> SyncRecord:
    """The route's sync, or 404 alike for a malformed id, an unknown one, one of another
    type and one of another clinic (never reveal that another clinic's sync exists)."""
    not_found = ApiError(404, "no such sync for this API key")
    try:
        sync_id = uuid.UUID(request.match_info["syncId"])
    except ValueError:
        raise not_found from None
    record = await run_blocking(request, state_of(request).store.syncs.get, sync_id)
    if (
        record is None
        or record.clinic_id != owner.clinic_id
        or record.sync_type != ROUTE_TYPES[request.match_info["type"]]
    ):
        raise not_found
    return record


async def sync_status(request: web.Request) -> web.StreamResponse:
    owner = await authenticate(request, READ)
    with log_context(clinic_id=owner.clinic_id):
        record = await find_sync(request, owner)
        return web.json_response(record.status_json())


async def schedules(request: web.Request) -> web.StreamResponse:
    owner = await authenticate(request, READ)
    with log_context(clinic_id=owner.clinic_id):
        entries = await run_blocking(
            request, state_of(request).dispatcher.schedules, owner.clinic_id
        )
        return web.json_response({"schedules": entries})
