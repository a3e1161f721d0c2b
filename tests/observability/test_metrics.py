from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

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
    "pims_sync_browser_pool_up": "gauge",
    "pims_sync_browser_logins_total": "counter",
    "pims_sync_scheduled_runs_total": "counter",
    "pims_sync_actor_restarts_total": "counter",
    "pims_sync_clinics_unserved": "gauge",
    "pims_sync_http_requests_total": "counter",
    "pims_sync_log_events_dropped_total": "counter",
    "pims_sync_leases_held": "gauge",
    "pims_sync_lease_changes_total": "counter",
    "pims_sync_replicas_live": "gauge",
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
    # Every type x status series is rendered, whatever ran before in this process (their
    # values at start-up are checked in a fresh process below).
    syncs = {
        (s.labels["type"], s.labels["status"])
        for s in families["pims_sync_syncs"].samples
        if s.name == "pims_sync_syncs_total"
    }
    assert syncs == {(t, st) for t in metrics.SYNC_TYPES for st in metrics.SYNC_STATUSES}


def test_failure_series_exist_at_zero_from_start_up() -> None:
    """So that ``increase()`` sees the first failure. In a fresh process: this one may have
    run syncs that failed."""
    probe = """
import json
from prometheus_client.parser import text_string_to_metric_families
from daemon.observability.metrics import render_latest
text = render_latest()[0].decode()
family = next(f for f in text_string_to_metric_families(text) if f.name == "pims_sync_syncs")
print(json.dumps({f"{s.labels['type']}/{s.labels['status']}": s.value for s in family.samples
                  if s.name == "pims_sync_syncs_total"}))
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    values = json.loads(done.stdout)
    expected = {f"{t}/{st}" for t in metrics.SYNC_TYPES for st in metrics.SYNC_STATUSES}
    assert set(values) == expected and len(expected) == 12
    assert set(values.values()) == {0.0}


def test_every_metric_defined_is_documented_and_tested() -> None:
    """Each ``pims_sync_*`` metric in the registry has a row in docs/observability.md's table
    (with its type) and an entry in ``NAMES`` above."""
    defined = {}
    for family in REGISTRY.collect():
        if family.name.startswith("pims_sync_"):
            name = family.name + ("_total" if family.type == "counter" else "")
            defined[name] = family.type
    doc = (Path(__file__).resolve().parents[2] / "docs/observability.md").read_text()
    rows = dict(re.findall(r"^\| `(pims_sync_[a-z_]+)` \| ([a-z]+) \|", doc, re.MULTILINE))
    assert rows == defined
    assert defined == NAMES


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
