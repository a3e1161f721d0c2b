"""The JSON side of IDEXX Neo: plain HTTP with the cookies a browser login exported.

No browser is involved here. The client sends the headers Neo's own pages send, bounds how many
requests run at once, retries what is worth retrying, and tells the caller — with
:class:`SessionExpired` — when Neo no longer accepts the session. Logging in again is the
provider's business, not the client's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
import yarl

from providers.backoff import retry_after_seconds
from providers.base import (
    BadRequest,
    NotFound,
    NullObserver,
    PimsUnavailable,
    ProviderError,
    RateLimited,
    RequestObserver,
    SessionLost,
    UnexpectedPayload,
)
from providers.transport import LazySession, Transient, observed, wire_failures, with_retries

# Re-exported: callers build this client's settings from this module.
from providers.transport import RetryPolicy as RetryPolicy

log = logging.getLogger("pims_sync.pims")

# Neo's pages are only tested by IDEXX against desktop browsers; look like one.
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)

_RETRYABLE_STATUS = frozenset(range(500, 600))
_EXPIRED_STATUS = frozenset({401, 403})

#: This many requests in a row that gave up after all their retries (5xx, 429, timeouts, broken
#: connections) mean Neo is down: the client sends nothing more, and every later request fails
#: at once as the last one did. Without it, 150 consultations of a sync hit by an outage would
#: each be asked for 1 + retries times. A client lives for one sync, so the next sync asks again;
#: any answer that is not such a failure (a success, a 404, …) starts the count over, so a few
#: broken records among working ones never stop the rest.
OUTAGE_AFTER = 3


class SessionExpired(SessionLost):
    """Neo answered as if logged out (redirect to the login page, 401/403, or HTML).

    Raised to the provider, which logs in once and retries; it only escapes as
    :class:`SessionLost` when that did not help.
    """


class RequestRejected(BadRequest):
    """A 4xx other than 401/403 (session expired), 404 and 429: asking again would get the
    same answer, and it is no outage (``pims_bad_request``, never retried)."""


@dataclass(frozen=True, slots=True)
class ClientSettings:
    connect_timeout_s: float = 10.0
    total_timeout_s: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True, slots=True)
class _Cookie:
    name: str
    value: str
    domain: str
    path: str
    expires: float


class NeoJsonClient:
    """GET JSON endpoints of one Neo site with a set of session cookies.

    Use from one event loop; the aiohttp session is created on first use and closed by
    :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        max_concurrency: int = 5,
        settings: ClientSettings | None = None,
        observer: RequestObserver | None = None,
        on_cookies_refreshed: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._host = (urlsplit(self.base_url).hostname or "").lower()
        self._settings = settings or ClientSettings()
        self._observer = observer or NullObserver()
        self._on_cookies_refreshed = on_cookies_refreshed
        self._semaphore = asyncio.Semaphore(max(1, max_concurrency))
        # Cookies are sent by hand (see _cookie_header): aiohttp's jar refuses cookies for IP
        # hosts and would also keep whatever a login page sets.
        self._http = LazySession(self._settings.connect_timeout_s, self._settings.total_timeout_s)
        self._cookies: list[dict[str, Any]] = []
        self._gave_up_in_row = 0
        self._down: PimsUnavailable | None = None  # the failure that made us stop asking

    # -- cookies --------------------------------------------------------------------------

    def set_cookies(self, cookies: list[dict[str, Any]]) -> None:
        """Playwright-style cookie dicts: ``name``, ``value``, ``domain``, ``path``, ``expires``."""
        self._cookies = [dict(c) for c in cookies]

    def cookies(self) -> list[dict[str, Any]]:
        return [dict(c) for c in self._cookies]

    def _cookie_header(self, path: str) -> str:
        now = time.time()
        pairs: list[str] = []
        for raw in self._cookies:
            cookie = _as_cookie(raw)
            if cookie is None or (0 < cookie.expires < now):
                continue
            domain = cookie.domain.lstrip(".").lower()
            if domain and domain != self._host and not self._host.endswith("." + domain):
                continue
            if not path.startswith(cookie.path or "/"):
                continue
            pairs.append(f"{cookie.name}={cookie.value}")
        return "; ".join(pairs)

    def _absorb_set_cookie(self, response: aiohttp.ClientResponse) -> None:
        """Keep a session the server rotates: update values of cookies we already hold."""
        headers = response.headers.getall("Set-Cookie", [])
        if not headers:
            return
        jar: SimpleCookie = SimpleCookie()
        for header in headers:
            try:
                jar.load(header)
            except Exception:  # a malformed Set-Cookie is the server's problem, not ours
                continue
        changed = False
        for cookie in self._cookies:
            morsel = jar.get(str(cookie.get("name")))
            if morsel is None or not morsel.value or morsel.value == cookie.get("value"):
                continue
            if morsel["max-age"] in ("0", 0):
                continue  # a deletion: the next request will tell us the session is gone
            cookie["value"] = morsel.value
            changed = True
        if changed and self._on_cookies_refreshed is not None:
            self._on_cookies_refreshed(self.cookies())

    async def close(self) -> None:
        await self._http.close()

    # -- requests ---------------------------------------------------------------------------

    async def get_json(
        self, endpoint: str, path: str, params: Mapping[str, str] | None = None
    ) -> Any:
        """GET ``path`` and decode its JSON, retrying transient failures.

        Raises :class:`SessionExpired`, :class:`NotFound`, :class:`RequestRejected` (a
        :class:`BadRequest`), :class:`UnexpectedPayload`, or :class:`PimsUnavailable` once the
        retries ran out (:class:`RateLimited` when the last failure was a 429) or while Neo is
        taken to be down (see :data:`OUTAGE_AFTER`).
        """
        query = urlencode(params or {}, quote_via=quote)
        url = yarl.URL(f"{self.base_url}{path}{'?' + query if query else ''}", encoded=True)
        last_failure = ""

        async def attempt() -> Any:
            nonlocal last_failure
            try:
                return await self._attempt(endpoint, url, path)
            except Transient as failure:
                last_failure = failure.outcome
                raise

        try:
            body = await with_retries("IDEXX Neo", endpoint, self._settings.retry, attempt)
        except PimsUnavailable as error:
            if self._down is not None:
                raise  # refused without asking, or given up while Neo was found down
            if last_failure == "rate_limited":
                # Contract §7: a rate limit that could not be waited out has its own code.
                error = RateLimited(str(error))
            self._gave_up(endpoint, error)
            raise error from None
        except ProviderError:
            self._gave_up_in_row = 0  # Neo answered, if not as hoped
            raise
        self._gave_up_in_row = 0
        return body

    def _gave_up(self, endpoint: str, error: PimsUnavailable) -> None:
        self._gave_up_in_row += 1
        if self._gave_up_in_row >= OUTAGE_AFTER:
            self._down = error
            log.warning(
                "IDEXX Neo looks down; no more requests to it until the next sync",
                extra={"endpoint": endpoint, "failed_in_row": self._gave_up_in_row},
            )

    def _refuse_if_down(self, endpoint: str) -> None:
        if self._down is not None:
            raise type(self._down)(
                f"IDEXX Neo {endpoint} not asked: {self._gave_up_in_row} requests in a row "
                f"failed after all their retries ({self._down})"
            )

    async def _attempt(self, endpoint: str, url: yarl.URL, path: str) -> Any:
        headers = {
            "Accept": "application/json",
            "X-Requested-With": "XMLHttpRequest",
            "User-Agent": USER_AGENT,
        }
        # Held for one attempt only, never across a backoff sleep: a waiting retry must not
        # keep another request of the same clinic from running.
        async with self._semaphore:
            # Checked for every attempt, retries included: a request that was waiting for its
            # next try when Neo was found down does not send it.
            self._refuse_if_down(endpoint)
            # Read the cookies only now: a re-login may have replaced them while we queued.
            cookie_header = self._cookie_header(path)
            if cookie_header:
                headers["Cookie"] = cookie_header
            return await observed(self._observer, endpoint, self._exchange(endpoint, url, headers))

    async def _exchange(self, endpoint: str, url: yarl.URL, headers: dict[str, str]) -> Any:
        with wire_failures():
            async with self._http.session().get(
                url, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
                self._absorb_set_cookie(response)
                if 300 <= status < 400:
                    # A JSON endpoint only redirects a logged-out caller (to /login): never
                    # follow it, the login page would arrive as a 200 of HTML.
                    raise SessionExpired(f"IDEXX Neo {endpoint} redirected (HTTP {status})")
                if status in _EXPIRED_STATUS:
                    raise SessionExpired(f"IDEXX Neo {endpoint} refused the session ({status})")
                if status == 404:
                    raise NotFound(f"IDEXX Neo {endpoint}: not found (HTTP 404)")
                if status == 429:
                    raise Transient("rate_limited", "HTTP 429", _retry_after(response))
                if status in _RETRYABLE_STATUS:
                    raise Transient("server_error", f"HTTP {status}", _retry_after(response))
                if status >= 400:
                    raise RequestRejected(f"IDEXX Neo {endpoint} rejected the request ({status})")
                raw = await response.read()
                content_type = response.headers.get("Content-Type", "").lower()
        return _decode(endpoint, raw, content_type)


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    return retry_after_seconds(response.headers.get("Retry-After"))


def _looks_like_html(raw: bytes, content_type: str) -> bool:
    return "html" in content_type or raw.lstrip()[:1] == b"<"


def _decode(endpoint: str, raw: bytes, content_type: str) -> Any:
    if _looks_like_html(raw, content_type):
        # The login page served where JSON belongs: the session is gone.
        raise SessionExpired(f"IDEXX Neo {endpoint} answered with HTML instead of JSON")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UnexpectedPayload(f"IDEXX Neo {endpoint} answered with unreadable JSON") from None


def _as_cookie(raw: Mapping[str, Any]) -> _Cookie | None:
    name, value = raw.get("name"), raw.get("value")
    if not isinstance(name, str) or not isinstance(value, str) or not name:
        return None
    expires = raw.get("expires")
    return _Cookie(
        name=name,
        value=value,
        domain=str(raw.get("domain") or ""),
        path=str(raw.get("path") or "/"),
        expires=float(expires) if isinstance(expires, int | float) else -1.0,
    )


def consultation_path(consultation_id: str) -> str:
    return f"/consultations/{quote(consultation_id, safe='')}/page-data"
