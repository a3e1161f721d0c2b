"""The clinic's ezyVet access token: cached, shared, renewed once.

Requesting a new token expires the previous one (``ezyvet.md`` §1), so a token is kept in the
clinic's session store (which encrypts it) and shared by every sync of the clinic; it is renewed
only when the API answers 401 or when it nears its 12-hour age — never once per sync. Requests
in flight that meet a 401 share one renewal (:meth:`TokenKeeper.renew` with the token that
failed: whoever comes second finds a newer token and uses it).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from providers.base import AuthenticationFailed, ProviderError, SessionStore
from providers.ezyvet import facts

log = logging.getLogger("pims_sync.auth")

STATE_VERSION = 1
#: How often a sync waiting for another sync's token request looks again.
ISSUE_POLL_S = 0.01

# One token request at a time per API client in this process: syncs of a clinic run in event
# loops of their own threads, and two of them asking at once would revoke each other's token.
_issue_locks: dict[str, threading.Lock] = {}
_issue_locks_guard = threading.Lock()


def _issue_lock(identity: str) -> threading.Lock:
    with _issue_locks_guard:
        return _issue_locks.setdefault(identity, threading.Lock())


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    issued_at: float  # Unix time
    #: Issued by this keeper (as opposed to read from the store).
    fresh: bool = False

    def __repr__(self) -> str:  # never the value
        return f"Token(issued_at={self.issued_at:.0f}, fresh={self.fresh})"


def identity_of(base_url: str, partner_id: str, client_id: str, site_uid: str | None) -> str:
    """Which API client a cached token belongs to; new credentials or another site make it void.
    A digest, so that the state holds no credential at all."""
    material = "\n".join((base_url.rstrip("/"), partner_id, client_id, site_uid or ""))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


class TokenKeeper:
    """Hands out the current token; used from one event loop (one provider instance)."""

    def __init__(
        self,
        store: SessionStore,
        identity: str,
        request_token: Callable[[], Awaitable[str]],
        *,
        max_age_s: float = facts.TOKEN_MAX_AGE_S,
        renew_margin_s: float = facts.TOKEN_RENEW_MARGIN_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._identity = identity
        self._request_token = request_token
        self._max_age_s = max_age_s
        self._renew_margin_s = renew_margin_s
        self._clock = clock
        self._token: Token | None = None
        self._lock = asyncio.Lock()
        self._error: ProviderError | None = None
        #: Tokens this keeper obtained from the token endpoint (tests and logs read it).
        self.issued = 0

    @property
    def current(self) -> Token | None:
        return self._token if self._token is not None and self._usable(self._token) else None

    async def token(self) -> Token:
        """The token to send: the one in hand, else the cached one, else a new one."""
        token = self.current
        if token is not None:
            return token
        async with self._lock:
            self._raise_remembered()
            token = self.current or self._load()
            if token is None:
                token = await self._issue_once(None, "no usable cached token")
            self._token = token
            return token

    async def renew(self, failed: Token) -> Token:
        """The API refused ``failed`` (401): a newer token, issuing one only if nobody has yet."""
        async with self._lock:
            self._raise_remembered()
            if self._token is not None and self._token.value != failed.value:
                return self._token  # another request renewed it meanwhile
            cached = self._load()
            if cached is not None and cached.value != failed.value:
                self._token = cached  # another sync of the clinic renewed it
                return cached
            log.info("ezyVet refused the token; requesting a new one")
            self._token = await self._issue_once(failed, "the API refused the token")
            return self._token

    def _raise_remembered(self) -> None:
        # A refused token request is remembered: asking again with the same secret in a loop
        # gets nobody anywhere (and may lock the API client).
        if self._error is not None:
            raise type(self._error)(str(self._error))

    def _usable(self, token: Token) -> bool:
        age = self._clock() - token.issued_at
        return -self._renew_margin_s <= age < self._max_age_s - self._renew_margin_s

    def _load(self) -> Token | None:
        text = self._store.load()
        if not text:
            return None
        try:
            state = json.loads(text)
            if (
                state.get("v") != STATE_VERSION
                or state.get("identity") != self._identity
                or not isinstance(state.get("token"), str)
                or not state["token"]
            ):
                raise ValueError("not ours")
            token = Token(state["token"], float(state["issued_at"]))
        except (ValueError, TypeError, AttributeError, KeyError):
            self._store.clear()  # unreadable, or another API client's: never sent
            return None
        return token if self._usable(token) else None

    async def _issue_once(self, failed: Token | None, why: str) -> Token:
        """Issue a token unless another sync of the process did while we waited our turn."""
        lock = _issue_lock(self._identity)
        # Polled rather than awaited in a thread: a cancelled sync must never leave it held.
        while not lock.acquire(blocking=False):
            await asyncio.sleep(ISSUE_POLL_S)
        try:
            cached = self._load()
            if cached is not None and (failed is None or cached.value != failed.value):
                return cached
            return await self._issue(why)
        finally:
            lock.release()

    async def _issue(self, why: str) -> Token:
        try:
            value = await self._request_token()
        except AuthenticationFailed as error:
            self._error = error
            self._store.clear()
            raise
        token = Token(value, self._clock(), fresh=True)
        self.issued += 1
        state: dict[str, object] = {
            "v": STATE_VERSION,
            "identity": self._identity,
            "token": value,
            "issued_at": token.issued_at,
        }
        expires = datetime.fromtimestamp(token.issued_at + self._max_age_s, UTC)
        self._store.save(json.dumps(state), expires)
        log.info("ezyVet token issued", extra={"reason": why})
        return token
