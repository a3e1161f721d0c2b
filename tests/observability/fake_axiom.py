"""A stand-in for Axiom's ingest API: a real aiohttp server on 127.0.0.1 in its own thread.

It records every request, decodes gzip and NDJSON / JSON arrays itself (aiohttp's automatic
request decompression is off, so a body that is not gzip shows up as such), and can be told
to answer 429 with rate-limit headers, to be down (503), or to hang without answering.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

Mode = Literal["ok", "down", "hang"]


@dataclass(frozen=True)
class Attempt:
    path: str
    headers: dict[str, str]
    body: bytes  # as it came over the wire


@dataclass(frozen=True)
class Batch:
    attempt: Attempt
    events: list[dict[str, Any]]
    decoded: str  # the uncompressed body, for "no secret in what was shipped" checks


def decode_events(text: str) -> list[dict[str, Any]]:
    stripped = text.strip()
    if stripped.startswith("["):
        events = json.loads(stripped)
        assert isinstance(events, list)
        return events
    return [json.loads(line) for line in stripped.splitlines() if line.strip()]


class FakeAxiom:
    def __init__(self, token: str = "xaat-test-token") -> None:
        self.token = token
        self.mode: Mode = "ok"
        self._scripted: list[tuple[int, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._attempts: list[Attempt] = []
        self._batches: list[Batch] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-axiom")
        self._release: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- control ------------------------------------------------------------------------------

    def start(self) -> FakeAxiom:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            assert self._release is not None and self._runner is not None
            self._release.set()  # let hanging requests end, or cleanup would wait for them
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def answer_next(self, status: int, headers: dict[str, str] | None = None) -> None:
        """Queue one scripted answer; scripted answers go first, in order."""
        with self._lock:
            self._scripted.append((status, headers or {}))

    @property
    def attempts(self) -> list[Attempt]:
        with self._lock:
            return list(self._attempts)

    @property
    def batches(self) -> list[Batch]:
        with self._lock:
            return list(self._batches)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for batch in self.batches for event in batch.events]

    # --- the server ---------------------------------------------------------------------------

    async def _start(self) -> None:
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/datasets/{dataset}/ingest", self._ingest)
        # No access log: its lines would go through the logging under test.
        self._runner = web.AppRunner(app, auto_decompress=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def _ingest(self, request: web.Request) -> web.Response:
        body = await request.read()
        attempt = Attempt(request.path, dict(request.headers), body)
        with self._lock:
            self._attempts.append(attempt)
            scripted = self._scripted.pop(0) if self._scripted else None
        if scripted is not None:
            status, headers = scripted
            return web.json_response({"message": "scripted"}, status=status, headers=headers)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"message": "invalid token"}, status=401)
        if self.mode == "down":
            return web.json_response({"message": "unavailable"}, status=503)
        if self.mode == "hang":
            assert self._release is not None
            await self._release.wait()
            return web.json_response({"message": "too late"}, status=503)
        decoded = (
            gzip.decompress(body) if request.headers.get("Content-Encoding") == "gzip" else body
        )
        text = decoded.decode("utf-8")
        events = decode_events(text)
        with self._lock:
            self._batches.append(Batch(attempt, events, text))
        return web.json_response(
            {
                "ingested": len(events),
                "failed": 0,
                "failures": [],
                "processedBytes": len(decoded),
                "blocksCreated": 0,
                "walLength": len(events),
            }
        )
