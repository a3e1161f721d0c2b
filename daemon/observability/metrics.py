"""Every Prometheus metric of the daemon, in one registry served at ``GET /metrics``.

Base units (seconds), ``_total`` counters, and labels with a handful of values each: never a
sync id, an appointment id or a URL as a label value. Per-clinic data appears only in
``pims_sync_last_success_timestamp_seconds`` (clinics x 3 series), which the "no successful
sync for a day" alert needs.
"""

from __future__ import annotations

import re
import time
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

# The ``*_created`` series double every counter and nobody alerts on them.
disable_created_metrics()  # type: ignore[no-untyped-call]

#: Label values used by the sync engine (documented in docs/observability.md).
SYNC_TYPES: Final = ("inbound", "cases", "reconciliation")
SYNC_STATUSES: Final = ("completed", "partial", "failed", "interrupted")

REGISTRY: Final = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

SYNCS_TOTAL: Final = Counter(
    "pims_sync_syncs_total",
    "Syncs finished, by type and final status.",
    ["type", "status"],
    registry=REGISTRY,
)
SYNC_DURATION_SECONDS: Final = Histogram(
    "pims_sync_sync_duration_seconds",
    "Wall time of one sync from start to final status.",
    ["type"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900, 1200, 1800),
    registry=REGISTRY,
)
LAST_SUCCESS_TIMESTAMP: Final = Gauge(
    "pims_sync_last_success_timestamp_seconds",
    "Unix time of the clinic's last sync of this type that ended completed.",
    ["clinic_id", "type"],
    registry=REGISTRY,
)
ITEMS_TOTAL: Final = Counter(
    "pims_sync_items_total",
    "Items (appointments, cases, slots) handled by syncs, by outcome.",
    ["type", "outcome"],
    registry=REGISTRY,
)
PIMS_REQUESTS_TOTAL: Final = Counter(
    "pims_sync_pims_requests_total",
    "Requests made to a PIMS, by provider, endpoint name and outcome (bad_request: the PIMS "
    "refused the request with a 4xx, which is not a PIMS failure).",
    ["provider", "endpoint", "outcome"],
    registry=REGISTRY,
)
PIMS_REQUEST_DURATION_SECONDS: Final = Histogram(
    "pims_sync_pims_request_duration_seconds",
    "Duration of one PIMS request (one attempt).",
    ["provider", "endpoint"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60),
    registry=REGISTRY,
)
BROWSER_POOL_SIZE: Final = Gauge(
    "pims_sync_browser_pool_size",
    "Most Chromium processes the browser pool runs at once (BROWSER_POOL_SIZE).",
    registry=REGISTRY,
)
BROWSER_POOL_IN_USE: Final = Gauge(
    "pims_sync_browser_pool_in_use",
    "Browsers currently leased out of the pool.",
    registry=REGISTRY,
)
BROWSER_POOL_UP: Final = Gauge(
    "pims_sync_browser_pool_up",
    "0 while the browser pool cannot serve logins (driver or Chromium down, being restarted); "
    "1 otherwise, also when no clinic needs a browser.",
    registry=REGISTRY,
)
BROWSER_LOGINS_TOTAL: Final = Counter(
    "pims_sync_browser_logins_total",
    "PIMS logins, by provider and outcome.",
    ["provider", "outcome"],
    registry=REGISTRY,
)
SCHEDULED_RUNS_TOTAL: Final = Counter(
    "pims_sync_scheduled_runs_total",
    "Cron ticks, by sync type and what happened (started, skipped_overlap, ...).",
    ["type", "outcome"],
    registry=REGISTRY,
)
ACTOR_RESTARTS_TOTAL: Final = Counter(
    "pims_sync_actor_restarts_total",
    "Actors restarted by the supervisor after a failure, by actor kind.",
    ["actor"],
    registry=REGISTRY,
)
CLINICS_UNSERVED: Final = Gauge(
    "pims_sync_clinics_unserved",
    "Active clinics whose actor is down and waiting to be restarted (no cron, triggers 503).",
    registry=REGISTRY,
)
HTTP_REQUESTS_TOTAL: Final = Counter(
    "pims_sync_http_requests_total",
    "HTTP requests served, by route template and status code.",
    ["route", "status"],
    registry=REGISTRY,
)
LOG_EVENTS_DROPPED_TOTAL: Final = Counter(
    "pims_sync_log_events_dropped_total",
    "Log events that never reached Axiom (buffer full, rejected, or left at shutdown).",
    registry=REGISTRY,
)

# Series that alerts compare over time exist from the start, at 0: ``increase()`` over a
# series that appears with its first failure would miss that failure.
for _type in SYNC_TYPES:
    for _status in SYNC_STATUSES:
        SYNCS_TOTAL.labels(_type, _status)


LEASES_HELD: Final = Gauge(
    "pims_sync_leases_held",
    "Clinic leases this replica holds (several replicas on one PostgreSQL).",
    registry=REGISTRY,
)
LEASE_CHANGES_TOTAL: Final = Counter(
    "pims_sync_lease_changes_total",
    "Clinic lease changes seen by this replica: acquired, released, expired (taken over "
    "after its owner stopped renewing), lost (taken by another replica).",
    ["reason"],
    registry=REGISTRY,
)
REPLICAS_LIVE: Final = Gauge(
    "pims_sync_replicas_live",
    "Replicas with a recent heartbeat that are not draining, as this replica last saw.",
    registry=REGISTRY,
)


def record_sync(clinic_id: str, sync_type: str, status: str, seconds: float) -> None:
    """Count one finished sync, time it, and stamp the clinic's last success."""
    SYNCS_TOTAL.labels(sync_type, status).inc()
    SYNC_DURATION_SECONDS.labels(sync_type).observe(max(seconds, 0.0))
    if status == "completed":
        LAST_SUCCESS_TIMESTAMP.labels(str(clinic_id), sync_type).set(time.time())


def render_latest() -> tuple[bytes, str]:
    """The body and ``Content-Type`` of a ``GET /metrics`` answer."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


# Ids that slip into an endpoint name would make one series per appointment.
_ID_IN_NAME = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|\d+"
)


def endpoint_label(endpoint: str) -> str:
    """``consultations/123/page-data`` → ``consultations/{id}/page-data``."""
    return _ID_IN_NAME.sub("{id}", endpoint)[:80]


class PrometheusRequestObserver:
    """The ``providers.base.RequestObserver`` that feeds the PIMS and login metrics."""

    def __init__(self, provider: str) -> None:
        self.provider = provider

    def on_request(self, endpoint: str, outcome: str, seconds: float) -> None:
        name = endpoint_label(endpoint)
        PIMS_REQUESTS_TOTAL.labels(self.provider, name, outcome).inc()
        PIMS_REQUEST_DURATION_SECONDS.labels(self.provider, name).observe(max(seconds, 0.0))

    def on_login(self, outcome: str) -> None:
        BROWSER_LOGINS_TOTAL.labels(self.provider, outcome).inc()
