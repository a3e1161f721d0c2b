"""In-memory login sessions and half-finished logins (second factor, branch picker)."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass


@dataclass
class _Session:
    json_requests: int = 0


class SessionStore:
    """Random opaque tokens; knows nothing of HTTP. Safe to call from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._tickets: dict[str, str] = {}  # ticket -> the step it unlocks

    def create(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[token] = _Session()
        return token

    def use(
        self, token: str | None, *, expire_after: int | None, json_request: bool
    ) -> bool | None:
        """Whether ``token`` names a live session, counting a JSON request against it.

        Returns True when alive, False when it does not exist, and None when it just died
        because it had already served ``expire_after`` JSON requests (the caller counts those).
        """
        if not token:
            return False
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return False
            if expire_after is not None and session.json_requests >= expire_after:
                del self._sessions[token]
                return None
            if json_request:
                session.json_requests += 1
            return True

    def drop(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(token, None)

    def active(self) -> int:
        with self._lock:
            return len(self._sessions)

    def create_ticket(self, step: str) -> str:
        ticket = secrets.token_urlsafe(24)
        with self._lock:
            self._tickets[ticket] = step
        return ticket

    def redeem_ticket(self, ticket: str | None, step: str) -> bool:
        """Consume a ticket issued for ``step``; a ticket works once."""
        if not ticket:
            return False
        with self._lock:
            if self._tickets.get(ticket) != step:
                return False
            del self._tickets[ticket]
            return True
