"""A blocking face on aiohttp's client, for tests that also play the actor in their thread.

The client's event loop runs in a thread of its own: ``start`` returns a future at once, so a
test can send a trigger that waits, finish the sync meanwhile, then read the answer. Every
reply is checked for ``X-Request-Id`` (the contract promises it on every response).
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

TIMEOUT_S = 60.0


@dataclass
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class Event:
    name: str  # ":comment" for a comment line
    data: Any = None


@dataclass
class Stream:
    """An SSE response being read: events arrive in ``events`` as the server sends them."""

    status: Future[int] = field(default_factory=Future)
    headers: Future[CIMultiDictProxy[str]] = field(default_factory=Future)
    events: queue.Queue[Event | None] = field(default_factory=queue.Queue)  # None = closed
    done: Future[bytes] = field(default_factory=Future)

    def next(self, timeout_s: float = 10.0) -> Event | None:
        return self.events.get(timeout=timeout_s)

    def next_named(self, timeout_s: float = 10.0) -> Event | None:
        """The next real event (comments skipped), or None when the stream closed."""
        while True:
            item = self.next(timeout_s)
            if item is None or item.name != ":comment":
                return item

    def rest(self, timeout_s: float = 30.0) -> list[Event]:
        """Every event until the server closes the stream."""
        items = []
        while (item := self.next(timeout_s)) is not None:
            items.append(item)
        return items


def parse_events(block: str) -> list[Event]:
    events: list[Event] = []
    for chunk in block.split("\n\n"):
        if not chunk.strip():
            continue
        name, data = "message", None
        lines = chunk.split("\n")
        if all(line.startswith(":") for line in lines):
            events.append(Event(":comment", chunk))
            continue
        for line in lines:
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data = json.loads(line[len("data: ") :])
        events.append(Event(name, data))
    return events


class LoopClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="test-client", daemon=True
        )
        self.thread.start()
        self.session: aiohttp.ClientSession = self._call(self._open())

    async def _open(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(TIMEOUT_S)

    def start(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | list[tuple[str, str]] | None = None,
        json_body: Any = None,
        data: Any = None,
    ) -> Future[Reply]:
        async def send() -> Reply:
            kwargs: dict[str, Any] = {"headers": CIMultiDict(headers or {})}
            if json_body is not None:
                kwargs["json"] = json_body
            if data is not None:
                kwargs["data"] = data
            async with self.session.request(method, self.base_url + path, **kwargs) as resp:
                body = await resp.read()
                reply = Reply(resp.status, resp.headers, body)
            assert reply.headers.get("X-Request-Id"), f"{method} {path}: no X-Request-Id"
            return reply

        return asyncio.run_coroutine_threadsafe(send(), self.loop)

    def request(self, method: str, path: str, **kwargs: Any) -> Reply:
        return self.start(method, path, **kwargs).result(TIMEOUT_S)

    def stream(self, path: str, headers: Mapping[str, str]) -> Stream:
        target = Stream()

        async def read() -> None:
            try:
                async with self.session.get(self.base_url + path, headers=dict(headers)) as resp:
                    target.status.set_result(resp.status)
                    target.headers.set_result(resp.headers)
                    raw, pending = b"", ""
                    async for chunk in resp.content.iter_any():
                        raw += chunk
                        pending += chunk.decode()
                        complete, _, pending = pending.rpartition("\n\n")
                        for item in parse_events(complete):
                            target.events.put(item)
                    target.done.set_result(raw)
            except BaseException as exc:
                for fut in (target.status, target.headers, target.done):
                    if not fut.done():
                        fut.set_exception(exc)
                raise
            finally:
                target.events.put(None)

        asyncio.run_coroutine_threadsafe(read(), self.loop)
        return target

    def close(self) -> None:
        self._call(self.session.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
