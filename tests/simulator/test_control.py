"""The ``/_sim`` control endpoint, used over HTTP as a daemon in another process would."""

from __future__ import annotations

from typing import Any

import aiohttp

from providers.idexx_neo.simulator import SimulatorServer
from tests.simulator.conftest import TODAY, get_calendar, login, run


async def _call(
    session: aiohttp.ClientSession, method: str, url: str, body: Any = None
) -> tuple[int, Any]:
    async with session.request(method, url, json=body) as resp:
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        return resp.status, await resp.text()


def test_faults_can_be_read_changed_and_reset_over_http(server: SimulatorServer) -> None:
    base = f"{server.url}/_sim"

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            status, knobs = await _call(session, "GET", f"{base}/faults")
            assert status == 200 and knobs["variant"] == "snake"
            assert "password" not in knobs  # a credential stays out of the answer

            status, knobs = await _call(
                session,
                "POST",
                f"{base}/faults",
                {"variant": "camel", "fail_next": {"calendar": [503]}},
            )
            assert status == 200 and knobs["variant"] == "camel"
            assert knobs["envelope"] == "array"  # untouched knobs keep their value

            headers = await login(session, server)
            assert (await get_calendar(session, server, headers, TODAY))[0] == 503
            status, body = await get_calendar(session, server, headers, TODAY)
            assert status == 200 and "patientName" in body[0]

            status, error = await _call(session, "POST", f"{base}/faults", {"variant": "kebab"})
            assert status == 400 and "variant" in error["error"]
            async with session.post(f"{base}/faults", data=b"{not json") as resp:
                assert resp.status == 400
            status, _ = await _call(session, "POST", f"{base}/faults", [1, 2])
            assert status == 400

            status, stats = await _call(session, "GET", f"{base}/stats")
            assert status == 200
            assert stats["calendar"] == 2 and stats["logins"] == 1 and stats["active_sessions"] == 1

            status, _ = await _call(session, "POST", f"{base}/reset")
            assert status == 200
            status, knobs = await _call(session, "GET", f"{base}/faults")
            assert knobs["variant"] == "snake"
            status, stats = await _call(session, "GET", f"{base}/stats")
            assert stats["calendar"] == 0

    run(scenario())
    assert server.get_faults()["variant"] == "snake"


def test_events_can_be_upserted_and_deleted_over_http(server: SimulatorServer) -> None:
    base = f"{server.url}/_sim"
    template = next(e for e in server.dataset.events.values() if e["start"].startswith(str(TODAY)))
    new_event = {**template, "appointment_id": 512345, "id": 512345, "patient_name": "Zoë"}

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            status, body = await _call(session, "POST", f"{base}/events", new_event)
            assert status == 200 and body == {"appointment_id": "512345"}
            headers = await login(session, server)
            _, events = await get_calendar(session, server, headers, TODAY)
            assert any(e["appointment_id"] == 512345 and e["patient_name"] == "Zoë" for e in events)

            moved = {**new_event, "start": f"{TODAY} 16:00:00", "end": f"{TODAY} 16:30:00"}
            assert (await _call(session, "POST", f"{base}/events", moved))[0] == 200
            _, events = await get_calendar(session, server, headers, TODAY)
            assert [e["start"] for e in events if e["appointment_id"] == 512345] == [
                f"{TODAY} 16:00:00"
            ]

            assert (await _call(session, "DELETE", f"{base}/events/512345"))[0] == 204
            _, events = await get_calendar(session, server, headers, TODAY)
            assert all(e["appointment_id"] != 512345 for e in events)
            assert (await _call(session, "DELETE", f"{base}/events/512345"))[0] == 404

            status, _ = await _call(session, "POST", f"{base}/events", {"start": "soon"})
            assert status == 400

            status, listed = await _call(session, "GET", f"{base}/events")
            assert status == 200 and len(listed) == len(server.dataset.events)
            status, info = await _call(session, "GET", f"{base}/info")
            assert info == {
                "scenario": "default",
                "today": TODAY.isoformat(),
                "timezone": "America/Los_Angeles",
            }

    run(scenario())


def test_consultations_can_be_replaced_over_http_and_reset_restores_them(
    server: SimulatorServer,
) -> None:
    base = f"{server.url}/_sim"
    original = server.dataset.consultations["880201"]

    async def page_data(session: aiohttp.ClientSession, headers: dict[str, str]) -> Any:
        url = f"{server.url}/consultations/880201/page-data"
        async with session.get(url, headers=headers) as resp:
            return await resp.json()

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            headers = await login(session, server)
            status, _ = await _call(session, "POST", f"{base}/consultations/880201", {})
            assert status == 200
            assert await page_data(session, headers) == {}
            assert (await _call(session, "POST", f"{base}/consultations/880201", "x"))[0] == 400
            await _call(session, "POST", f"{base}/reset")
            assert await page_data(session, headers) == original

    run(scenario())
