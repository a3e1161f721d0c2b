"""``/_sim/*``: drive the simulator over HTTP (for a daemon under test in another process).

No authentication: this is a test tool bound to 127.0.0.1. These routes bypass the fault gate
(no latency, no injected errors) and are not counted in the stats.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from providers.idexx_neo.simulator.faults import FaultError
from providers.idexx_neo.simulator.responses import json_response
from providers.idexx_neo.simulator.state import STATE


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_sim/faults", get_faults)
    app.router.add_post("/_sim/faults", set_faults)
    app.router.add_post("/_sim/reset", reset)
    app.router.add_get("/_sim/stats", stats)
    app.router.add_get("/_sim/info", info)
    app.router.add_get("/_sim/events", list_events)
    app.router.add_post("/_sim/events", upsert_event)
    app.router.add_delete("/_sim/events/{appointment_id}", delete_event)
    app.router.add_post("/_sim/consultations/{consultation_id}", upsert_consultation)


class _BadBody(Exception):
    pass


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _BadBody("body must be JSON") from exc
    if not isinstance(body, dict):
        raise _BadBody("body must be a JSON object")
    return body


def _error(message: str, status: int = 400) -> web.Response:
    return json_response({"error": message}, status=status)


async def get_faults(request: web.Request) -> web.StreamResponse:
    # The accepted password is left out: it is a credential, even in a test tool.
    return json_response(request.app[STATE].faults.snapshot(include_secret=False))


async def set_faults(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    try:
        state.faults.update(await _json_object(request))
    except (_BadBody, FaultError) as exc:
        return _error(str(exc))
    return json_response(state.faults.snapshot(include_secret=False))


async def reset(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    state.reset()
    return json_response({"ok": True})


async def stats(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    return json_response(state.stats.snapshot(state.sessions.active()))


async def info(request: web.Request) -> web.StreamResponse:
    dataset = request.app[STATE].dataset
    return json_response(
        {
            "scenario": dataset.scenario,
            "today": dataset.today.isoformat(),
            "timezone": dataset.timezone,
        }
    )


async def list_events(request: web.Request) -> web.StreamResponse:
    return json_response(request.app[STATE].dataset.snapshot_events())


async def upsert_event(request: web.Request) -> web.StreamResponse:
    try:
        key = request.app[STATE].dataset.upsert_event(await _json_object(request))
    except (_BadBody, ValueError) as exc:
        return _error(str(exc))
    return json_response({"appointment_id": key})


async def delete_event(request: web.Request) -> web.StreamResponse:
    appointment_id = request.match_info["appointment_id"]
    if not request.app[STATE].dataset.remove_event(appointment_id):
        return _error(f"no event {appointment_id}", status=404)
    return web.Response(status=204)


async def upsert_consultation(request: web.Request) -> web.StreamResponse:
    consultation_id = request.match_info["consultation_id"]
    try:
        request.app[STATE].dataset.upsert_consultation(consultation_id, await _json_object(request))
    except (_BadBody, ValueError) as exc:
        return _error(str(exc))
    return json_response({"consultation_id": consultation_id})
