"""``POST /api/sync/{inbound|cases|reconciliation}`` (and the ``reconcile`` alias), §3.2, and
the old service's ``POST /api/sync/full`` (§7, deprecated).

Check order after routing: 401/403 (key), 503 (draining), 429 (rate), 413/415/400 (body), 403
(a ``clinicId`` that is not the key's); then the dispatcher may refuse with 409 (same type
active) or 503. The sync is queued through the dispatcher and, unless the caller prefers an
asynchronous answer, awaited: the waiter is woken when its row changes (``daemon.sync.watch``)
and re-reads it, never blocking the loop or waiting on an actor's future.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, Final
from zoneinfo import ZoneInfo

from aiohttp import web

from daemon.http.auth import authenticate, permission_for
from daemon.http.body import parse_json_object, read_body
from daemon.http.deprecation import HEADER as DEPRECATION
from daemon.http.dispatch import ClinicNotServed, Draining
from daemon.http.errors import ApiError
from daemon.http.middleware import database_unavailable
from daemon.http.outage import is_outage
from daemon.http.state import run_blocking, state_of, wait_change
from daemon.http.validation import FULL_PARTS, TriggerBody, needs_clinic_today, trigger_body
from daemon.observability.context import log_context
from daemon.observability.logging import get_logger
from daemon.store.keys import KeyOwner
from daemon.store.syncs import SyncInProgress, SyncRecord
from daemon.sync.ranges import clinic_today, utc_clock
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


async def _admit(request: web.Request, permissions: list[str]) -> KeyOwner:
    """401/403, 503 (draining) and 429, in the contract's order."""
    state = state_of(request)
    owner = await authenticate(request, permissions[0])
    for permission in permissions[1:]:
        if permission not in owner.permissions:
            raise ApiError(403, f"the API key lacks the permission {permission}")
    if state.dispatcher.draining:
        raise _draining()
    retry_after = state.limiter.hit(owner.key_id)
    if retry_after is not None:
        raise ApiError(
            429,
            "too many trigger requests for this API key; retry later",
            headers={"Retry-After": str(retry_after)},
        )
    return owner


async def _today_of(request: web.Request, owner: KeyOwner) -> date:
    """The clinic's local date (the old service's relative ranges are counted from it)."""

    def read() -> date:
        clinic = state_of(request).store.clinics.get(owner.clinic_id)
        return clinic_today(utc_clock, ZoneInfo(clinic.timezone))

    return await run_blocking(request, read)


async def _read_body(request: web.Request, owner: KeyOwner, route: str) -> TriggerBody:
    """413/415/400, then 403 for another clinic's ``clinicId``; logs old shapes once."""
    body = parse_json_object(request, await read_body(request))
    today = await _today_of(request, owner) if needs_clinic_today(body) else utc_clock().date()
    parsed = trigger_body(route, body, today)
    if parsed.clinic_id is not None and not _is_clinic(parsed.clinic_id, owner.clinic_id):
        # Never a way around §3.1: a key acts on its own clinic only.
        raise ApiError(403, "clinicId names another clinic; this API key acts on its own only")
    state_of(request).deprecations.used(
        owner.key_id, request.path, parsed.deprecated, parsed.ignored
    )
    return parsed


def _is_clinic(value: str, clinic_id: uuid.UUID) -> bool:
    try:
        return uuid.UUID(value) == clinic_id
    except ValueError:
        return False


def _deprecation(parsed: TriggerBody) -> dict[str, str]:
    return {DEPRECATION: "true"} if parsed.deprecated or parsed.ignored else {}


async def trigger(request: web.Request, sync_type: str) -> web.StreamResponse:
    began = time.monotonic()
    owner = await _admit(request, [permission_for(sync_type)])
    with log_context(clinic_id=owner.clinic_id, sync_type=sync_type):
        parsed = await _read_body(request, owner, sync_type)
        headers = _deprecation(parsed)
        record = await _submit(request, owner.clinic_id, parsed.requests[0])
        with log_context(sync_id=record.id):
            log.info("sync %s queued by API trigger", sync_type)
            answer_at_once = prefers_async(request)
            if not answer_at_once:
                (record,) = await _wait_or_unavailable(request, [record], began)
            if record.is_final:
                return web.json_response(record.result_json(), headers=headers)
            return _accepted(record, prefer_async=answer_at_once, headers=headers)


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


async def _wait_or_unavailable(
    request: web.Request, records: list[SyncRecord], began: float
) -> list[SyncRecord]:
    """:func:`wait_for_end`, but a database that goes away while the caller waits answers
    503 carrying the sync ids (the syncs go on; the caller can ask for them later)."""
    try:
        return await wait_for_end(request, records, began)
    except Exception as error:
        if not is_outage(error):
            raise
        state_of(request).database.failed(error)
        first = records[0]
        extra: dict[str, Any] = {k: v for k, v in accepted_body(first).items() if k != "status"}
        extra.pop("success")
        if len(records) > 1:
            extra["syncIds"] = {r.sync_type: str(r.id) for r in records}
        raise database_unavailable(extra) from None


