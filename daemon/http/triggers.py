"""``POST /api/sync/{inbound|cases|reconciliation}`` (and the ``reconcile`` alias), §3.2.

Check order after routing: 401/403 (key), 503 (draining), 429 (rate), 413/415/400 (body);
then the dispatcher may refuse with 409 (same type active) or 503. The sync is queued through
the dispatcher and, unless the caller prefers an asynchronous answer, awaited by re-reading its
``schedule_syncs`` row: never by blocking the loop or waiting on an actor's future.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from daemon.http.auth import authenticate, permission_for
from daemon.http.body import parse_json_object, read_body
from daemon.http.dispatch import ClinicNotServed, Draining
from daemon.http.errors import ApiError
from daemon.http.state import pause, run_blocking, state_of
from daemon.http.validation import sync_request
from daemon.observability.context import log_context
from daemon.observability.logging import get_logger
from daemon.store.syncs import SyncInProgress, SyncRecord
from daemon.sync.requests import SyncRequest

#: Route segment → sync type (``reconcile`` is the old name, kept as an alias).
ROUTE_TYPES: Final = {
    "inbound": "inbound",
    "cases": "cases",
    "reconciliation": "reconciliation",
    "reconcile": "reconciliation",
}

log = get_logger("http")


def _draining() -> ApiError:
    return ApiError(503, "the server is shutting down and accepts no new syncs")


def status_url(sync_type: str, sync_id: uuid.UUID) -> str:
    return f"/api/sync/{sync_type}/{sync_id}"


def accepted_body(record: SyncRecord) -> dict[str, Any]:
    url = status_url(record.sync_type, record.id)
    return {
        "success": True,
        "syncId": str(record.id),
        "status": record.status,
        "statusUrl": url,
        "streamUrl": f"{url}/stream",
    }


def prefers_async(request: web.Request) -> bool:
    """``Prefer: respond-async`` (RFC 7240), among other preferences, in any case."""
    for header in request.headers.getall("Prefer", []):
        for preference in header.split(","):
            if preference.split(";", 1)[0].strip().lower() == "respond-async":
                return True
    return False


def trigger_handler(segment: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The handler of ``POST /api/sync/<segment>``."""
    sync_type = ROUTE_TYPES[segment]

    async def handle(request: web.Request) -> web.StreamResponse:
        return await trigger(request, sync_type)

    return handle


async def trigger(request: web.Request, sync_type: str) -> web.StreamResponse:
    state = state_of(request)
    owner = await authenticate(request, permission_for(sync_type))
    with log_context(clinic_id=owner.clinic_id, sync_type=sync_type):
        if state.dispatcher.draining:
            raise _draining()
        retry_after = state.limiter.hit(owner.key_id)
        if retry_after is not None:
            raise ApiError(
                429,
                "too many trigger requests for this API key; retry later",
                headers={"Retry-After": str(retry_after)},
            )
        body = parse_json_object(request, await read_body(request))
        wanted = sync_request(sync_type, body)
        record = await _submit(request, owner.clinic_id, wanted)
        with log_context(sync_id=record.id):
            log.info("sync %s queued by API trigger", sync_type)
            answer_at_once = prefers_async(request)
            if not answer_at_once:
                record = await _wait(request, record)
            if record.is_final:
                return web.json_response(record.result_json())
            return _accepted(record, prefer_async=answer_at_once)


async def _submit(request: web.Request, clinic_id: uuid.UUID, wanted: SyncRequest) -> SyncRecord:
    dispatcher = state_of(request).dispatcher
    try:
        return await run_blocking(request, dispatcher.submit, clinic_id, wanted)
    except SyncInProgress as exc:
        raise ApiError(
            409,
            f"this clinic already has a {exc.status} {exc.sync_type} sync",
            extra={"syncId": str(exc.sync_id)},
        ) from None
    except Draining:
        raise _draining() from None
    except ClinicNotServed:
        raise ApiError(
            503, "the clinic is not being served yet (just added or reactivated); retry shortly"
        ) from None


async def _wait(request: web.Request, record: SyncRecord) -> SyncRecord:
    """Re-read the row until it is final, ``SYNC_WAIT_MAX_S`` passes or the server stops."""
    state = state_of(request)
    deadline = time.monotonic() + state.settings.sync_wait_max_s
    while not record.is_final:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or await pause(request, min(state.tuning.wait_poll_s, remaining)):
            break
        latest = await run_blocking(request, state.store.syncs.get, record.id)
        if latest is None:  # purged under us: report what we last saw
            break
        record = latest
    return record


def _accepted(record: SyncRecord, *, prefer_async: bool) -> web.Response:
    body = accepted_body(record)
    headers = {"Location": body["statusUrl"]}
    if prefer_async:
        headers["Preference-Applied"] = "respond-async"
    return web.json_response(body, status=202, headers=headers)
