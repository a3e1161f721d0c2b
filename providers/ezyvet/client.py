"""HTTP to one ezyVet site: the token, paging, filters, pacing, retries and typed failures.

- Every request carries the clinic's token (:mod:`token`); a 401 means one shared renewal and
  one retry, and a 401 again is :class:`AuthenticationFailed`.
- Every request first takes a send slot from the site's pacer (:mod:`pacing`); a 429 pauses the
  whole site until ``x-ratelimit-reset`` and the request is sent again — waiting out a 429 is not
  a retry, but it counts against the sync's wait budget.
- 5xx, timeouts and connection errors are retried ``retries`` times with exponential backoff and
  jitter, then :class:`PimsUnavailable`. Any other 4xx is :class:`BadRequest`, at once (a 404
  included: only lists are read, and a list that is not there is not an empty list).
- Lists are read page by page (``limit`` 200) until ``items_page == items_page_total``, the later
  pages in parallel; a list whose pages do not add up to its ``items_total`` is read again once,
  then fails (:meth:`EzyVetClient.list_all`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import aiohttp
import yarl

from providers.backoff import retry_after_seconds
from providers.base import (
    AuthenticationFailed,
    BadRequest,
    NullObserver,
    PimsUnavailable,
    RequestObserver,
    UnexpectedPayload,
)
from providers.ezyvet import facts
from providers.ezyvet.pacing import PacingSettings, SitePacer, WaitBudget
from providers.ezyvet.token import Token, TokenKeeper
from providers.transport import (
    AttemptFailed,
    LazySession,
    Transient,
    observed,
    wire_failures,
    with_retries,
)

# Re-exported: callers build this client's settings from this module.
from providers.transport import RetryPolicy as RetryPolicy

log = logging.getLogger("pims_sync.pims")

#: A list whose pages do not add up is read this many times before the fetch fails.
LIST_READS = 2

T = TypeVar("T")

Filters = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ClientSettings:
    connect_timeout_s: float = 10.0
    total_timeout_s: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    pacing: PacingSettings = field(default_factory=PacingSettings)
    page_limit: int = facts.PAGE_LIMIT


class _Unauthorized(AttemptFailed):
    """A 401: the token is renewed once and the request sent again."""

    def __init__(self) -> None:
        super().__init__("unauthorized", "HTTP 401")


class _Throttled(AttemptFailed):
    """A 429: the whole site waits, then the request goes again (not one of the retries)."""

    def __init__(self, reset_s: float | None) -> None:
        super().__init__("rate_limited", "HTTP 429")
        self.reset_s = reset_s


def encode_filter(value: Any) -> str:
    """A filter's query value: JSON for comparisons (``{"in": [...]}``), the plain value else."""
    if isinstance(value, Mapping):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def chunks(ids: Iterable[str], size: int = facts.MAX_IN_IDS) -> list[list[str]]:
    unique = list(dict.fromkeys(ids))
    return [unique[i : i + size] for i in range(0, len(unique), size)]


def in_filter(ids: Sequence[str]) -> dict[str, list[int | str]]:
    """``{"in": [...]}``; numeric ids go as numbers (what the API's own examples send)."""
    return {"in": [int(i) if i.isdigit() else i for i in ids]}


