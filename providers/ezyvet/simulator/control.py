"""ezyVet's own ``/_sim/*`` routes: revoke tokens, edit the records of each resource.

The knob, reset, stats and info routes are ``providers.simulation.control``.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from providers.ezyvet.simulator.faults import FaultError
from providers.ezyvet.simulator.state import STATE, SimulatorState
from providers.ezyvet.simulator.stats import merged
from providers.simulation import control
from providers.simulation.control import (
    error_response,
    json_object,
    json_response,
    scenario_info,
)


def add_routes(app: web.Application) -> None:
    control.add_routes(app, STATE, stats=_stats, info=_info)
    app.router.add_post("/_sim/tokens/revoke", revoke_tokens)
    app.router.add_get("/_sim/records/{resource}", list_records)
    app.router.add_post("/_sim/records/{resource}", upsert_record)
    app.router.add_delete("/_sim/records/{resource}/{id}", delete_record)


def _stats(state: SimulatorState) -> dict[str, Any]:
    return merged(state.stats.snapshot(), state.limits.peaks(), state.tokens.active())


def _info(state: SimulatorState) -> dict[str, Any]:
    # Landmarks name the records each edge case lives in, for tests in another process.
    return {**scenario_info(state.dataset), "landmarks": state.dataset.landmarks}


async def revoke_tokens(request: web.Request) -> web.StreamResponse:
    """Now, or (body ``{"after": N}``) once N more API calls have been served."""
    tokens = request.app[STATE].tokens
    if request.can_read_body:
        try:
            after = (await json_object(request)).get("after")
        except FaultError as exc:
            return error_response(str(exc))
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            return error_response("after must be an integer >= 0")
        tokens.revoke_after(after)
        return json_response({"revokeAfter": after})
    return json_response({"revoked": tokens.revoke_all()})


def _resource(request: web.Request) -> str:
    resource = request.match_info["resource"]
    if resource not in request.app[STATE].dataset.tables:
        raise web.HTTPNotFound(text=json.dumps({"error": f"unknown resource {resource!r}"}))
    return resource


async def list_records(request: web.Request) -> web.StreamResponse:
    return json_response(request.app[STATE].dataset.records(_resource(request)))


async def upsert_record(request: web.Request) -> web.StreamResponse:
    resource = _resource(request)
    try:
        key = request.app[STATE].dataset.upsert(resource, await json_object(request))
    except (FaultError, ValueError) as exc:
        return error_response(str(exc))
    return json_response({"id": key})


async def delete_record(request: web.Request) -> web.StreamResponse:
    resource = _resource(request)
    try:
        key = int(request.match_info["id"])
    except ValueError:
        return error_response("id must be a whole number")
    if not request.app[STATE].dataset.remove(resource, key):
        return error_response(f"no {resource} {key}", status=404)
    return web.Response(status=204)
