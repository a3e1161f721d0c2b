"""Run by test_timezones in a subprocess with a chosen ``TZ``: fetch from a running ezyVet
simulator and print the appointments and consultations as canonical JSON."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, date
from zoneinfo import ZoneInfo

from providers.base import Consultation, Credentials, MemorySessionStore, ProviderContext
from providers.ezyvet.provider import EzyVetProvider


async def fetch(url: str, zone: str, start: date, end: date) -> dict[str, object]:
    context = ProviderContext("tz-probe", ZoneInfo(zone), url, MemorySessionStore())
    creds = Credentials.of(
        partner_id="demo-partner", client_id="demo-client", client_secret="demo-secret"
    )
    async with EzyVetProvider(context) as provider:
        await provider.authenticate(creds)
        found = await provider.fetch_appointments(start, end)
        ids = [a.consultation_id for a in found if a.consultation_id]
        consultations = await provider.fetch_consultations([i for i in ids if i])
    return {
        "appointments": [
            {
                "id": a.id,
                "starts_at": a.starts_at.isoformat(),
                "ends_at": a.ends_at.isoformat(),
                "starts_utc": a.starts_at.astimezone(UTC).isoformat(),
                "local_date": a.local_date.isoformat(),
                "status": a.status.value,
                "is_block": a.is_block,
                "patient": a.patient.name,
                "client": a.client.name,
            }
            for a in found
        ],
        "consultations": {
            key: value.date if isinstance(value, Consultation) else type(value).__name__
            for key, value in sorted(consultations.items())
        },
    }


def main() -> None:
    url, zone, start, end = sys.argv[1:5]
    result = asyncio.run(fetch(url, zone, date.fromisoformat(start), date.fromisoformat(end)))
    result["utc_offset"] = time.strftime("%z")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