async def all_of(*awaitables: Awaitable[T]) -> list[T]:
    """Run together; the first failure cancels the rest and propagates."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class EzyVetClient:
    """One provider instance's connection to one site; use from one event loop."""

    def __init__(
        self,
        base_url: str,
        pacer: SitePacer,
        *,
        max_concurrency: int = 5,
        settings: ClientSettings | None = None,
        observer: RequestObserver | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.settings = settings or ClientSettings()
        self.pacer = pacer
        self.budget = WaitBudget(self.settings.pacing.max_wait_s)
        self._observer = observer or NullObserver()
        self._semaphore = asyncio.Semaphore(max(1, max_concurrency))
        self._http = LazySession(self.settings.connect_timeout_s, self.settings.total_timeout_s)
        self.tokens: TokenKeeper | None = None
        #: HTTP requests sent (every attempt, the token request included).
        self.requests = 0

    async def close(self) -> None:
        await self._http.close()

    # -- the token request ----------------------------------------------------------------

    async def request_token(self, body: Mapping[str, str]) -> str:
        """``POST /v1/oauth/access_token``; 400/401 → :class:`AuthenticationFailed` (no retry)."""
        answer = await self._with_retries(
            "access_token", lambda: self._send("access_token", "POST", facts.TOKEN_PATH, body=body)
        )
        value = answer.get("access_token") if isinstance(answer, Mapping) else None
        if not isinstance(value, str) or not value:
            raise UnexpectedPayload("ezyVet access_token: answer has no 'access_token'")
        return value

    # -- lists ----------------------------------------------------------------------------

    async def list_all(self, resource: facts.Resource, filters: Filters) -> list[Mapping[str, Any]]:
        """Every item of a filtered list, all pages read (the first page says how many) and
        checked against the list's own count.

        A page that came back short, or a list that changed while its pages were read (they are
        read in parallel, so a row booked meanwhile shifts the others between pages), is read
        once more, then fails: a short list taken as complete would soft-delete appointments
        that still exist and free their slots for double booking.
        """
        problem = ""
        for attempt in range(1, LIST_READS + 1):
            pages = await self._pages(resource, filters)
            items = [item for page in pages for item in page.items]
            problem = _incomplete(pages, items)
            if not problem:
                return items
            if attempt < LIST_READS:
                log.warning(
                    "ezyVet list read inconsistently; reading it again",
                    extra={"endpoint": resource.name, "problem": problem},
                )
        raise PimsUnavailable(f"ezyVet {resource.name} list read inconsistently twice: {problem}")

    async def _pages(self, resource: facts.Resource, filters: Filters) -> list[Page]:
        first = await self._page(resource, filters, 1)
        if first.page_count <= 1:
            return [first]
        rest = await all_of(
            *(self._page(resource, filters, n) for n in range(2, first.page_count + 1))
        )
        return [first, *rest]

    async def list_in(
        self, resource: facts.Resource, field: str, ids: Iterable[str]
    ) -> list[Mapping[str, Any]]:
        """Every item whose ``field`` is one of ``ids``: ``in`` lists of at most 100."""
        batches = chunks(ids)
        found = await all_of(*(self.list_all(resource, {field: in_filter(b)}) for b in batches))
        return [item for batch in found for item in batch]

    async def _page(self, resource: facts.Resource, filters: Filters, page: int) -> Page:
        params = {name: encode_filter(value) for name, value in filters.items()}
        params.update(limit=str(self.settings.page_limit), page=str(page))
        body = await self.get(resource.name, resource.path, params)
        return parse_page(body, resource, page)

    async def get(self, endpoint: str, path: str, params: Mapping[str, str]) -> Any:
        if self.tokens is None:
            raise AuthenticationFailed("ezyVet: not authenticated (call authenticate first)")
        tokens = self.tokens
        renewed = False
        while True:
            token = await tokens.token()
            try:
                send = partial(self._send, endpoint, "GET", path, params, token=token)
                return await self._with_retries(endpoint, send)
            except _Unauthorized:
                if renewed:
                    raise AuthenticationFailed(
                        f"ezyVet {endpoint} refused a freshly issued token (HTTP 401)"
                    ) from None
                await tokens.renew(token)
                renewed = True

    # -- one request, with retries and pacing ---------------------------------------------

    async def _with_retries(self, endpoint: str, attempt: Callable[[], Awaitable[T]]) -> T:
        async def paced() -> T:
            while True:
                try:
                    return await attempt()
                except _Throttled as throttled:
                    # Not a retry: the whole site waits, then this request goes again.
                    self.pacer.pause(throttled.reset_s)
                    log.info(
                        "ezyVet rate limit hit; pausing the site", extra={"endpoint": endpoint}
                    )

        return await with_retries("ezyVet", endpoint, self.settings.retry, paced)

    async def _send(
        self,
        endpoint: str,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        body: Mapping[str, str] | None = None,
        token: Token | None = None,
    ) -> Any:
        query = urlencode(params or {}, quote_via=quote)
        url = yarl.URL(f"{self.base_url}{path}{'?' + query if query else ''}", encoded=True)
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token.value}"
        # The concurrency slot is held for one attempt only, never across a backoff sleep; the
        # pacing slot is taken last, right before sending, so its time is the send time.
        async with self._semaphore:
            while (wait := self.pacer.reserve(endpoint)) > 0:
                await self.budget.wait(wait, f"{endpoint} limit")
            self.requests += 1
            exchange = self._exchange(endpoint, method, url, headers, body)
            return await observed(self._observer, endpoint, exchange)

    async def _exchange(
        self,
        endpoint: str,
        method: str,
        url: yarl.URL,
        headers: dict[str, str],
        body: Mapping[str, str] | None,
    ) -> Any:
        with wire_failures():
            async with self._http.session().request(
                method, url, headers=headers, json=body, allow_redirects=False
            ) as response:
                status = response.status
                if status == 429:
                    raise _Throttled(_reset_after(response))
                if status >= 500:
                    retry_after_s = retry_after_seconds(response.headers.get("Retry-After"))
                    raise Transient("server_error", f"HTTP {status}", retry_after_s)
                if endpoint == "access_token" and status in (400, 401):
                    raise AuthenticationFailed(
                        f"ezyVet refused the API credentials (HTTP {status})"
                    )
                if status == 401:
                    raise _Unauthorized()
                if status == 404:
                    # pims-sync only reads lists, which always exist: a 404 means a wrong path
                    # or a resource the site does not offer, never "nothing there".
                    raise BadRequest(f"ezyVet {endpoint}: no such endpoint (HTTP 404)")
                if status >= 400 or 300 <= status < 400:
                    raise BadRequest(f"ezyVet {endpoint} refused the request (HTTP {status})")
                raw = await response.read()
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise UnexpectedPayload(f"ezyVet {endpoint} answered with unreadable JSON") from None


