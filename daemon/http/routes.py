"""The route table: every path and method the server answers (contract §3).

The router itself gives the first two checks of §3.1: an unknown path or sync type is 404 and a
known path with the wrong method is 405, before any authentication (except a ``POST`` under
``/api/sync/`` that is not a trigger: 404, see :mod:`daemon.http.legacy`). ``HEAD`` is offered
on the probes only (uptime monitors send it).
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from daemon.http import openapi, probes, sse, status, triggers

TRIGGER_SEGMENTS: Final = tuple(triggers.ROUTE_TYPES)  # inbound, cases, reconciliation, reconcile
_TYPE: Final = "{type:" + "|".join(TRIGGER_SEGMENTS) + "}"


def add_routes(app: web.Application) -> None:
    # One resource per trigger (not /api/sync/{type}): the metric label then names the type,
    # and GET /api/sync/inbound is a 405 rather than a 404.
    app.router.add_routes(
        [
            web.post(f"/api/sync/{segment}", triggers.trigger_handler(segment))
            for segment in TRIGGER_SEGMENTS
        ]
    )
    app.router.add_post("/api/sync/full", triggers.full)  # the old service's, deprecated
    app.router.add_routes(
        [
            web.get(f"/api/sync/{_TYPE}/{{syncId}}", status.sync_status, allow_head=False),
            web.get(f"/api/sync/{_TYPE}/{{syncId}}/stream", sse.stream, allow_head=False),
            web.get("/api/schedules", status.schedules, allow_head=False),
            web.get("/health", probes.health),
            web.get("/ready", probes.ready),
            web.get("/metrics", probes.metrics_text),
            web.get("/openapi.json", openapi.openapi_json, allow_head=False),
        ]
    )
