"""Connections: how many, how long a client may take to send its headers, and what a malformed
request gets back.

Slow or idle clients must not use up the process's file descriptors: past the open-file limit
``accept()`` fails, ``/health`` stops answering and asyncio logs the failure in a loop. So:

- a connection that has not sent a whole request within ``header_timeout_s`` is closed (also
  the idle keep-alive limit between requests);
- at most :func:`connection_limit` connections at once, well below the open-file limit; when a
  new one arrives at the limit, the oldest connection that is not in the middle of a request
  (an idle or half-sent one) is closed to make room, so a probe still gets through; with none
  such, the newcomer gets a short ``503`` and is closed;
- a request the HTTP parser refuses (a NUL byte or another malformed header) is a ``400`` with
  the API's JSON error body and ``X-Request-Id``, logged as one line without a traceback and
  without echoing the header (it may carry a key).
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import uuid
from typing import Any, Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler

from daemon.observability.logging import get_logger

log = get_logger("http")

#: Descriptors left for everything else (database, browsers, log files, pipes).
MIN_RESERVE: Final = 64
MIN_CONNECTIONS: Final = 16
_REFUSAL_BODY: Final = (
    b'{"success":false,"error":{"code":"unavailable","message":"too many connections; retry"}}'
)
_REFUSAL: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
    b"Content-Type: application/json\r\nContent-Length: "
    + str(len(_REFUSAL_BODY)).encode()
    + b"\r\n\r\n"
    + _REFUSAL_BODY
)


def connection_limit(configured: int | None = None, accept_batch: int = 128) -> int:
    """``configured``, or the soft open-file limit less a quarter (at least 64) for everything
    else and less ``accept_batch``: asyncio accepts up to that many sockets at once before
    the gate sees them."""
    if configured is not None:
        return max(1, configured)
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return 4096
    return max(MIN_CONNECTIONS, soft - max(MIN_RESERVE, soft // 4) - accept_batch)


class ApiRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering parser errors in the API's own way and telling
    the gate when its connection is gone."""

    def __init__(self, *args: Any, gate: ConnectionGate | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = gate
        self.evicted = False

    def connection_lost(self, exc: BaseException | None) -> None:
        super().connection_lost(exc)
        if self.gate is not None:
            self.gate.released(self)

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not (isinstance(exc, HttpProcessingError) and 400 <= status < 500):
            return super().handle_error(request, status, exc, message)
        request_id = str(uuid.uuid4())
        reason = refusal_reason(exc)
        log.warning(
            "malformed HTTP request refused: %s",
            reason,
            extra={"request_id": request_id, "status": status},
        )
        body = {
            "success": False,
            "error": {"code": "invalid_request", "message": f"malformed HTTP request: {reason}"},
        }
        response = web.Response(
            status=status,
            text=json.dumps(body),
            content_type="application/json",
            headers={"X-Request-Id": request_id},
        )
        response.force_close()
        return response


#: Where a parser message starts quoting what the client sent (``b'...'``, ``'...'``, ...).
_QUOTED_INPUT: Final = re.compile(r"""[\s:]+b?['"]|[\s:]*bytearray\(|\n""")


def refusal_reason(exc: HttpProcessingError) -> str:
    """What was wrong with a request the parser refused, without quoting any of it: the
    parser's messages end with the raw line or header, which may carry a key or a cookie."""
    if isinstance(exc, LineTooLong):
        limit = exc.args[1] if len(exc.args) > 1 else "the allowed number of"
        return f"the request line or a header line is longer than {limit} bytes"
    message = str(getattr(exc, "message", "") or "")
    reason = _QUOTED_INPUT.split(message, maxsplit=1)[0].strip().rstrip(":.")
    return reason or "malformed request"


class _Refusal(asyncio.Protocol):
    """Answers 503 and closes: costs one descriptor for a moment."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(_REFUSAL)
        transport.close()


class ConnectionGate:
    """The protocol factory of the listening socket: a handler per connection, within the cap.

    It counts handlers itself (from creation to ``connection_lost``): asyncio accepts a batch
    of sockets before their handlers are connected, so the server's own list lags behind."""

    def __init__(self, server: web.Server, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.limit = limit
        self.loop = loop
        self.refused = 0
        self.evictions = 0
        self._open: dict[ApiRequestHandler, None] = {}  # insertion order: oldest first
        # The handler's settings, as aiohttp would pass them (timeouts, access log, ...). Not
        # public in aiohttp: should a version drop it, say so rather than lose the timeout.
        self._kwargs: dict[str, Any] = dict(getattr(server, "_kwargs", {}))
        if "keepalive_timeout" not in self._kwargs:
            log.warning("aiohttp's handler settings not found: the header timeout is not applied")

    @property
    def open(self) -> int:
        return len(self._open)

    def __call__(self) -> asyncio.BaseProtocol:
        if len(self._open) >= self.limit and not self._evict_idle():
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                log.warning(
                    "connection limit reached: new connections are refused",
                    extra={"limit": self.limit, "refused": self.refused},
                )
            return _Refusal()
        handler = ApiRequestHandler(self.server, loop=self.loop, gate=self, **self._kwargs)
        self._open[handler] = None
        return handler

    def released(self, handler: ApiRequestHandler) -> None:
        self._open.pop(handler, None)

    def _evict_idle(self) -> bool:
        """Close the oldest connection that is between requests (or still sending one)."""
        for handler in self._open:  # oldest first
            if handler.evicted or handler.transport is None:
                continue  # being closed, or not connected yet
            if getattr(handler, "_request_in_progress", True) is False:
                handler.evicted = True
                handler.force_close()
                self.evictions += 1
                return True
        return False
