"""The ezyVet API as pims-sync uses it: the token endpoint and fourteen list resources.

Every API request passes the same gate, in this order: count it, wait the configured latency,
check the token (401), apply a 429 storm and the rate limits (429 with ``x-ratelimit-reset``),
answer an injected failure (``fail_next`` then ``errors``), then do the real work.
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

from aiohttp import web

from providers.ezyvet.simulator import control, render
from providers.ezyvet.simulator.filters import FilterError
from providers.ezyvet.simulator.limits import reset_header
from providers.ezyvet.simulator.scenarios import RESOURCES
from providers.ezyvet.simulator.state import STATE, SimulatorState
from providers.simulation.pause import pause

TOKEN_PATH = "/v1/oauth/access_token"
#: The versions each resource is served under (``/v2`` for appointments, as pims-sync reads it).
VERSIONS: dict[str, tuple[str, ...]] = {name: ("v1",) for name in RESOURCES}
VERSIONS["appointment"] = ("v1", "v2")
DEFAULT_LIMIT = 10
MAX_LIMIT = 200
TOKEN_LIFETIME_S = 43_200


def create_app(state: SimulatorState) -> web.Application:
    app = web.Application(client_max_size=256 * 1024)
    app[STATE] = state
    app.router.add_post(TOKEN_PATH, access_token)
    for resource, versions in VERSIONS.items():
        for version in versions:
            app.router.add_get(f"/{version}/{resource}", _lister(resource, version))
    control.add_routes(app)
    return app


def _messages(status: int, kind: str, text: str) -> web.Response:
    body = {"messages": [{"level": "error", "type": kind, "text": text, "fields": []}]}
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _ok(body: Any) -> web.Response:
    return web.json_response(body, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _limited(state: SimulatorState, endpoint: str) -> tuple[web.Response | None, dict[str, str]]:
    """A 429 for this request, or None and the rate-limit headers of an accepted one."""
    storm = state.faults.take_storm()
    if storm is not None:
        state.stats.count("rate_limited")
        response = _messages(429, "RateLimitException", "Too many requests")
        response.headers.update(
            {"x-ratelimit-reset": reset_header(storm), "x-ratelimit-remaining": "0"}
        )
        return response, {}
    knobs = state.faults.snapshot()
    verdict = state.limits.check(
        endpoint,
        knobs["rate_limit_per_window"],
        knobs["site_rate_limit_per_window"],
        knobs["rate_window_s"],
    )
    headers = {
        "x-ratelimit-reset": reset_header(verdict.reset_s),
        "x-ratelimit-remaining": str(verdict.remaining),
    }
    if verdict.allowed:
        return None, headers
    state.stats.count("rate_limited")
    response = _messages(429, "RateLimitException", "Too many requests")
    response.headers.update(headers)
    return response, {}


def _injected(status: int) -> web.Response:
    if status in (204, 205):
        return web.Response(status=status)
    return _messages(status, "SimulatedFailure", f"Simulated failure (HTTP {status})")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


async def access_token(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    state.stats.count("access_token")
    await pause(state.stopping, state.faults.get("latency_ms") / 1000)
    blocked, headers = _limited(state, "access_token")
    if blocked is not None:
        return blocked
    status = state.faults.injected_status("access_token")
    if status is not None:
        return _injected(status)
    try:
        if request.content_type == "application/json":
            body = await request.json()
        else:  # form-encoded bodies are accepted too
            body = dict(await request.post())
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        state.stats.count("token_failures")
        return _messages(400, "InvalidRequestException", "body must be a JSON object")
    missing = [
        name
        for name in ("partner_id", "client_id", "client_secret", "grant_type")
        if not isinstance(body.get(name), str) or not body.get(name)
    ]
    if missing or body.get("grant_type") != "client_credentials":
        state.stats.count("token_failures")
        text = f"missing {', '.join(missing)}" if missing else "unsupported grant_type"
        return _messages(400, "InvalidRequestException", text)
    if not (
        _same(body["partner_id"], state.partner_id)
        and _same(body["client_id"], state.client_id)
        and _same(body["client_secret"], state.faults.get("client_secret"))
    ):
        state.stats.count("token_failures")
        return _messages(401, "InvalidClientException", "Client authentication failed")
    token = state.tokens.issue(revoke_others=state.faults.get("new_token_revokes_old"))
    state.stats.count("tokens_issued")
    response = _ok({"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S})
    response.headers.update(headers)
    return response


def _lister(resource: str, version: str) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await _list(request, resource, version)

    handler.__name__ = f"list_{resource}_{version}"
    return handler


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _page_args(request: web.Request) -> tuple[int, int]:
    values = []
    for name, default, high in (("limit", DEFAULT_LIMIT, MAX_LIMIT), ("page", 1, 1_000_000)):
        text = request.query.get(name)
        if text is None:
            values.append(default)
            continue
        try:
            value = int(text)
        except ValueError:
            raise FilterError(f"{name} must be a whole number") from None
        if not 1 <= value <= high:
            raise FilterError(f"{name} must be 1..{high}")
        values.append(value)
    return values[0], values[1]


async def _list(request: web.Request, resource: str, version: str) -> web.StreamResponse:
    state = request.app[STATE]
    state.stats.count(resource)
    knobs = state.faults.snapshot()
    await pause(state.stopping, knobs["latency_ms"] / 1000)
    if not state.tokens.use(_bearer(request), knobs["token_expire_after"]):
        state.stats.count("unauthorized")
        return _messages(401, "InvalidRequestException", "The access token provided is invalid")
    blocked, headers = _limited(state, resource)
    if blocked is not None:
        return blocked
    status = state.faults.injected_status(resource)
    if status is not None:
        return _injected(status)
    try:
        limit, page = _page_args(request)
        query = list(request.query.items())
        rows = state.dataset.query(resource, query)
    except FilterError as error:
        return _messages(400, "InvalidRequestException", str(error))
    if resource == "consult" and knobs["consult_status"]:
        for row in rows:
            forced = knobs["consult_status"].get(str(row["id"]))
            if forced is not None and forced != 200:
                return _injected(forced)
    if resource in knobs["empty"]:
        rows = []
    chunk = rows[(page - 1) * limit : page * limit]
    if page > 1 and state.faults.take_short_page(resource):
        chunk = []
    body = render.envelope(
        resource,
        chunk,
        page=page,
        limit=limit,
        total=len(rows),
        now=int(time.time()),
        strings=render.as_strings(version, knobs["value_style"]),
    )
    response = _ok(body)
    response.headers.update(headers)
    return response
