from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from daemon.observability import metrics
from daemon.observability.metrics import (
    REGISTRY,
    PrometheusRequestObserver,
    record_sync,
    render_latest,
)
from providers.base import RequestObserver

NAMES = {
    "pims_sync_syncs_total": "counter",
    "pims_sync_sync_duration_seconds": "histogram",
    "pims_sync_last_success_timestamp_seconds": "gauge",
    "pims_sync_items_total": "counter",
    "pims_sync_pims_requests_total": "counter",
    "pims_sync_pims_request_duration_seconds": "histogram",
    "pims_sync_browser_pool_size": "gauge",
    "pims_sync_browser_pool_in_use": "gauge",
    "pims_sync_browser_logins_total": "counter",
    "pims_sync_scheduled_runs_total": "counter",
    "pims_sync_actor_restarts_total": "counter",
    "pims_sync_http_requests_total": "counter",
    "pims_sync_log_events_dropped_total": "counter",
}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_every_metric_of_the_contract_is_rendered_with_its_exact_name_and_type() -> None:
    # Labelled metrics show up once they have a series; give each one.
    metrics.ITEMS_TOTAL.labels("cases", "created").inc(0)
    metrics.PIMS_REQUESTS_TOTAL.labels("idexx-neo", "calendar", "ok").inc(0)
    metrics.PIMS_REQUEST_DURATION_SECONDS.labels("idexx-neo", "calendar")
    metrics.LAST_SUCCESS_TIMESTAMP.labels("c-0", "inbound").set(0)
    metrics.BROWSER_LOGINS_TOTAL.labels("idexx-neo", "ok").inc(0)
    metrics.SCHEDULED_RUNS_TOTAL.labels("inbound", "skipped_overlap").inc(0)
    metrics.ACTOR_RESTARTS_TOTAL.labels("clinic").inc(0)
    metrics.HTTP_REQUESTS_TOTAL.labels("/health", "200").inc(0)
    metrics.SYNC_DURATION_SECONDS.labels("inbound")

    body, content_type = render_latest()
    assert content_type.startswith("text/plain")
    text = body.decode()
    for name, kind in NAMES.items():
        assert f"# TYPE {name} {kind}" in text, name
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert "process_resident_memory_bytes" in families  # the process collector is registered
    assert not any(name.endswith("_created") for name in families)
    # Failure series exist before the first failure, so increase() sees the first one.
    assert 'pims_sync_syncs_total{status="failed",type="reconciliation"} 0.0' in text


def test_the_observer_feeds_pims_and_login_metrics() -> None:
    observer: RequestObserver = PrometheusRequestObserver("idexx-neo")
    before = sample(
        "pims_sync_pims_requests_total",
        provider="idexx-neo",
        endpoint="consultations/{id}/page-data",
        outcome="ok",
    )
    observer.on_request("consultations/48213/page-data", "ok", 0.42)
    observer.on_request("consultations/77/page-data", "ok", 0.1)
    after = sample(
        "pims_sync_pims_requests_total",
        provider="idexx-neo",
        endpoint="consultations/{id}/page-data",
        outcome="ok",
    )
    assert after - before == 2  # ids folded: one series, not one per consultation
    assert (
        sample(
            "pims_sync_pims_request_duration_seconds_count",
            provider="idexx-neo",
            endpoint="consultations/{id}/page-data",
        )
        >= 2
    )

    labels = {"provider": "idexx-neo", "outcome": "auth_failed"}
    logins_before = sample("pims_sync_browser_logins_total", **labels)
    observer.on_login("auth_failed")
    assert sample("pims_sync_browser_logins_total", **labels) == logins_before + 1


def test_record_sync_counts_times_and_stamps_success() -> None:
    before = sample("pims_sync_syncs_total", type="cases", status="completed")
    started = time.time()
    record_sync("c-42", "cases", "completed", 12.5)
    assert sample("pims_sync_syncs_total", type="cases", status="completed") == before + 1
    assert sample("pims_sync_last_success_timestamp_seconds", clinic_id="c-42", type="cases") >= (
        started
    )
    assert sample("pims_sync_sync_duration_seconds_bucket", type="cases", le="30.0") >= 1

    record_sync("c-43", "cases", "failed", 3.0)
    labels = {"clinic_id": "c-43", "type": "cases"}
    assert REGISTRY.get_sample_value("pims_sync_last_success_timestamp_seconds", labels) is None
