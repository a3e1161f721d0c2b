"""``X-API-Key`` authentication and permissions (contract §3.1).

Order inside the 401/403 step: the key must be present, well formed, known, active and not
expired (401); its clinic must be active (403 ``clinic_inactive``); it must hold the route's
permission (403 ``forbidden``). A key acts on its own clinic only: handlers take the clinic
from the :class:`KeyOwner`, never from the request.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from daemon.http.errors import ApiError
from daemon.http.state import run_blocking, state_of
from daemon.observability.logging import get_logger
from daemon.store.apikeys import looks_like_key
from daemon.store.keys import LAST_USED_RESOLUTION, KeyOwner
from daemon.store.types import utcnow

HEADER = "X-API-Key"
READ = "sync:read"

log = get_logger("http")


def permission_for(sync_type: str) -> str:
    return f"sync:{sync_type}"


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message)


def presented_key(request: web.Request) -> str:
    values = request.headers.getall(HEADER, [])
    if not values:
        raise _unauthorized(f"the {HEADER} header is missing")
    # Two keys in one request are ambiguous: refuse rather than pick one.
    if len(values) > 1 or not looks_like_key(values[0].strip()):
        raise _unauthorized(f"the {HEADER} header is not a valid API key")
    return values[0].strip()


def check_owner(owner: KeyOwner | None, permission: str, now: datetime) -> KeyOwner:
    """The 401 and 403 rules, in the contract's order, for a looked-up key."""
    if owner is None:
        raise _unauthorized("the API key is not valid")
    if not owner.is_active:
        raise _unauthorized("the API key has been revoked")
    if owner.expires_at is not None and owner.expires_at <= now:
        raise _unauthorized("the API key has expired")
    if not owner.clinic_active:
        raise ApiError(403, "the key's clinic is deactivated", code="clinic_inactive")
    if permission not in owner.permissions:
        raise ApiError(403, f"the API key lacks the permission {permission}")
    return owner


async def authenticate(request: web.Request, permission: str) -> KeyOwner:
    state = state_of(request)
    key = presented_key(request)
    owner = check_owner(
        await run_blocking(request, state.store.keys.lookup, key), permission, utcnow()
    )
    await _touch(request, owner)
    return owner


async def _touch(request: web.Request, owner: KeyOwner) -> None:
    """Record use at most once a minute; a failed write never fails the request."""
    last = owner.last_used_at
    if last is not None and utcnow() - last < LAST_USED_RESOLUTION:
        return
    try:
        await run_blocking(request, state_of(request).store.keys.touch, owner.key_id, last)
    except Exception:
        log.warning(
            "could not record the API key's last use",
            exc_info=True,
            extra={"key_id": str(owner.key_id)},
        )