def _reset_after(response: aiohttp.ClientResponse) -> float | None:
    """How long the site asks us to wait: ``x-ratelimit-reset`` (seconds), else ``Retry-After``
    (seconds or an HTTP date); None (the pacer's default pause) when neither is readable."""
    for name in ("x-ratelimit-reset", "Retry-After"):
        seconds = retry_after_seconds(response.headers.get(name))
        if seconds is not None:
            return seconds
    return None


def _meta_int(meta: Mapping[str, Any], key: str, where: str) -> int:
    value = meta.get(key)
    try:
        if isinstance(value, bool) or value is None:
            raise ValueError
        number = float(value)
        if not number.is_integer():
            raise ValueError
        return int(number)
    except (TypeError, ValueError):
        raise UnexpectedPayload(f"ezyVet {where}: meta.{key} is missing or not a number") from None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: its items (unwrapped), how many pages the list has, and how many
    items it holds in all (None when the answer does not say)."""

    items: list[Mapping[str, Any]]
    page_count: int
    items_total: int | None = None


def parse_page(body: Any, resource: facts.Resource, page: int) -> Page:
    """One page of a list answer, its items unwrapped from ``{"<resource>": {...}}``."""
    where = f"{resource.name} page {page}"
    if not isinstance(body, Mapping):
        raise UnexpectedPayload(f"ezyVet {where}: body is not an object")
    meta = body.get("meta")
    items = body.get("items")
    if not isinstance(meta, Mapping) or not isinstance(items, list):
        raise UnexpectedPayload(f"ezyVet {where}: body lacks 'meta' or 'items'")
    page_count = _meta_int(meta, "items_page_total", where)
    if items or page_count:
        answered = _meta_int(meta, "items_page", where)
        if answered != page:
            raise UnexpectedPayload(f"ezyVet {where}: answered page {answered}")
    items_total = None if meta.get("items_total") is None else _meta_int(meta, "items_total", where)
    unwrapped: list[Mapping[str, Any]] = []
    for index, item in enumerate(items):
        inner = item.get(resource.key) if isinstance(item, Mapping) else None
        if not isinstance(inner, Mapping):
            raise UnexpectedPayload(
                f"ezyVet {where}: item #{index} is not {{{resource.key!r}: {{...}}}}"
            )
        unwrapped.append(inner)
    return Page(unwrapped, page_count, items_total)


def _incomplete(pages: Sequence[Page], items: Sequence[Mapping[str, Any]]) -> str:
    """Why the pages of one list do not add up to the whole list ("" when they do)."""
    if len({(page.page_count, page.items_total) for page in pages}) > 1:
        return "its pages disagree on its size (it changed while being read)"
    expected = pages[0].items_total
    if expected is not None and len(items) != expected:
        return f"{len(items)} items read of the {expected} it counts"
    ids = [item.get("id") for item in items]
    if None not in ids and len(set(map(str, ids))) != len(ids):
        return "an item came back on two pages"
    return ""
