"""One HTTP call to Axiom's ingest endpoint, and what its answer means for the next one.

Plain ``http.client`` on the shipper's own thread: no event loop, no extra dependency, and a
socket timeout we set per request (so a shutdown never waits longer than its budget).
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from daemon import __version__
from providers.backoff import retry_after_seconds

_STALE_CONNECTION = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


@dataclass(frozen=True, slots=True)
class IngestReply:
    status: int
    retry_after_s: float | None  # what the server asked us to wait, when it said so
    failed_events: int  # events Axiom accepted the request for but could not ingest
    detail: str  # a short excerpt of the body, for the operator

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status == 429 or self.status >= 500


def encode_batch(lines: list[str]) -> bytes:
    """NDJSON (the lines are JSON objects already), gzipped."""
    return gzip.compress("\n".join(lines).encode("utf-8"), compresslevel=6)


def parse_retry_after(headers: http.client.HTTPMessage, now: float, limit_s: float) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or ``X-RateLimit-Reset``
    (Axiom: UTC epoch seconds), capped at ``limit_s``; None when neither says anything."""
    wait = retry_after_seconds(headers.get("Retry-After"), now)
    reset = headers.get("X-RateLimit-Reset")
    if wait is None and reset:
        try:
            value = float(reset)
        except ValueError:
            value = None
        if value is not None:
            # An epoch (Axiom's documented meaning); a small number can only be a delay.
            wait = value - now if value > 1_000_000_000 else value
    if wait is None:
        return None
    return min(max(wait, 0.0), limit_s)


class IngestClient:
    """POSTs gzipped NDJSON to ``{url}/v1/datasets/{dataset}/ingest`` over one kept-alive
    connection, reopened after any error. Used from one thread only."""

    def __init__(self, url: str, dataset: str, token: str, max_wait_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("AXIOM_URL must be an http(s) URL")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = f"{parts.path.rstrip('/')}/v1/datasets/{quote(dataset, safe='')}/ingest"
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/x-ndjson",
            "Content-Encoding": "gzip",
            "User-Agent": f"pims-sync/{__version__}",
        }
        self._max_wait_s = max_wait_s
        self._conn: http.client.HTTPConnection | None = None
        self._aborted = False

    def post(self, body: bytes, timeout_s: float) -> IngestReply:
        """One attempt. Raises ``OSError`` / ``http.client.HTTPException`` when no answer came."""
        self._aborted = False
        reused = self._conn is not None
        try:
            response, payload = self._exchange(body, timeout_s)
        except _STALE_CONNECTION:
            # The server (or a load balancer) closed the idle kept-alive connection: that is
            # not an outage, so try once more on a fresh one, unless shutdown cut us off.
            if not reused or self._aborted:
                raise
            response, payload = self._exchange(body, timeout_s)
        if response.will_close:
            self.close()
        wait = None
        if response.status == 429 or response.status >= 500:
            wait = parse_retry_after(response.msg, time.time(), self._max_wait_s)
        return IngestReply(
            status=response.status,
            retry_after_s=wait,
            failed_events=_failed_count(payload) if 200 <= response.status < 300 else 0,
            detail=payload[:200].decode("utf-8", "replace"),
        )

    def _exchange(self, body: bytes, timeout_s: float) -> tuple[http.client.HTTPResponse, bytes]:
        conn = self._connection(timeout_s)
        try:
            conn.request("POST", self._path, body=body, headers=self._headers)
            response = conn.getresponse()
            return response, response.read()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def abort(self) -> None:
        """From another thread: make a request blocked on this connection fail now."""
        self._aborted = True
        conn = self._conn
        sock = conn.sock if conn is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _connection(self, timeout_s: float) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=timeout_s,
                    context=ssl.create_default_context(),
                )  # fmt: skip
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout_s)
        # A kept-alive socket keeps the timeout it was opened with; each request has its own.
        self._conn.timeout = timeout_s
        if self._conn.sock is not None:
            self._conn.sock.settimeout(timeout_s)
        return self._conn


def _failed_count(payload: bytes) -> int:
    """Axiom answers ``{"ingested": n, "failed": m, ...}``; anything else counts as no failure."""
    try:
        failed = json.loads(payload).get("failed", 0)
    except (ValueError, AttributeError):
        return 0
    return failed if isinstance(failed, int) and failed > 0 else 0
