"""IDEXX Neo's own ``/_sim/*`` routes: edit the calendar's events and the consultations.

The knob, reset, stats and info routes are ``providers.simulation.control``.
"""

from __future__ import annotations

from aiohttp import web

from providers.idexx_neo.simulator.state import STATE, SimulatorState
from providers.simulation import control
from providers.simulation.control import (
    error_response,
    json_object,
    json_response,
    scenario_info,
)


def add_routes(app: web.Application) -> None:
    control.add_routes(app, STATE, stats=_stats, info=lambda state: scenario_info(state.dataset))
    app.router.add_get("/_sim/events", list_events)
    app.router.add_post("/_sim/events", upsert_event)
    app.router.add_delete("/_sim/events/{appointment_id}", delete_event)
    app.router.add_post("/_sim/consultations/{consultation_id}", upsert_consultation)


def _stats(state: SimulatorState) -> dict[str, int]:
    return state.stats.snapshot(state.sessions.active())


async def list_events(request: web.Request) -> web.StreamResponse:
    return json_response(request.app[STATE].dataset.snapshot_events())


async def upsert_event(request: web.Request) -> web.StreamResponse:
    try:
        key = request.app[STATE].dataset.upsert_event(await json_object(request))
    except ValueError as exc:  # FaultError (the body) included
        return error_response(str(exc))
    return json_response({"appointment_id": key})


async def delete_event(request: web.Request) -> web.StreamResponse:
    appointment_id = request.match_info["appointment_id"]
    if not request.app[STATE].dataset.remove_event(appointment_id):
        return error_response(f"no event {appointment_id}", status=404)
    return web.Response(status=204)


async def upsert_consultation(request: web.Request) -> web.StreamResponse:
    consultation_id = request.match_info["consultation_id"]
    try:
        request.app[STATE].dataset.upsert_consultation(consultation_id, await json_object(request))
    except ValueError as exc:  # FaultError (the body) included
        return error_response(str(exc))
    return json_response({"consultation_id": consultation_id})
