"""The IDEXX Neo web app as our provider sees it: login pages, the dashboard, three JSON endpoints.

Every IDEXX route goes through the same gate, in this order: count the request, wait the
configured latency, hold it while ``hang`` names the endpoint, answer an injected failure
(``fail_next`` then ``errors``), check the session (JSON endpoints), then do the real work.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from providers.idexx_neo.simulator import control, feed, pages
from providers.idexx_neo.simulator.catalog import BRANCHES
from providers.idexx_neo.simulator.responses import html_response, json_response, redirect
from providers.idexx_neo.simulator.state import STATE, SimulatorState
from providers.idexx_neo.simulator.walltime import parse_wall_strict
from providers.simulation.pause import POLL_S, pause

SESSION_COOKIE = "neo_session"
SECOND_FACTOR_CODE = "000000"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(state: SimulatorState) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app[STATE] = state
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/login/verify", second_factor_submit)
    app.router.add_post("/login/branch", branch_submit)
    app.router.add_get("/logout", logout)
    app.router.add_get("/", dashboard)
    app.router.add_get("/dashboard", dashboard)
    app.router.add_get("/appointments/getCalendarEventData", calendar)
    app.router.add_get("/consultations/{consultation_id}/page-data", consultation)
    app.router.add_get("/appointments/getAppointmentView", appointment_view)
    control.add_routes(app)
    return app


# -- the gate -----------------------------------------------------------------------------------


def _injected(status: int) -> web.Response:
    if 300 <= status < 400:
        return redirect("/login")
    if status in (204, 205):
        return web.Response(status=status)
    response = json_response({"error": "Simulated failure", "status": status}, status=status)
    if status in (429, 503):
        response.headers["Retry-After"] = "1"
    return response


async def _gate(state: SimulatorState, endpoint: str) -> web.Response | None:
    state.stats.count(endpoint)
    await pause(state.stopping, state.faults.get("latency_ms") / 1000)
    while state.faults.hangs(endpoint):
        if state.stopping.is_set():
            return json_response({"error": "Server shutting down"}, status=503)
        await asyncio.sleep(POLL_S)
    status = state.faults.injected_status(endpoint)
    return _injected(status) if status is not None else None


def _session_dead(state: SimulatorState) -> web.Response:
    mode = state.faults.get("expiry_mode")
    if mode == "401":
        return json_response({"error": "Not authenticated"}, status=401)
    if mode == "403":
        return json_response({"error": "Forbidden"}, status=403)
    if mode == "html":
        return html_response(pages.login_page(show_company=_shows_company(state)))
    return redirect("/login")


def _authenticated(state: SimulatorState, request: web.Request, *, json_request: bool) -> bool:
    alive = state.sessions.use(
        request.cookies.get(SESSION_COOKIE),
        expire_after=state.faults.get("session_expire_after"),
        json_request=json_request,
    )
    if alive is None:
        state.stats.count("sessions_expired")
    return alive is True


def endpoint(name: str, *, json_api: bool) -> Callable[[Handler], Handler]:
    """Put a handler behind the gate (and, for JSON endpoints, behind the session check)."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def gated(request: web.Request) -> web.StreamResponse:
            state = request.app[STATE]
            blocked = await _gate(state, name)
            if blocked is not None:
                return blocked
            if json_api and not _authenticated(state, request, json_request=True):
                return _session_dead(state)
            return await handler(request)

        return gated

    return wrap


# -- login --------------------------------------------------------------------------------------


def _shows_company(state: SimulatorState) -> bool:
    return str(state.faults.get("tenant")) != "no_company"


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


@endpoint("login", json_api=False)
async def login_form(request: web.Request) -> web.StreamResponse:
    return html_response(pages.login_page(show_company=_shows_company(request.app[STATE])))


