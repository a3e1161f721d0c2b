"""Around every request: its id, its log context, its error body, its metric and log line.

Every response carries ``X-Request-Id`` (the caller's, when it is a sane token, else a new
UUID). Errors of any kind leave as the JSON body of contract §3.4; an unexpected exception
becomes a 500 whose body says nothing but the request id, while the log line (with the stack,
masked by the logging setup) carries the same id.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from daemon.http import legacy
from daemon.http.errors import CODES, ApiError, error_response
from daemon.http.outage import RETRY_AFTER_S, is_outage
from daemon.http.state import STATE
from daemon.observability.context import log_context
from daemon.observability.logging import get_logger
from daemon.observability.metrics import HTTP_REQUESTS_TOTAL

REQUEST_ID_HEADER: Final = "X-Request-Id"
REQUEST_ID: Final = web.RequestKey("pims_sync_request_id", str)
_SANE_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
#: Metric label of requests that matched no route (never the raw path: unbounded series).
UNMATCHED: Final = "unmatched"

log = get_logger("http")


def request_id_of(request: web.Request) -> str:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    return incoming if _SANE_ID.fullmatch(incoming) else str(uuid.uuid4())


def route_label(request: web.Request) -> str:
    """The matched route's pattern (``/api/sync/{type}/{syncId}``), for metrics and logs."""
    resource = request.match_info.route.resource
    return UNMATCHED if resource is None else resource.canonical


def _from_http_exception(exc: web.HTTPException) -> web.StreamResponse:
    if exc.status < 400:
        raise exc  # redirects and the like pass through unchanged
    headers = {name: exc.headers[name] for name in ("Allow", "Retry-After") if name in exc.headers}
    message = {
        404: "no such route",
        405: f"method not allowed here (allowed: {exc.headers.get('Allow', '')})",
    }.get(exc.status, exc.reason)
    return error_response(exc.status, CODES.get(exc.status, "error"), message, headers=headers)


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request_id_of(request)
    request[REQUEST_ID] = request_id
    started = time.monotonic()
    with log_context(request_id=request_id):
        try:
            _before_the_handler(request)
            response = await handler(request)
        except ApiError as exc:
            response = exc.response()
        except web.HTTPException as exc:
            response = _from_http_exception(exc)
        except Exception as exc:
            if is_outage(exc):
                request.app[STATE].database.failed(exc)
                response = database_unavailable().response()
            else:
                response = _internal(request, request_id)
        _observe(request, response.status, time.monotonic() - started)
        return response


def database_unavailable(extra: dict[str, str] | None = None) -> ApiError:
    return ApiError(
        503,
        "the database cannot be reached; retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_S)},
        extra=extra,
    )


def _before_the_handler(request: web.Request) -> None:
    """The checks of contract §7 that come before any handler: an old trigger route is a
    404 naming its replacement (not a 405), and while the database is unreachable every
    ``/api/`` route answers 503 (a key cannot be checked)."""
    unmatched = request.match_info.http_exception
    if unmatched is not None:
        if legacy.applies(request.method, request.path):
            raise legacy.not_a_trigger(request.path)
        return  # the router's own 404 / 405
    if request.path.startswith("/api/") and request.app[STATE].database.down:
        raise database_unavailable()


def _internal(request: web.Request, request_id: str) -> web.StreamResponse:
    """Called inside the ``except`` block: the log line carries the stack (masked)."""
    log.exception(
        "unhandled error in %s %s",
        request.method,
        route_label(request),
        extra={"request_id": request_id},
    )
    return error_response(500, "internal", f"internal error (request id {request_id})")


def _observe(request: web.Request, status: int, seconds: float) -> None:
    route = route_label(request)
    HTTP_REQUESTS_TOTAL.labels(route, str(status)).inc()
    # Probes are polled all day long; their lines would drown the API's.
    level = logging.INFO if request.path.startswith("/api/") else logging.DEBUG
    log.log(
        level,
        "%s %s -> %d",
        request.method,
        route,
        status,
        extra={
            "http_method": request.method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
        },
    )


async def add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: also reaches streams, whose headers leave before they end."""
    response.headers[REQUEST_ID_HEADER] = request.get(REQUEST_ID) or request_id_of(request)
