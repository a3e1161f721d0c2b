"""Shared fixtures: a simulator on a free port with a fixed "today", and small HTTP helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from datetime import date
from typing import Any, TypeVar

import aiohttp
import pytest

from providers.idexx_neo.simulator import SESSION_COOKIE, SimulatorServer

T = TypeVar("T")

# A Wednesday, so the default scenario has a staff meeting today and a weekend ahead.
TODAY = date(2026, 3, 4)
CALENDAR = "/appointments/getCalendarEventData"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(today=TODAY) as running:
        yield running


async def login(
    session: aiohttp.ClientSession, server: SimulatorServer, password: str = "demo-password"
) -> dict[str, str]:
    """Log in by posting the form; returns the Cookie header to send on later calls."""
    form = {"company_id": "demo-clinic", "username": "demo", "password": password}
    async with session.post(f"{server.url}/login", data=form, allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        assert response.headers["Location"] == "/dashboard"
        token = response.cookies[SESSION_COOKIE].value
    return {"Cookie": f"{SESSION_COOKIE}={token}", "Accept": "application/json"}


def day_range(day: date) -> dict[str, str]:
    return {"start": f"{day.isoformat()} 00:00:00", "end": f"{day.isoformat()} 23:59:59"}


async def get_calendar(
    session: aiohttp.ClientSession, server: SimulatorServer, headers: dict[str, str], day: date
) -> tuple[int, Any]:
    async with session.get(
        f"{server.url}{CALENDAR}", params=day_range(day), headers=headers, allow_redirects=False
    ) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()
