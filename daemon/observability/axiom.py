"""Shipping log events to Axiom without ever making the caller wait.

``emit`` formats the record (already masked by the redaction filter) and drops the line into a
bounded queue; a daemon thread takes batches of up to ``batch_size`` lines, or whatever has
waited ``flush_interval_s``, and POSTs them gzipped. Failures (429, 5xx, no connection) put
the batch back at the head of the queue and wait a backoff (or what the server asked for);
other 4xx answers drop the batch. The queue keeps the newest ``buffer_size`` events.

The shipper never logs through ``logging`` (that would feed its own queue): it reports its
troubles through ``report``, at most once a minute per kind, plus one line on recovery.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from daemon.observability.buffer import DropOldestBuffer
from daemon.observability.formatters import JsonLineFormatter
from daemon.observability.ingest import IngestClient, IngestReply, encode_batch
from daemon.observability.metrics import LOG_EVENTS_DROPPED_TOTAL
from providers.backoff import Backoff

# A request never gets less than this: below it, the attempt is pointless.
_MIN_REQUEST_S = 0.05
_REPORT_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class AxiomSettings:
    """Where to ship. The token stays out of ``repr`` (settings objects end up in logs)."""

    token: str = field(repr=False)
    dataset: str = "pims-sync"
    url: str = "https://api.axiom.co"

    def __post_init__(self) -> None:
        if not self.token:
            raise ValueError("AXIOM_API_TOKEN must not be empty")
        if not self.dataset:
            raise ValueError("AXIOM_DATASET must not be empty")


def _print_to_stderr(message: str) -> None:
    print(f"pims-sync log shipping: {message}", file=sys.stderr, flush=True)


class _Reporter:
    """Rate-limits the shipper's complaints: a failing Axiom must not flood stderr."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self._last: dict[str, float] = {}
        self._failing = False

    def problem(self, kind: str, message: str) -> None:
        self._failing = True
        now = time.monotonic()
        if now - self._last.get(kind, float("-inf")) >= _REPORT_EVERY_S:
            self._last[kind] = now
            self._safe_write(message)

    def recovered(self) -> None:
        if self._failing:
            self._failing = False
            self._last.clear()
            self._safe_write("delivering again")

    def _safe_write(self, message: str) -> None:
        # A closed stderr must not kill the shipper.
        with contextlib.suppress(Exception):
            self._write(message)


