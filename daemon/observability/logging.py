"""Setting up the process's logging: stderr always, Axiom when a token is configured.

Everything hangs off the root logger, so the lines of libraries (aiohttp, sqlalchemy, alembic)
get the same format, context and masking as ours. Each handler carries the context filter, the
repeat filter (a fault in a loop logs a handful of lines, with counts) and then the redaction
filter: no handler formats, prints or ships a record that was not masked.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TextIO

from daemon.observability.axiom import AxiomHandler, AxiomSettings
from daemon.observability.context import current_context
from daemon.observability.formatters import JsonLineFormatter, TextFormatter
from daemon.observability.redaction import RedactionFilter

ROOT_LOGGER_NAME: Final = "pims_sync"
#: The areas of the code base, one logger each (``pims_sync.<area>``).
AREAS: Final = (
    "browser", "auth", "schedule", "case-sync", "reconciliation", "http", "scheduler",
    "actors", "store", "cli",
)  # fmt: skip
LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS: Final = ("json", "text")

_AREA = re.compile(r"[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*")
# Marks the handlers this module installed, so that a second configure replaces them.
_MARK: Final = "_pims_sync_observability"


class ContextFilter(logging.Filter):
    """Copies the log context (clinic, sync, provider, request) onto each record.

    Runs in the thread that logs, where the context variables are visible. Fields passed in
    ``extra`` win over the context.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current_context().items():
            if name not in record.__dict__:
                record.__dict__[name] = value
        return True


class RepeatFilter(logging.Filter):
    """Identical warnings and errors within ``window_s`` are logged once, then counted.

    A fault that repeats in a tight loop (``socket.accept() out of system resource`` at the
    open-file limit, a database that went away) must become a handful of lines, not hundreds
    of thousands: the first line passes, its repeats are counted, and the next one after the
    window passes carrying the field ``repeated`` (how many were held back). Lines below
    WARNING (the access log) and lines of different clinics, syncs or requests are never
    merged. Runs after the context filter, so those fields are on the record.
    """

    CONTEXT_FIELDS: Final = ("clinic_id", "sync_id", "request_id")

    def __init__(
        self,
        window_s: float = 10.0,
        max_keys: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.window_s = window_s
        self._clock = clock
        self.max_keys = max_keys
        self._lock = threading.Lock()
        # key → (when its last line passed, repeats held back since)
        self._seen: dict[tuple[object, ...], tuple[float, int]] = {}

    def _key(self, record: logging.LogRecord) -> tuple[object, ...]:
        error = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else None
        context = tuple(record.__dict__.get(name) for name in self.CONTEXT_FIELDS)
        return (record.name, record.levelno, record.getMessage(), error, *context)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = self._key(record)
        now = self._clock()
        with self._lock:
            passed_at, held = self._seen.get(key, (None, 0))
            if passed_at is not None and now - passed_at < self.window_s:
                self._seen[key] = (passed_at, held + 1)
                return False
            if len(self._seen) >= self.max_keys and key not in self._seen:
                self._forget_oldest()
            self._seen[key] = (now, 0)
        if held:  # a field of the line (both formats show it), the message stays comparable
            record.__dict__["repeated"] = held
        return True

    def _forget_oldest(self) -> None:
        oldest = min(self._seen, key=lambda k: self._seen[k][0])
        del self._seen[oldest]


def get_logger(area: str) -> logging.Logger:
    """``pims_sync.<area>``; the areas in use are listed in :data:`AREAS`."""
    if not _AREA.fullmatch(area):
        raise ValueError(f"logger area {area!r} must be lowercase words joined by '-' or '.'")
    return logging.getLogger(f"{ROOT_LOGGER_NAME}.{area}")


@dataclass
class LoggingHandle:
    """What :func:`configure_logging` installed; ``shutdown`` at the very end of the process."""

    stderr: logging.Handler
    axiom: AxiomHandler | None = None

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Flush stderr and ship what is queued within ``timeout_s``; stderr logging goes on.

        True when every event reached its destination. Safe to call more than once.
        """
        flushed = True
        if self.axiom is not None:
            flushed = self.axiom.shutdown(timeout_s)
            logging.getLogger().removeHandler(self.axiom)
        self.stderr.flush()
        return flushed


_current: LoggingHandle | None = None


def _install(handler: logging.Handler, level: int) -> logging.Handler:
    handler.setLevel(level)
    handler.addFilter(ContextFilter())
    handler.addFilter(RepeatFilter())
    handler.addFilter(RedactionFilter())
    setattr(handler, _MARK, True)
    logging.getLogger().addHandler(handler)
    return handler


def _stderr_reporter(handler: logging.Handler) -> Callable[[str], None]:
    """The shipper's complaints go straight to the stderr handler, never through a logger
    (whose handlers include the shipper itself)."""

    def report(message: str) -> None:
        record = logging.LogRecord(
            f"{ROOT_LOGGER_NAME}.observability", logging.WARNING, __file__, 0,
            "log shipping: %s", (message,), None,
        )  # fmt: skip
        handler.handle(record)

    return report


def configure_logging(
    level: str = "INFO",
    fmt: str = "json",
    axiom: AxiomSettings | None = None,
    stream: TextIO | None = None,
) -> LoggingHandle:
    """Route all logging to ``stream`` (default stderr) and, with settings, to Axiom.

    Calling it again replaces what an earlier call installed (its Axiom shipper is flushed
    and stopped first), so handlers never pile up.
    """
    global _current
    level_name = level.upper()
    if level_name not in LEVELS:
        raise ValueError(f"LOG_LEVEL must be one of {', '.join(LEVELS)}")
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}")
    numeric = logging.getLevelName(level_name)

    root = logging.getLogger()
    if _current is not None:
        _current.shutdown()
        _current = None
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
        if isinstance(old, AxiomHandler):
            old.shutdown()

    stderr = logging.StreamHandler(stream if stream is not None else sys.stderr)
    stderr.setFormatter(JsonLineFormatter() if fmt == "json" else TextFormatter())
    _install(stderr, numeric)
    shipper = None
    if axiom is not None:
        shipper = AxiomHandler(axiom, report=_stderr_reporter(stderr))
        _install(shipper, numeric)
    root.setLevel(numeric)
    logging.captureWarnings(True)
    _current = LoggingHandle(stderr=stderr, axiom=shipper)
    return _current
