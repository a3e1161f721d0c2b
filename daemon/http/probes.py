"""``/health``, ``/ready`` and ``/metrics`` (contract §3.5): no authentication.

``/health`` answers from the dispatcher's in-memory snapshot and this process's memory, so it
stays fast while every clinic actor is busy. ``/ready`` asks the dispatcher for its checks
(database, schema, scheduler, browser pool) on the executor, and is 503 while draining.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from daemon.http.dispatch import ReadinessCheck
from daemon.http.state import run_blocking, state_of
from daemon.observability import metrics
from daemon.observability.logging import get_logger

log = get_logger("http")
_PROC_STATUS = Path("/proc/self/status")


def rss_bytes() -> int:
    """Resident set size now (Linux), else the peak the kernel reports."""
    try:
        for line in _PROC_STATUS.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024  # reported in kB
    except (OSError, ValueError, IndexError):
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


async def health(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    snapshot = state.dispatcher.health()  # in-memory by contract: no executor hop needed
    fixed: dict[str, Any] = {
        "status": "ok",
        "version": state.version,
        "uptimeSeconds": round(time.monotonic() - state.started_monotonic, 3),
        "memory": {"rssBytes": rss_bytes(), "browserPssBytes": snapshot.browser_pss_bytes},
        "clinics": snapshot.clinics,
        "runningSyncs": snapshot.running_syncs,
        "scheduler": {"enabled": snapshot.scheduler_enabled, "jobs": snapshot.scheduler_jobs},
        # Contract §7: which process answered, also without leases (SQLite), where the lease
        # loop's facts (``replicaId``, ``clinicsHeld``) are absent.
        "replicaId": state.settings.replica_id,
    }
    # Extra facts of the daemon ride along but never replace a field of the contract.
    return web.json_response({**snapshot.extra, **fixed})


async def ready(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    try:
        checks = list(await run_blocking(request, state.dispatcher.readiness))
    except Exception as exc:
        log.warning("readiness checks failed to run", exc_info=True)
        reason = f"checks failed to run ({type(exc).__name__})"
        checks = [ReadinessCheck("readiness", False, reason)]
    if state.dispatcher.draining:
        checks.append(ReadinessCheck("draining", False, "shutting down; accepts no new syncs"))
    is_ready = bool(checks) and all(check.ok for check in checks)
    body = {"ready": is_ready, "checks": [check.as_json() for check in checks]}
    return web.json_response(body, status=200 if is_ready else 503)


async def metrics_text(request: web.Request) -> web.StreamResponse:
    body, content_type = await run_blocking(request, metrics.render_latest)
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response