@endpoint("login", json_api=False)
async def login_submit(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    form = await request.post()
    company_id = str(form.get("company_id", "")).strip()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    show_company = _shows_company(state)

    def failed(message: str) -> web.Response:
        state.stats.count("login_failures")
        page = pages.login_page(
            show_company=show_company, error=message, company_id=company_id, username=username
        )
        return html_response(page)

    if not username or not password:
        return failed("Please enter your username and password.")
    company_ok = not show_company or state.company_id is None or _same(company_id, state.company_id)
    if not (
        company_ok
        and _same(username, state.username)
        and _same(password, state.faults.get("password"))
    ):
        if show_company:
            return failed("Invalid company ID, username or password.")
        return failed("Invalid username or password.")

    tenant = state.faults.get("tenant")
    if tenant == "second_factor":
        state.stats.count("second_factor_prompts")
        return html_response(pages.second_factor_page(state.sessions.create_ticket("code")))
    if tenant == "branch_picker":
        state.stats.count("branch_prompts")
        return html_response(pages.branch_picker_page(state.sessions.create_ticket("branch")))
    return _signed_in(state)


def _signed_in(state: SimulatorState) -> web.Response:
    state.stats.count("logins")
    response = redirect("/dashboard")
    response.set_cookie(
        SESSION_COOKIE, state.sessions.create(), httponly=True, path="/", samesite="Lax"
    )
    return response


@endpoint("login", json_api=False)
async def second_factor_submit(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    form = await request.post()
    if not state.sessions.redeem_ticket(str(form.get("ticket", "")), "code"):
        return redirect("/login")
    if _same(str(form.get("code", "")).strip(), SECOND_FACTOR_CODE):
        return _signed_in(state)
    state.stats.count("login_failures")
    ticket = state.sessions.create_ticket("code")
    return html_response(pages.second_factor_page(ticket, error="That code is not valid."))


@endpoint("login", json_api=False)
async def branch_submit(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    form = await request.post()
    known = {str(branch_id) for branch_id, _ in BRANCHES}
    if str(form.get("branch_id", "")) not in known:
        return html_response(pages.branch_picker_page(state.sessions.create_ticket("branch")))
    if not state.sessions.redeem_ticket(str(form.get("ticket", "")), "branch"):
        return redirect("/login")
    return _signed_in(state)


async def logout(request: web.Request) -> web.StreamResponse:
    request.app[STATE].sessions.drop(request.cookies.get(SESSION_COOKIE))
    response = redirect("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


# -- pages and JSON -----------------------------------------------------------------------------


@endpoint("dashboard", json_api=False)
async def dashboard(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    if not _authenticated(state, request, json_request=False):
        return redirect("/login")
    return html_response(pages.dashboard_page(state.dataset.today.isoformat()))


def _bad_request(message: str) -> web.Response:
    return json_response({"error": message}, status=400)


@endpoint("calendar", json_api=True)
async def calendar(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    bounds = []
    for name in ("start", "end"):
        text = request.query.get(name)
        if text is None:
            return _bad_request(f"missing {name} (YYYY-MM-DD HH:MM:SS)")
        try:
            bounds.append(parse_wall_strict(text))
        except ValueError:
            return _bad_request(f"invalid {name}: expected YYYY-MM-DD HH:MM:SS")
    start, end = bounds
    if end < start:
        return _bad_request("end is before start")
    knobs = state.faults.snapshot()
    events = (
        []
        if knobs["empty_calendar"]
        else feed.overlapping(state.dataset.snapshot_events(), start, end)
    )
    return json_response(feed.render(events, variant=knobs["variant"], envelope=knobs["envelope"]))


@endpoint("consultation", json_api=True)
async def consultation(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    consultation_id = request.match_info["consultation_id"]
    forced = state.faults.consultation_status(consultation_id)
    if forced is not None and forced != 200:
        if forced == 404:
            return json_response({"error": "Consultation not found"}, status=404)
        return _injected(forced)
    page = state.dataset.get_consultation(consultation_id)
    if page is None:
        return json_response({"error": "Consultation not found"}, status=404)
    return json_response(page)


@endpoint("appointment_view", json_api=True)
async def appointment_view(request: web.Request) -> web.StreamResponse:
    return json_response(request.app[STATE].dataset.get_schedule_config())
