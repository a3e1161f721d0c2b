"""How one log record becomes one line: JSON for machines (stderr and Axiom), text for people."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from daemon.observability.context import CONTEXT_FIELDS, RECORD_ATTRS


def iso_utc(timestamp: float) -> str:
    """``2025-03-01T17:04:05.123456Z``: what Axiom reads as ``_time``."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def level_name(record: logging.LogRecord) -> str:
    return record.levelname.lower()


def extra_fields(record: logging.LogRecord) -> Iterator[tuple[str, Any]]:
    """The record's own fields: context fields first, then ``extra`` in the order given."""
    for name in CONTEXT_FIELDS:
        value = record.__dict__.get(name)
        if value is not None:
            yield name, value
    for key, value in record.__dict__.items():
        # Leading underscores are bookkeeping of our filters (and would shadow ``_time``).
        if key in RECORD_ATTRS or key in CONTEXT_FIELDS or key.startswith("_"):
            continue
        yield key, value


def exception_text(record: logging.LogRecord, formatter: logging.Formatter) -> str | None:
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    return record.exc_text or None


class JsonLineFormatter(JsonFormatter):
    """One JSON object per record: ``_time``, ``level``, ``logger``, ``message``, ``thread``,
    the context fields, the ``extra`` fields, then ``exception`` / ``stack`` when present."""

    def __init__(self) -> None:
        super().__init__(json_ensure_ascii=False)

    def add_fields(
        self,
        log_data: dict[str, Any],
        record: logging.LogRecord,
        message_dict: dict[str, Any],
    ) -> None:
        log_data["_time"] = iso_utc(record.created)
        log_data["level"] = level_name(record)
        log_data["logger"] = record.name
        log_data["message"] = record.message
        log_data["thread"] = record.threadName
        for key, value in extra_fields(record):
            log_data.setdefault(key, value)
        # A dict logged as the message contributes its keys as fields.
        for key, value in message_dict.items():
            if key not in ("exc_info", "stack_info"):
                log_data.setdefault(key, value)
        exc = message_dict.get("exc_info") or exception_text(record, self)
        if exc:
            log_data["exception"] = exc
        stack = message_dict.get("stack_info")
        if stack:
            log_data["stack"] = stack


class TextFormatter(logging.Formatter):
    """``2025-03-01T17:04:05.123Z INFO  pims_sync.http  message  clinic_id=… key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        stamp = iso_utc(record.created)[:-4] + "Z"  # milliseconds are enough for people
        fields = " ".join(f"{key}={value}" for key, value in extra_fields(record))
        line = f"{stamp} {record.levelname:<7} {record.name}  {message}"
        if fields:
            line = f"{line}  {fields}"
        exc = exception_text(record, self)
        if exc:
            line = f"{line}\n{exc}"
        if record.stack_info:
            line = f"{line}\n{self.formatStack(record.stack_info)}"
        return line
