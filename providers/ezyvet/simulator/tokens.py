"""Access tokens: issued by ``POST /v1/oauth/access_token``, checked on every API call.

Like ezyVet, requesting a new token revokes the previous one (the ``new_token_revokes_old``
knob turns that off); ``token_expire_after`` makes every token die after serving N calls, and
:meth:`TokenRegistry.revoke_after` revokes the live tokens once, mid-run.
"""

from __future__ import annotations

import secrets
import threading


class TokenRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uses: dict[str, int] = {}
        self._revoke_after: int | None = None

    def revoke_after(self, calls: int | None) -> None:
        """Revoke every live token once, after ``calls`` more API calls have been served."""
        with self._lock:
            self._revoke_after = calls

    def issue(self, *, revoke_others: bool) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            if revoke_others:
                self._uses.clear()
            self._uses[token] = 0
        return token

    def use(self, token: str | None, expire_after: int | None) -> bool:
        """Whether ``token`` is live, counting this call against it."""
        if not token:
            return False
        with self._lock:
            if self._revoke_after is not None:
                if self._revoke_after <= 0:
                    self._uses.clear()
                    self._revoke_after = None
                else:
                    self._revoke_after -= 1
            uses = self._uses.get(token)
            if uses is None:
                return False
            if expire_after is not None and uses >= expire_after:
                del self._uses[token]
                return False
            self._uses[token] = uses + 1
            return True

    def revoke_all(self) -> int:
        with self._lock:
            count = len(self._uses)
            self._uses.clear()
            return count

    def active(self) -> int:
        with self._lock:
            return len(self._uses)
