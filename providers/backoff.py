"""How long to wait before trying again: one rule for every retry loop in the daemon.

Exponential backoff (``first_s · 2^(attempt − 1)``, capped at ``max_s``) with jitter, so that
many callers failing together do not come back together; and the server's own ``Retry-After``
(seconds, or an HTTP date) read the same way everywhere. The PIMS client, the log shipper, the
browser pool and the supervisor all wait through :class:`Backoff`.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

# 2^62 seconds is past any cap anyone would set; the exponent stops there instead of overflowing.
_MAX_EXPONENT = 62


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays for attempts 1, 2, 3, …: each at most twice the one before, never above ``max_s``.

    ``jitter`` is the share of each delay that is random: 0 waits exactly the exponential
    ceiling, 0.5 ("equal jitter") waits between half of it and all of it, 1 anywhere from 0.
    Jitter only ever shortens a delay, so ``max_s`` is a true bound.
    """

    first_s: float = 1.0
    max_s: float = 60.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not (self.first_s > 0 and math.isfinite(self.first_s)):
            raise ValueError("first_s must be a positive number of seconds")
        if not self.max_s >= self.first_s:
            raise ValueError("max_s must be at least first_s")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be within 0..1")

    def ceiling(self, attempt: int) -> float:
        """The delay before ``attempt`` (counted from 1) without jitter."""
        if attempt < 1:
            raise ValueError("attempt counts from 1")
        return min(self.max_s, self.first_s * 2.0 ** min(attempt - 1, _MAX_EXPONENT))

    def delay(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait before ``attempt``; never sooner than the server asked
        (``retry_after_s``) and never longer than ``max_s``."""
        ceiling = self.ceiling(attempt)
        wait = ceiling * (1.0 - self.jitter * random.random())
        if retry_after_s is not None:
            wait = max(wait, retry_after_s)
        return min(max(wait, 0.0), self.max_s)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """What a ``Retry-After`` header asks for, in seconds from ``now`` (epoch; default: the
    clock). Both forms of RFC 9110 are read: delay-seconds (``"120"``) and an HTTP date
    (``"Wed, 21 Oct 2026 07:28:00 GMT"``). A date in the past is 0; a value that is neither
    (or missing) is None, and the caller falls back on its own backoff."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000": an HTTP date is GMT whatever it says
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)
