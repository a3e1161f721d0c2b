"""Repeated identical warnings and errors become a handful of lines with a count."""

from __future__ import annotations

import io
import json
import logging

from daemon.observability.logging import RepeatFilter, configure_logging


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(message: str, level: int = logging.ERROR, **extra: object) -> logging.LogRecord:
    item = logging.LogRecord("asyncio", level, __file__, 1, message, (), None)
    item.__dict__.update(extra)
    return item


def test_repeats_within_the_window_are_held_back_and_counted() -> None:
    clock = Clock()
    repeats = RepeatFilter(window_s=10.0, clock=clock)
    message = "socket.accept() out of system resource"
    passed = [repeats.filter(record(message)) for _ in range(250_000)]
    assert passed.count(True) == 1
    clock.now += 10.0
    after = record(message)
    assert repeats.filter(after)
    assert after.__dict__["repeated"] == 249_999


def test_other_messages_clinics_and_the_access_log_are_never_merged() -> None:
    repeats = RepeatFilter(clock=Clock())
    assert repeats.filter(record("sync failed", clinic_id="a"))
    assert repeats.filter(record("sync failed", clinic_id="b"))
    assert not repeats.filter(record("sync failed", clinic_id="a"))
    assert repeats.filter(record("another failure"))
    for _ in range(3):  # below WARNING: every line passes
        assert repeats.filter(record("GET /health -> 200", level=logging.INFO))


def test_the_process_logging_holds_a_flood_to_a_handful_of_lines() -> None:
    stream = io.StringIO()
    handle = configure_logging("INFO", "json", stream=stream)
    try:
        log = logging.getLogger("asyncio")
        error = OSError(24, "Too many open files")
        for _ in range(20_000):
            log.error("socket.accept() out of system resource", exc_info=error)
    finally:
        handle.shutdown()
        configure_logging("INFO", "json")
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    flood = [line for line in lines if "out of system resource" in line["message"]]
    assert 1 <= len(flood) <= 5