class AxiomHandler(logging.Handler):
    """A ``logging.Handler`` whose ``emit`` only enqueues; a shipper thread does the I/O."""

    def __init__(
        self,
        settings: AxiomSettings,
        *,
        batch_size: int = 100,
        flush_interval_s: float = 1.0,
        buffer_size: int = 10_000,
        request_timeout_s: float = 10.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        max_server_wait_s: float = 60.0,
        report: Callable[[str], None] = _print_to_stderr,
    ) -> None:
        super().__init__()
        if not 1 <= batch_size <= 10_000:  # Axiom takes at most 10,000 events per request
            raise ValueError("batch_size must be within 1..10000")
        self.settings = settings
        self.setFormatter(JsonLineFormatter())
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._request_timeout_s = request_timeout_s
        self._backoff = Backoff(backoff_initial_s, backoff_max_s, jitter=0.5)
        self._client = IngestClient(
            settings.url, settings.dataset, settings.token, max_server_wait_s
        )
        self._reporter = _Reporter(report)
        self._buffer = DropOldestBuffer(buffer_size, self._count_drops)
        self._counts_lock = threading.Lock()
        self._dropped = 0
        self._delivered = 0
        self._left_behind = 0
        self._closing = threading.Event()
        self._deadline = float("inf")
        self._cut_off = False  # set when shutdown had to abort a request: no new attempts
        self._thread = threading.Thread(target=self._run, name="axiom-shipper", daemon=True)
        self._thread.start()

    # --- the caller's side ---------------------------------------------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        if self._closing.is_set():
            self._count_drops(1)  # nothing will ship it any more
            return
        self._buffer.put(line)

    def flush(self) -> None:
        """Ask for what is queued to be sent now; returns at once (never waits for I/O)."""
        self._buffer.hurry()

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Send what can be sent within ``timeout_s``, then stop. True when nothing was left.

        Returns within the bound even when Axiom accepts the connection and never answers:
        every request's timeout is cut to the time left, and the wait for the thread too.
        """
        if not self._closing.is_set():
            self._deadline = time.monotonic() + max(timeout_s, 0.0)
            self._closing.set()
            self._buffer.close()
        # A request sent before shutdown began may carry a longer timeout than the budget
        # left: shortly before the deadline, cut its socket so the thread ends and counts.
        margin = min(0.1, max(timeout_s, 0.0) / 10)
        self._thread.join(max(self._time_left() - margin, 0.0))
        if self._thread.is_alive():
            self._cut_off = True
            self._client.abort()
            self._thread.join(max(self._time_left(), 0.0))
        return not self._thread.is_alive() and len(self._buffer) == 0 and self._left_behind == 0

    def close(self, timeout_s: float = 5.0) -> None:
        """``logging.shutdown()`` calls this at exit: flush within the bound, then detach."""
        self.shutdown(timeout_s)
        super().close()

    @property
    def dropped(self) -> int:
        """Events that will never reach Axiom (also in ``pims_sync_log_events_dropped_total``)."""
        with self._counts_lock:
            return self._dropped

    @property
    def shipping(self) -> bool:
        """True while the shipper thread runs (until shutdown has finished)."""
        return self._thread.is_alive()

    @property
    def delivered(self) -> int:
        with self._counts_lock:
            return self._delivered

    # --- the shipper thread --------------------------------------------------------------------

    def _count_drops(self, count: int) -> None:
        with self._counts_lock:
            self._dropped += count
        LOG_EVENTS_DROPPED_TOTAL.inc(count)

    def _run(self) -> None:
        failures = 0
        while True:
            batch = self._buffer.take(self._batch_size, self._flush_interval_s)
            if not batch:
                break  # closed and empty
            if self._closing.is_set() and (self._cut_off or self._time_left() <= _MIN_REQUEST_S):
                self._give_up(batch)
                break
            try:
                wait = self._ship(batch)
            except Exception as exc:  # a bug here must not end shipping for good
                self._count_drops(len(batch))
                self._reporter.problem("internal", f"shipping failed ({exc!r}); batch dropped")
                continue
            if wait is None:
                failures = 0
                continue
            failures += 1
            self._buffer.put_back(batch)
            self._pause(wait if wait > 0 else self._backoff.delay(failures))
        self._client.close()

    def _ship(self, batch: list[str]) -> float | None:
        """One attempt. None when the batch is done with (sent, or rejected for good);
        otherwise how long the server asked us to wait (0 = choose a backoff)."""
        timeout = self._request_timeout_s
        if self._closing.is_set():
            timeout = min(timeout, self._time_left())
        try:
            reply = self._client.post(encode_batch(batch), timeout)
        except (OSError, http.client.HTTPException) as exc:
            self._reporter.problem("connection", f"no answer from Axiom ({exc!r}); will retry")
            return 0.0
        return self._judge(reply, len(batch))

    def _judge(self, reply: IngestReply, size: int) -> float | None:
        if reply.ok:
            with self._counts_lock:
                self._delivered += size - reply.failed_events
            if reply.failed_events:
                self._count_drops(reply.failed_events)
                self._reporter.problem(
                    "partial", f"Axiom refused {reply.failed_events} events: {reply.detail}"
                )
            else:
                self._reporter.recovered()
            return None
        if reply.retryable:
            self._reporter.problem("status", f"Axiom answered {reply.status}; will retry")
            return reply.retry_after_s or 0.0
        self._count_drops(size)
        self._reporter.problem(
            "rejected", f"Axiom answered {reply.status}, {size} events dropped: {reply.detail}"
        )
        return None

    def _pause(self, seconds: float) -> None:
        if not self._closing.is_set():
            # Shutdown cuts the wait short: the remaining budget goes to a last attempt.
            self._closing.wait(seconds)
            return
        if not self._cut_off:
            time.sleep(max(min(seconds, self._time_left() - _MIN_REQUEST_S), 0.0))

    def _time_left(self) -> float:
        return self._deadline - time.monotonic()

    def _give_up(self, batch: list[str]) -> None:
        left = len(batch) + self._buffer.discard_all()
        self._count_drops(len(batch))
        self._left_behind = left
        self._reporter.problem("shutdown", f"shutdown budget spent, {left} events not shipped")
