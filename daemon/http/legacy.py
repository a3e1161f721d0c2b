"""Routes of the old service that no longer exist (contract §7).

Any ``POST`` under ``/api/sync/`` that is not a trigger route is a 404 (before the router's 405,
which would wrongly suggest another method might work), and where the old service had the
route, the message names the one that replaced it.
"""

from __future__ import annotations

from typing import Final

from daemon.http.errors import ApiError

PREFIX: Final = "/api/sync/"

#: The old service's trigger routes → the route that does that job now.
REPLACED: Final[dict[str, str]] = {
    "/api/sync/outbound/cases": "/api/sync/cases",
    "/api/sync/outbound/enrich": "/api/sync/cases",
    "/api/sync/outbound/full": "/api/sync/full",
    "/api/sync/inbound/appointments": "/api/sync/inbound",
    "/api/sync/inbound/schedule": "/api/sync/inbound",
}


def applies(method: str, path: str) -> bool:
    return method == "POST" and path.startswith(PREFIX)


def not_a_trigger(path: str) -> ApiError:
    new = REPLACED.get(path.rstrip("/") or path)
    if new is None:
        return ApiError(
            404,
            "no such trigger route (triggers: /api/sync/inbound, /api/sync/cases, "
            "/api/sync/reconciliation)",
        )
    return ApiError(404, f"{path} no longer exists: use POST {new}", extra={"newRoute": new})
