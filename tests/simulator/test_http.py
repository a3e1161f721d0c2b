"""The simulated IDEXX endpoints over real HTTP."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import aiohttp
import pytest

from providers.idexx_neo.simulator import SESSION_COOKIE, SimulatorServer
from tests.simulator.conftest import CALENDAR, TODAY, get_calendar, login, run


def test_login_form_has_the_documented_fields(server: SimulatorServer) -> None:
    async def scenario() -> str:
        async with aiohttp.ClientSession() as session, session.get(f"{server.url}/login") as resp:
            assert resp.status == 200
            return await resp.text()

    page = run(scenario())
    for marker in ('name="company_id"', 'name="username"', 'name="password"', 'type="submit"'):
        assert marker in page
    assert 'class="error-message"' not in page


def test_login_sets_an_http_only_session_cookie_and_counts(server: SimulatorServer) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            form = {"company_id": "demo-clinic", "username": "demo", "password": "demo-password"}
            async with session.post(
                f"{server.url}/login", data=form, allow_redirects=False
            ) as resp:
                assert resp.status == 302
                assert resp.headers["Location"] == "/dashboard"
                cookie = resp.cookies[SESSION_COOKIE]
                assert cookie["httponly"] is True
                assert len(cookie.value) >= 32
            headers = {"Cookie": f"{SESSION_COOKIE}={cookie.value}"}
            async with session.get(f"{server.url}/dashboard", headers=headers) as resp:
                assert resp.status == 200
                assert 'id="dashboard_shell"' in await resp.text()

    run(scenario())
    stats = server.stats()
    assert stats["logins"] == 1 and stats["active_sessions"] == 1 and stats["login_failures"] == 0


@pytest.mark.parametrize(
    "form",
    [
        {"company_id": "demo-clinic", "username": "demo", "password": "wrong"},
        {"company_id": "other-clinic", "username": "demo", "password": "demo-password"},
        {"company_id": "demo-clinic", "username": "someone", "password": "demo-password"},
        {"company_id": "demo-clinic", "username": "demo", "password": ""},
    ],
)
def test_bad_credentials_show_the_login_page_with_an_error(
    server: SimulatorServer, form: dict[str, str]
) -> None:
    async def scenario() -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{server.url}/login", data=form, allow_redirects=False) as resp,
        ):
            assert resp.status == 200
            assert SESSION_COOKIE not in resp.cookies
            page = await resp.text()
            assert 'class="error-message"' in page
            assert "demo-password" not in page  # the password is never echoed

    run(scenario())
    assert server.stats()["login_failures"] == 1
    assert server.stats()["active_sessions"] == 0


def test_pages_and_json_without_a_session_redirect_to_login(server: SimulatorServer) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            for path in (
                "/",
                "/dashboard",
                "/appointments/getAppointmentView",
                "/consultations/880201/page-data",
            ):
                async with session.get(f"{server.url}{path}", allow_redirects=False) as resp:
                    assert resp.status == 302, path
                    assert resp.headers["Location"] == "/login"
            status, _ = await get_calendar(session, server, {}, TODAY)
            assert status == 302
            bogus = {"Cookie": f"{SESSION_COOKIE}=not-a-session"}
            status, _ = await get_calendar(session, server, bogus, TODAY)
            assert status == 302

    run(scenario())


def test_calendar_returns_the_day_with_rosters_blocks_and_the_overnight_case(
    server: SimulatorServer,
) -> None:
    yesterday = TODAY - timedelta(days=1)

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with aiohttp.ClientSession() as session:
            headers = await login(session, server)
            status, today_events = await get_calendar(session, server, headers, TODAY)
            assert status == 200
            status, yesterday_events = await get_calendar(session, server, headers, yesterday)
            assert status == 200
            return today_events, yesterday_events

    today_events, yesterday_events = run(scenario())
    expected = [
        e
        for e in server.dataset.events.values()
        if e["start"] <= f"{TODAY} 23:59:59" and e["end"] > f"{TODAY} 00:00:00"
    ]
    assert {e["appointment_id"] for e in today_events} == {e["appointment_id"] for e in expected}
    assert [e["start"] for e in today_events] == sorted(e["start"] for e in today_events)
    assert any(e["is_roster"] for e in today_events)
    assert any(e["is_block"] and "resourceId" not in e for e in today_events)  # staff meeting
    overnight = {e["appointment_id"] for e in today_events} & {
        e["appointment_id"] for e in yesterday_events
    }
    assert len(overnight) == 1


def test_calendar_json_is_utf8_not_escaped(server: SimulatorServer) -> None:
    async def scenario() -> bytes:
        async with aiohttp.ClientSession() as session:
            headers = await login(session, server)
            params = {"start": f"{TODAY - timedelta(days=8)} 00:00:00", "end": f"{TODAY} 23:59:59"}
            async with session.get(
                f"{server.url}{CALENDAR}", params=params, headers=headers
            ) as resp:
                assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
                return await resp.read()

    body = run(scenario())
    assert "Peña".encode() in body
    assert b"\\u00" not in body


@pytest.mark.parametrize(
    "query",
    [
        "",
        "start=2026-03-04%2000:00:00",
        "start=garbage&end=2026-03-04%2023:59:59",
        "start=2026-03-04T00:00:00&end=2026-03-04T23:59:59",
        "start=2026-03-04&end=2026-03-05",
        "start=2026-02-30%2000:00:00&end=2026-03-04%2023:59:59",
        "start=2026-03-04%2025:00:00&end=2026-03-04%2023:59:59",
        "start=2026-03-05%2000:00:00&end=2026-03-04%2023:59:59",
    ],
)
def test_calendar_rejects_bad_bounds(server: SimulatorServer, query: str) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            headers = await login(session, server)
            url = f"{server.url}{CALENDAR}?{query}"
            async with session.get(url, headers=headers) as resp:
                assert resp.status == 400
                assert "error" in await resp.json()

    run(scenario())


def test_consultation_and_appointment_view(server: SimulatorServer) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            headers = await login(session, server)
            url = f"{server.url}/consultations/880201/page-data"
            async with session.get(url, headers=headers) as resp:
                assert resp.status == 200
                assert await resp.json() == server.dataset.consultations["880201"]
            url = f"{server.url}/consultations/123/page-data"
            async with session.get(url, headers=headers) as resp:
                assert resp.status == 404
            url = f"{server.url}/appointments/getAppointmentView"
            async with session.get(url, headers=headers) as resp:
                assert resp.status == 200
                assert (await resp.json())["slotInterval"] == 15

    run(scenario())
    stats = server.stats()
    assert stats["consultation"] == 2 and stats["appointment_view"] == 1


def test_logout_ends_the_session(server: SimulatorServer) -> None:
    async def scenario() -> int:
        async with aiohttp.ClientSession() as session:
            headers = await login(session, server)
            async with session.get(f"{server.url}/logout", headers=headers, allow_redirects=False):
                pass
            status, _ = await get_calendar(session, server, headers, TODAY)
            return status

    assert run(scenario()) == 302
    assert server.stats()["active_sessions"] == 0


def test_dataset_edits_show_in_the_feed_at_once(server: SimulatorServer) -> None:
    target = next(
        key for key, e in server.dataset.events.items() if e["start"].startswith(str(TODAY))
    )

    async def feed_for(day: date) -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            headers = await login(session, server)
            _, events = await get_calendar(session, server, headers, day)
            return list(events)

    server.dataset.move_event(target, 30)
    moved = next(e for e in run(feed_for(TODAY)) if str(e["appointment_id"]) == target)
    assert moved == server.dataset.events[target]
    server.dataset.remove_event(target)
    assert all(str(e["appointment_id"]) != target for e in run(feed_for(TODAY)))
