"""Every fault knob, set through ``set_faults`` and observed over real HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from providers.idexx_neo.simulator import (
    SECOND_FACTOR_CODE,
    SESSION_COOKIE,
    FaultError,
    SimulatorServer,
)
from tests.simulator.conftest import CALENDAR, TODAY, day_range, get_calendar, login, run

SHORT = aiohttp.ClientTimeout(total=0.5)


async def _status(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> int:
    async with session.get(url, headers=headers or {}, allow_redirects=False) as resp:
        await resp.read()
        return resp.status


def test_latency_delays_answers_without_blocking_the_server(server: SimulatorServer) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            headers = await login(session, server)
            server.set_faults(latency_ms=60_000)
            with pytest.raises(asyncio.TimeoutError):
                async with session.get(
                    f"{server.url}{CALENDAR}",
                    params=day_range(TODAY),
                    headers=headers,
                    timeout=SHORT,
                ):
                    pass
            # While that request sleeps, the loop still serves the control endpoint.
            async with session.get(f"{server.url}/_sim/stats", timeout=SHORT) as resp:
                assert resp.status == 200
                assert (await resp.json())["calendar"] == 1
            server.set_faults(latency_ms=0)
            status, _ = await get_calendar(session, server, headers, TODAY)
            assert status == 200

    run(scenario())


def test_fail_next_answers_the_queued_statuses_then_recovers(server: SimulatorServer) -> None:
    async def scenario() -> list[int]:
        async with aiohttp.ClientSession() as session:
            headers = await login(session, server)
            server.set_faults(fail_next={"calendar": [500, 502, 429]})
            return [(await get_calendar(session, server, headers, TODAY))[0] for _ in range(5)]

    assert run(scenario()) == [500, 502, 429, 200, 200]
    assert server.get_faults()["fail_next"] == {}


def test_fail_next_on_login_fails_the_login_page(server: SimulatorServer) -> None:
    server.set_faults(fail_next={"login": [503]})

    async def scenario() -> list[int]:
        async with aiohttp.ClientSession() as session:
            return [await _status(session, f"{server.url}/login") for _ in range(2)]

    assert run(scenario()) == [503, 200]


def test_random_errors_are_seeded_and_follow_the_rate(server: SimulatorServer) -> None:
    async def statuses(count: int) -> list[int]:
        async with aiohttp.ClientSession() as session:
            headers = await login(session, server)
            url = f"{server.url}/appointments/getAppointmentView"
            return [await _status(session, url, headers) for _ in range(count)]

    server.set_faults(errors={"appointment_view": {"rate": 0.5, "status": 503}})
    first = run(statuses(30))
    server.set_faults(errors={"appointment_view": {"rate": 0.5, "status": 503}})
    assert run(statuses(30)) == first
    assert set(first) == {200, 503}

    server.set_faults(errors={"appointment_view": {"rate": 1.0, "status": 500}})
    assert set(run(statuses(5))) == {500}
    server.set_faults(errors={})
    assert set(run(statuses(5))) == {200}


def test_consultation_status_pins_one_consultation(server: SimulatorServer) -> None:
    server.set_faults(consultation_status={880201: 500, "880202": 404})

    async def scenario() -> list[int]:
        async with aiohttp.ClientSession() as session:
            headers = await login(session, server)
            url = f"{server.url}/consultations/{{}}/page-data"
            return [
                await _status(session, url.format(cid), headers)
                for cid in (880201, 880201, 880202, 880203)
            ]

    assert run(scenario()) == [500, 500, 404, 200]


def test_hang_holds_requests_until_the_knob_is_lifted(server: SimulatorServer) -> None:
    server.set_faults(hang=["consultation"])

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            headers = await login(session, server)
            url = f"{server.url}/consultations/880201/page-data"
            with pytest.raises(asyncio.TimeoutError):
                await session.get(url, headers=headers, timeout=SHORT)
            # Other endpoints are unaffected.
            assert (await get_calendar(session, server, headers, TODAY))[0] == 200

            held = asyncio.create_task(_status(session, url, headers))
            while server.stats()["consultation"] < 2:
                await asyncio.sleep(0.01)
            assert not held.done()
            server.set_faults(hang=[])
            assert await asyncio.wait_for(held, timeout=10) == 200

    run(scenario())


def test_a_hung_request_does_not_hold_up_stop() -> None:
    server = SimulatorServer(today=TODAY).start()
    server.set_faults(hang=["login"])

    async def scenario() -> int | None:
        async with aiohttp.ClientSession() as session:
            task = asyncio.create_task(_status(session, f"{server.url}/login"))
            while server.stats()["login"] < 1:
                await asyncio.sleep(0.01)
            await asyncio.get_running_loop().run_in_executor(None, server.stop)
            try:
                return await asyncio.wait_for(task, timeout=10)
            except aiohttp.ClientError:
                return None  # the connection closed instead: also an answer

    assert run(scenario()) in (503, None)
    assert not server.is_running


@pytest.mark.parametrize(
    ("mode", "status"), [("redirect", 302), ("401", 401), ("403", 403), ("html", 200)]
)
def test_session_expiry_after_n_requests(server: SimulatorServer, mode: str, status: int) -> None:
    server.set_faults(session_expire_after=2, expiry_mode=mode)

    async def scenario() -> tuple[list[int], Any, int]:
        async with aiohttp.ClientSession() as session:
            headers = await login(session, server)
            statuses = []
            body: Any = None
            for _ in range(3):
                code, body = await get_calendar(session, server, headers, TODAY)
                statuses.append(code)
            dashboard = await _status(session, f"{server.url}/dashboard", headers)
            return statuses, body, dashboard

    statuses, last_body, dashboard = run(scenario())
    assert statuses == [200, 200, status]
    if mode == "html":
        assert isinstance(last_body, str) and 'name="password"' in last_body
    assert dashboard == 302
    stats = server.stats()
    assert stats["sessions_expired"] == 1 and stats["active_sessions"] == 0


def test_expiry_mode_also_answers_missing_sessions(server: SimulatorServer) -> None:
    server.set_faults(expiry_mode="401")

    async def scenario() -> int:
        async with aiohttp.ClientSession() as session:
            return (await get_calendar(session, server, {}, TODAY))[0]

    assert run(scenario()) == 401


def test_password_knob_changes_the_accepted_password(server: SimulatorServer) -> None:
    server.set_faults(password="rotated-secret")

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            form = {"company_id": "demo-clinic", "username": "demo", "password": "demo-password"}
            async with session.post(
                f"{server.url}/login", data=form, allow_redirects=False
            ) as resp:
                assert resp.status == 200
                assert 'class="error-message"' in await resp.text()
            headers = await login(session, server, password="rotated-secret")
            assert (await get_calendar(session, server, headers, TODAY))[0] == 200

    run(scenario())
    assert server.get_faults()["password"] == "rotated-secret"


def test_camel_variant_and_envelopes(server: SimulatorServer) -> None:
    async def fetch() -> Any:
        async with aiohttp.ClientSession() as session:
            headers = await login(session, server)
            return (await get_calendar(session, server, headers, TODAY))[1]

    server.set_faults(variant="camel", envelope="data")
    body = run(fetch())
    assert list(body) == ["data"]
    event = body["data"][0]
    assert {"id", "patientName", "clientName", "clientPhone", "providerName"} <= event.keys()
    assert {"appointmentType", "status"} <= event.keys()
    assert "T" in event["start"] and "appointment_id" not in event

    for envelope in ("appointments", "events"):
        server.set_faults(variant="snake", envelope=envelope)
        body = run(fetch())
        assert list(body) == [envelope] and "appointment_id" in body[envelope][0]
    server.set_faults(envelope="array")
    assert isinstance(run(fetch()), list)


def test_empty_calendar(server: SimulatorServer) -> None:
    server.set_faults(empty_calendar=True)

    async def fetch() -> Any:
        async with aiohttp.ClientSession() as session:
            headers = await login(session, server)
            return await get_calendar(session, server, headers, TODAY)

    assert run(fetch()) == (200, [])


async def _post_login(server: SimulatorServer, form: dict[str, str]) -> tuple[int, str, bool]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.url}/login", data=form, allow_redirects=False) as resp,
    ):
        return resp.status, await resp.text(), SESSION_COOKIE in resp.cookies


GOOD = {"company_id": "demo-clinic", "username": "demo", "password": "demo-password"}


def test_no_company_tenant(server: SimulatorServer) -> None:
    server.set_faults(tenant="no_company")

    async def form_page() -> str:
        async with aiohttp.ClientSession() as session, session.get(f"{server.url}/login") as resp:
            return await resp.text()

    page = run(form_page())
    assert 'name="company_id"' not in page and 'name="username"' in page
    status, _, has_cookie = run(
        _post_login(server, {"username": "demo", "password": "demo-password"})
    )
    assert status == 302 and has_cookie


def test_second_factor_tenant_asks_for_a_code_and_grants_no_session(
    server: SimulatorServer,
) -> None:
    server.set_faults(tenant="second_factor")
    status, page, has_cookie = run(_post_login(server, GOOD))
    assert status == 200 and not has_cookie
    assert 'name="code"' in page and 'class="error-message"' not in page
    assert server.stats()["second_factor_prompts"] == 1 and server.stats()["logins"] == 0

    # A wrong password still fails the ordinary way.
    status, page, has_cookie = run(_post_login(server, {**GOOD, "password": "nope"}))
    assert 'class="error-message"' in page and 'name="code"' not in page and not has_cookie

    # The code step works for whoever completes it.
    ticket = page_ticket(run(_post_login(server, GOOD))[1])

    async def verify(code: str) -> tuple[int, bool]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{server.url}/login/verify",
                data={"ticket": ticket, "code": code},
                allow_redirects=False,
            ) as resp,
        ):
            return resp.status, SESSION_COOKIE in resp.cookies

    assert run(verify(SECOND_FACTOR_CODE)) == (302, True)


def page_ticket(page: str) -> str:
    marker = 'name="ticket" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def test_branch_picker_tenant_lists_branches_and_grants_no_session(
    server: SimulatorServer,
) -> None:
    server.set_faults(tenant="branch_picker")
    status, page, has_cookie = run(_post_login(server, GOOD))
    assert status == 200 and not has_cookie
    assert 'id="branch_picker"' in page and page.count('class="branch-option"') >= 2
    assert server.stats()["branch_prompts"] == 1 and server.stats()["active_sessions"] == 0


def test_bad_knobs_are_refused_whole(server: SimulatorServer) -> None:
    bad: list[dict[str, Any]] = [
        {"nonsense": 1},
        {"latency_ms": -1},
        {"errors": {"calendar": {"rate": 2, "status": 500}}},
        {"errors": {"nowhere": {"rate": 0.5, "status": 500}}},
        {"fail_next": {"calendar": [99]}},
        {"hang": "calendar"},
        {"expiry_mode": "teapot"},
        {"variant": "kebab"},
        {"envelope": "box"},
        {"tenant": "martian"},
        {"empty_calendar": "yes"},
        {"password": ""},
        {"session_expire_after": -3},
        {"variant": "camel", "envelope": "box"},
    ]
    for knobs in bad:
        with pytest.raises(FaultError):
            server.set_faults(**knobs)
    assert server.get_faults()["variant"] == "snake"


def test_reset_faults_restores_defaults(server: SimulatorServer) -> None:
    defaults = server.get_faults()
    server.set_faults(variant="camel", hang=["calendar"], session_expire_after=1, password="x")
    assert server.get_faults() != defaults
    server.reset_faults()
    assert server.get_faults() == defaults
