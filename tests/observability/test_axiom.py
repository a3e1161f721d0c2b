from __future__ import annotations

import gzip
import logging
import re
import socket
import threading
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest

from daemon.observability import AxiomSettings, log_context
from daemon.observability.axiom import AxiomHandler
from daemon.observability.context import bind_context
from daemon.observability.ingest import parse_retry_after
from daemon.observability.logging import ContextFilter
from daemon.observability.metrics import REGISTRY
from daemon.observability.redaction import RedactionFilter
from tests.observability.fake_axiom import FakeAxiom
from tests.observability.polling import wait_until

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
# Fast knobs, so that retries and lingering take milliseconds in tests.
FAST: dict[str, Any] = {
    "flush_interval_s": 0.05,
    "backoff_initial_s": 0.01,
    "backoff_max_s": 0.05,
    "request_timeout_s": 5.0,
}


class RecordingHandler(AxiomHandler):
    """Remembers every pause the shipper asked for, and keeps it short."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.pauses: list[float] = []
        super().__init__(*args, **kwargs)

    def _pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        super()._pause(min(seconds, 0.01))


@pytest.fixture
def shippers() -> Iterator[list[AxiomHandler]]:
    made: list[AxiomHandler] = []
    yield made
    for handler in made:
        handler.shutdown(timeout_s=1.0)


def attach(handler: AxiomHandler, shippers: list[AxiomHandler], name: str) -> logging.Logger:
    """A private logger feeding only ``handler``, with the same filters as in production."""
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactionFilter())
    shippers.append(handler)
    logger = logging.getLogger(f"test.axiom.{name}")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger


def dropped_metric() -> float:
    return REGISTRY.get_sample_value("pims_sync_log_events_dropped_total") or 0.0


def test_250_events_arrive_in_order_in_gzipped_batches_of_at_most_100(
    fake_axiom: FakeAxiom, fake_axiom_settings: AxiomSettings, shippers: list[AxiomHandler]
) -> None:
    log = attach(AxiomHandler(fake_axiom_settings, **FAST), shippers, "batching")
    with log_context(clinic_id="c-1", sync_id="s-1", sync_type="inbound"):
        for i in range(250):
            log.info("event %d", i)

    wait_until(lambda: len(fake_axiom.events) >= 250, "250 events at the fake Axiom")
    batches = fake_axiom.batches
    assert max(len(batch.events) for batch in batches) <= 100
    assert len(batches) >= 3
    assert [event["message"] for event in fake_axiom.events] == [f"event {i}" for i in range(250)]
    for batch in batches:
        attempt = batch.attempt
        assert attempt.path == "/v1/datasets/pims-sync-test/ingest"
        assert attempt.headers["Authorization"] == f"Bearer {fake_axiom.token}"
        assert attempt.headers["Content-Encoding"] == "gzip"
        assert attempt.body[:2] == b"\x1f\x8b"  # gzip on the wire, not plain JSON
        assert gzip.decompress(attempt.body).decode() == batch.decoded
    for event in fake_axiom.events:
        assert TIME.match(event["_time"])
        assert event["level"] == "info"
        assert event["logger"] == "test.axiom.batching"
        assert (event["clinic_id"], event["sync_id"], event["sync_type"]) == (
            "c-1",
            "s-1",
            "inbound",
        )


def test_context_of_a_worker_thread_is_shipped(
    fake_axiom: FakeAxiom, fake_axiom_settings: AxiomSettings, shippers: list[AxiomHandler]
) -> None:
    log = attach(AxiomHandler(fake_axiom_settings, **FAST), shippers, "threads")
    with log_context(clinic_id="c-2", request_id="req-1"):
        worker = threading.Thread(target=bind_context(log.warning), args=("from a worker",))
    worker.start()
    worker.join(timeout=10)
    (event,) = wait_until(lambda: fake_axiom.events, "the worker's event")
    assert event["clinic_id"] == "c-2"
    assert event["request_id"] == "req-1"
    assert event["level"] == "warning"


def test_429_and_503_are_retried_then_delivered(
    fake_axiom: FakeAxiom, fake_axiom_settings: AxiomSettings, shippers: list[AxiomHandler]
) -> None:
    fake_axiom.answer_next(429, {"Retry-After": "2"})
    fake_axiom.answer_next(503)
    fake_axiom.answer_next(429, {"X-RateLimit-Reset": "5", "X-RateLimit-Remaining": "0"})
    # One batch of exactly 5, so that every attempt carries the same events.
    handler = RecordingHandler(
        fake_axiom_settings, **{**FAST, "flush_interval_s": 3600}, batch_size=5
    )
    log = attach(handler, shippers, "retry")
    for i in range(5):
        log.info("retry me %d", i)

    wait_until(lambda: len(fake_axiom.events) >= 5, "delivery after the retries")
    assert [event["message"] for event in fake_axiom.events] == [f"retry me {i}" for i in range(5)]
    assert len(fake_axiom.attempts) == 4  # 429, 503, 429, then 200
    # The first and third pauses are what the server asked for; the second is a backoff.
    assert handler.pauses[0] == 2.0
    assert 0 < handler.pauses[1] <= FAST["backoff_max_s"]
    assert handler.pauses[2] == 5.0
    assert handler.dropped == 0


def test_a_connection_refused_is_retried_until_the_server_is_there(
    fake_axiom_settings: AxiomSettings, shippers: list[AxiomHandler]
) -> None:
    # A port where nothing listens: one the system handed out and took back.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    settings = AxiomSettings(fake_axiom_settings.token, url=f"http://127.0.0.1:{dead_port}")
    handler = RecordingHandler(settings, **FAST)
    attach(handler, shippers, "refused").info("nobody listens")
    wait_until(lambda: len(handler.pauses) >= 3, "three retries")
    assert handler.delivered == 0
    assert handler.dropped == 0  # still queued, waiting for Axiom


def test_rejected_batches_are_dropped_and_counted(
    fake_axiom: FakeAxiom, fake_axiom_settings: AxiomSettings, shippers: list[AxiomHandler]
) -> None:
    before = dropped_metric()
    bad = AxiomSettings("wrong-token", dataset="pims-sync-test", url=fake_axiom.url)
    handler = AxiomHandler(bad, **{**FAST, "flush_interval_s": 3600}, batch_size=3)
    log = attach(handler, shippers, "rejected")
    for i in range(3):
        log.info("unauthorised %d", i)
    wait_until(lambda: handler.dropped == 3, "three dropped events")
    assert dropped_metric() - before == 3
    assert len(fake_axiom.attempts) == 1  # a 401 is not retried
    assert fake_axiom.events == []


def test_when_axiom_is_down_the_oldest_events_are_dropped_and_counted(
    fake_axiom: FakeAxiom, fake_axiom_settings: AxiomSettings, shippers: list[AxiomHandler]
) -> None:
    fake_axiom.mode = "down"
    before = dropped_metric()
    handler = AxiomHandler(fake_axiom_settings, buffer_size=10, **FAST)
    log = attach(handler, shippers, "outage")
    for i in range(50):
        log.error("outage %d", i)

    wait_until(lambda: handler.dropped == 40, "40 dropped events")
    assert dropped_metric() - before == 40
    fake_axiom.mode = "ok"
    wait_until(lambda: len(fake_axiom.events) >= 10, "the surviving events")
    assert [event["message"] for event in fake_axiom.events] == [
        f"outage {i}" for i in range(40, 50)
    ]
    assert handler.dropped == 40


def test_shutdown_flushes_what_is_queued(
    fake_axiom: FakeAxiom, fake_axiom_settings: AxiomSettings, shippers: list[AxiomHandler]
) -> None:
    # A linger of an hour: only the shutdown can have sent these.
    handler = AxiomHandler(fake_axiom_settings, flush_interval_s=3600)
    log = attach(handler, shippers, "flush")
    for i in range(30):
        log.info("last words %d", i)
    assert handler.shutdown(timeout_s=5.0) is True
    assert len(fake_axiom.events) == 30
    assert not handler.shipping
    before = handler.dropped
    log.info("after shutdown")
    assert handler.dropped == before + 1  # refused, and counted


@pytest.mark.timeout(20)
def test_shutdown_returns_within_its_bound_while_axiom_hangs(
    fake_axiom: FakeAxiom, fake_axiom_settings: AxiomSettings, shippers: list[AxiomHandler]
) -> None:
    fake_axiom.mode = "hang"
    # The request timeout is far longer than the shutdown budget.
    handler = AxiomHandler(fake_axiom_settings, flush_interval_s=0.05, request_timeout_s=60)
    log = attach(handler, shippers, "hang")
    for i in range(5):
        log.info("stuck %d", i)
    wait_until(lambda: fake_axiom.attempts, "a request that hangs")

    assert handler.shutdown(timeout_s=1.0) is False
    assert not handler.shipping  # the shipper did not stay behind, blocked on the socket
    assert handler.dropped == 5
    assert fake_axiom.events == []


def test_retry_after_headers_are_read() -> None:
    def headers(**values: str) -> Any:
        message = Message()
        for key, value in values.items():
            message[key.replace("_", "-")] = value
        return message

    now = 1_750_000_000.0
    assert parse_retry_after(headers(Retry_After="3"), now, 60) == 3.0
    assert parse_retry_after(headers(Retry_After="Sun, 15 Jun 2025 15:07:00 GMT"), now, 60) == 20.0
    assert parse_retry_after(headers(X_RateLimit_Reset=str(int(now) + 7)), now, 60) == 7.0
    assert parse_retry_after(headers(X_RateLimit_Reset=str(int(now) + 900)), now, 60) == 60.0
    assert parse_retry_after(headers(X_RateLimit_Reset=str(int(now) - 5)), now, 60) == 0.0
    assert parse_retry_after(headers(), now, 60) is None


def test_settings_hide_the_token() -> None:
    settings = AxiomSettings("xaat-very-secret-token")
    assert "xaat-very-secret-token" not in repr(settings)
    assert "pims-sync" in repr(settings)
    with pytest.raises(ValueError, match="AXIOM_API_TOKEN"):
        AxiomSettings("")
