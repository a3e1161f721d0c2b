"""``/_sim/*``: drive the simulator over HTTP. No authentication (a test tool on 127.0.0.1);
not subject to knobs, not counted."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from providers.ezyvet.simulator.faults import FaultError
from providers.ezyvet.simulator.state import STATE
from providers.ezyvet.simulator.stats import merged


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_sim/faults", get_faults)
    app.router.add_post("/_sim/faults", set_faults)
    app.router.add_post("/_sim/reset", reset)
    app.router.add_get("/_sim/stats", stats)
    app.router.add_get("/_sim/info", info)
    app.router.add_post("/_sim/tokens/revoke", revoke_tokens)
    app.router.add_get("/_sim/records/{resource}", list_records)
    app.router.add_post("/_sim/records/{resource}", upsert_record)
    app.router.add_delete("/_sim/records/{resource}/{id}", delete_record)


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def _object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise FaultError("body must be JSON") from None
    if not isinstance(body, dict):
        raise FaultError("body must be a JSON object")
    return body


async def get_faults(request: web.Request) -> web.StreamResponse:
    return _json(request.app[STATE].faults.snapshot(include_secret=False))


async def set_faults(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    try:
        state.faults.update(await _object(request))
    except FaultError as exc:
        return _json({"error": str(exc)}, status=400)
    return _json(state.faults.snapshot(include_secret=False))


async def reset(request: web.Request) -> web.StreamResponse:
    request.app[STATE].reset()
    return _json({"ok": True})


async def stats(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    return _json(merged(state.stats.snapshot(), state.limits.peaks(), state.tokens.active()))


async def info(request: web.Request) -> web.StreamResponse:
    dataset = request.app[STATE].dataset
    return _json(
        {
            "scenario": dataset.scenario,
            "today": dataset.today.isoformat(),
            "timezone": dataset.timezone,
            "landmarks": dataset.landmarks,
        }
    )


async def revoke_tokens(request: web.Request) -> web.StreamResponse:
    """Now, or (body ``{"after": N}``) once N more API calls have been served."""
    tokens = request.app[STATE].tokens
    if request.can_read_body:
        try:
            after = (await _object(request)).get("after")
        except FaultError as exc:
            return _json({"error": str(exc)}, status=400)
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            return _json({"error": "after must be an integer >= 0"}, status=400)
        tokens.revoke_after(after)
        return _json({"revokeAfter": after})
    return _json({"revoked": tokens.revoke_all()})


def _resource(request: web.Request) -> str:
    resource = request.match_info["resource"]
    if resource not in request.app[STATE].dataset.tables:
        raise web.HTTPNotFound(text=json.dumps({"error": f"unknown resource {resource!r}"}))
    return resource


async def list_records(request: web.Request) -> web.StreamResponse:
    return _json(request.app[STATE].dataset.records(_resource(request)))


async def upsert_record(request: web.Request) -> web.StreamResponse:
    resource = _resource(request)
    try:
        key = request.app[STATE].dataset.upsert(resource, await _object(request))
    except (FaultError, ValueError) as exc:
        return _json({"error": str(exc)}, status=400)
    return _json({"id": key})


async def delete_record(request: web.Request) -> web.StreamResponse:
    resource = _resource(request)
    try:
        key = int(request.match_info["id"])
    except ValueError:
        return _json({"error": "id must be a whole number"}, status=400)
    if not request.app[STATE].dataset.remove(resource, key):
        return _json({"error": f"no {resource} {key}"}, status=404)
    return web.Response(status=204)
