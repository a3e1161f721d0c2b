"""Old request shapes, still accepted (contract §7): ``Deprecation: true`` on the answer and a
log line once per API key and shape, so operators can find the callers still to migrate
without one line per request."""

from __future__ import annotations

import uuid
from typing import Final

from daemon.observability.logging import get_logger

HEADER: Final = "Deprecation"
#: Past this many (key, shape) pairs nothing more is remembered (nor logged): memory stays
#: bounded whatever the callers send.
MAX_REMEMBERED: Final = 10_000

log = get_logger("http")


class DeprecationLog:
    """Used from the server's event loop thread only."""

    def __init__(self) -> None:
        self._seen: set[tuple[uuid.UUID, str]] = set()

    def used(self, key_id: uuid.UUID, route: str, shapes: list[str], ignored: list[str]) -> None:
        for shape in [*shapes, *(f"{name} (ignored)" for name in ignored)]:
            mark = (key_id, f"{route}:{shape}")
            if mark in self._seen or len(self._seen) >= MAX_REMEMBERED:
                continue
            self._seen.add(mark)
            log.warning(
                "deprecated request shape %s on %s (logged once per API key and shape)",
                shape,
                route,
                extra={"key_id": str(key_id), "shape": shape, "route": route},
            )