async def wait_for_end(
    request: web.Request, records: list[SyncRecord], began: float
) -> list[SyncRecord]:
    """Follow each sync in turn until it is final, ``SYNC_WAIT_MAX_S`` (counted from
    ``began``) passes or the server stops; returns the rows as last read.

    Woken when a row changes; the row is also re-read every ``wait_poll_s`` for changes made
    where nobody announces them."""
    state = state_of(request)
    deadline = began + state.settings.sync_wait_max_s
    latest = list(records)
    for index, record in enumerate(latest):
        with state.watch.subscribe(record.id) as subscription:
            # Subscribed first, read second: an end between the two still wakes us.
            current = await _reread(request, record)
            while not current.is_final:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait_s = min(state.tuning.wait_poll_s, remaining)
                if await wait_change(request, subscription, wait_s):
                    break  # the server stops
                current = await _reread(request, current)
            latest[index] = current
            if not current.is_final:
                break
    return latest


async def _reread(request: web.Request, record: SyncRecord) -> SyncRecord:
    """The row as it is now (as last seen if it was purged under us)."""
    fresh: SyncRecord | None = await run_blocking(
        request, state_of(request).store.syncs.get, record.id
    )
    return record if fresh is None else fresh


def _accepted(
    record: SyncRecord, *, prefer_async: bool, headers: dict[str, str] | None = None
) -> web.Response:
    body = accepted_body(record)
    answer = {"Location": body["statusUrl"], **(headers or {})}
    if prefer_async:
        answer["Preference-Applied"] = "respond-async"
    return web.json_response(body, status=202, headers=answer)


# -- POST /api/sync/full (deprecated) ----------------------------------------------------------


def _overall(records: list[SyncRecord]) -> str:
    statuses = {record.status for record in records}
    if statuses == {"completed"}:
        return "completed"
    if statuses == {"failed"}:
        return "failed"
    if "interrupted" in statuses:
        return "interrupted"
    return "partial"


def full_result(records: list[SyncRecord]) -> dict[str, Any]:
    """One answer for the parts, shaped like a single trigger's plus ``syncIds``/``results``."""
    status = _overall(records)
    ids: dict[str, str | None] = dict.fromkeys(FULL_PARTS)
    ids.update({record.sync_type: str(record.id) for record in records})
    return {
        "success": status == "completed",
        "syncId": str(records[0].id),
        "syncIds": ids,
        "status": status,
        "stats": {record.sync_type: record.stats for record in records},
        "durationMs": sum(record.duration_ms or 0 for record in records),
        "errors": [
            {**error, "syncType": record.sync_type} for record in records for error in record.errors
        ][:50],
        "results": {record.sync_type: record.result_json() for record in records},
    }


def full_accepted(records: list[SyncRecord]) -> dict[str, Any]:
    pending = next(record for record in records if not record.is_final)
    ids: dict[str, str | None] = dict.fromkeys(FULL_PARTS)
    ids.update({record.sync_type: str(record.id) for record in records})
    return {
        **accepted_body(pending),
        "syncIds": ids,
        "statusUrls": {r.sync_type: status_url(r.sync_type, r.id) for r in records},
    }


async def full(request: web.Request) -> web.StreamResponse:
    """Inbound, then cases, then reconciliation for the key's clinic, as one request."""
    began = time.monotonic()
    owner = await _admit(request, [permission_for(part) for part in FULL_PARTS])
    with log_context(clinic_id=owner.clinic_id, sync_type="full"):
        parsed = await _read_body(request, owner, "full")
        headers = {DEPRECATION: "true"}
        records = await _submit_all(request, owner.clinic_id, parsed.requests)
        log.info("full sync queued by API trigger (%s)", ", ".join(r.sync_type for r in records))
        answer_at_once = prefers_async(request)
        if not answer_at_once:
            records = await _wait_or_unavailable(request, records, began)
        if all(record.is_final for record in records):
            return web.json_response(full_result(records), headers=headers)
        body = full_accepted(records)
        answer = {"Location": body["statusUrl"], **headers}
        if answer_at_once:
            answer["Preference-Applied"] = "respond-async"
        return web.json_response(body, status=202, headers=answer)


async def _submit_all(
    request: web.Request, clinic_id: uuid.UUID, parts: list[SyncRequest]
) -> list[SyncRecord]:
    """409 before anything is queued when any part is already queued or running."""
    syncs = state_of(request).store.syncs
    for part in parts:
        active = await run_blocking(request, syncs.active_of_type, clinic_id, part.sync_type)
        if active is not None:
            raise ApiError(
                409,
                f"this clinic already has a {active.status} {active.sync_type} sync",
                extra={"syncId": str(active.id)},
            )
    queued: list[SyncRecord] = []
    for part in parts:
        try:
            queued.append(await _submit(request, clinic_id, part))
        except ApiError as error:
            if queued:  # a race after the check: say what did get queued
                error.extra["syncIds"] = {r.sync_type: str(r.id) for r in queued}
            raise
    return queued
