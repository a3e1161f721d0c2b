"""Run by test_timezones in a subprocess with a chosen ``TZ``: fetch a calendar from a running
simulator with a cached session (stdin) and print the result as canonical JSON."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, date
from zoneinfo import ZoneInfo

from providers.base import Appointment, Credentials, MemorySessionStore, ProviderContext
from providers.idexx_neo.provider import IdexxNeoProvider


def canonical(appointment: Appointment) -> dict[str, object]:
    return {
        "id": appointment.id,
        "starts_at": appointment.starts_at.isoformat(),
        "ends_at": appointment.ends_at.isoformat(),
        "starts_utc": appointment.starts_at.astimezone(UTC).isoformat(),
        "ends_utc": appointment.ends_at.astimezone(UTC).isoformat(),
        "local_date": appointment.local_date.isoformat(),
        "status": appointment.status.value,
    }


async def fetch(url: str, zone: str, start: date, end: date, session: str) -> list[Appointment]:
    store = MemorySessionStore()
    store.save(session, None)
    context = ProviderContext("tz-probe", ZoneInfo(zone), url, store)
    async with IdexxNeoProvider(context) as provider:
        await provider.authenticate(Credentials.of(username="unused", password="unused"))
        return await provider.fetch_appointments(start, end)


def main() -> None:
    url, zone, start, end = sys.argv[1:5]
    found = asyncio.run(
        fetch(url, zone, date.fromisoformat(start), date.fromisoformat(end), sys.stdin.read())
    )
    print(
        json.dumps(
            {"utc_offset": time.strftime("%z"), "appointments": [canonical(a) for a in found]}
        )
    )


if __name__ == "__main__":
    main()
