"""The ``/_sim/*`` routes every simulator has: knobs, reset, counters and what it simulates.

They drive a simulator over HTTP (for a daemon under test in another process). No
authentication: this is a test tool bound to 127.0.0.1. These routes bypass the fault gate (no
latency, no injected errors) and are not counted in the stats.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, Protocol, TypeVar

from aiohttp import web

from providers.simulation.knobs import FaultError
from providers.simulation.simulator import SimulatorState

State = TypeVar("State", bound=SimulatorState)

# Real servers send UTF-8 as is; escaping "Zoë" as "Zo\u00eb" would hide encoding bugs.
_dumps = functools.partial(json.dumps, ensure_ascii=False)


class Scenario(Protocol):
    """What ``/_sim/info`` tells of any simulator's data."""

    @property
    def scenario(self) -> str: ...

    @property
    def today(self) -> date: ...

    @property
    def timezone(self) -> str: ...


def scenario_info(dataset: Scenario) -> dict[str, Any]:
    return {
        "scenario": dataset.scenario,
        "today": dataset.today.isoformat(),
        "timezone": dataset.timezone,
    }


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=_dumps)


def error_response(message: str, status: int = 400) -> web.Response:
    return json_response({"error": message}, status=status)


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's body as a JSON object; ``FaultError`` (a ``ValueError``) otherwise."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise FaultError("body must be JSON") from None
    if not isinstance(body, dict):
        raise FaultError("body must be a JSON object")
    return body


def add_routes(
    app: web.Application,
    key: web.AppKey[State],
    *,
    stats: Callable[[State], Mapping[str, Any]],
    info: Callable[[State], Mapping[str, Any]],
) -> None:
    """``stats`` and ``info`` give the JSON of ``/_sim/stats`` and ``/_sim/info``: each PIMS
    counts and describes different things."""

    async def get_faults(request: web.Request) -> web.StreamResponse:
        # The accepted secret is left out: it is a credential, even in a test tool.
        return json_response(request.app[key].faults.snapshot(include_secret=False))

    async def set_faults(request: web.Request) -> web.StreamResponse:
        faults = request.app[key].faults
        try:
            faults.update(await json_object(request))
        except FaultError as exc:
            return error_response(str(exc))
        return json_response(faults.snapshot(include_secret=False))

    async def reset(request: web.Request) -> web.StreamResponse:
        request.app[key].reset()
        return json_response({"ok": True})

    async def get_stats(request: web.Request) -> web.StreamResponse:
        return json_response(stats(request.app[key]))

    async def get_info(request: web.Request) -> web.StreamResponse:
        return json_response(info(request.app[key]))

    app.router.add_get("/_sim/faults", get_faults)
    app.router.add_post("/_sim/faults", set_faults)
    app.router.add_post("/_sim/reset", reset)
    app.router.add_get("/_sim/stats", get_stats)
    app.router.add_get("/_sim/info", get_info)
