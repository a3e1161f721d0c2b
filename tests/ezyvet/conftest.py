"""Fixtures for the ezyVet tests: simulators on free ports and providers pointed at them.

Each provider gets a site uid of its own, so that the process-wide rate-limit budget of one
test never slows another; fast retry settings keep failure tests short.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest

from providers.base import (
    Appointment,
    Consultation,
    Credentials,
    MemorySessionStore,
    NullObserver,
    ProviderContext,
    ProviderError,
    ProviderSettings,
    RequestObserver,
)
from providers.ezyvet.client import ClientSettings, RetryPolicy
from providers.ezyvet.pacing import PacingSettings
from providers.ezyvet.provider import EzyVetProvider, EzyVetSettings
from providers.ezyvet.simulator import EzyVetSimulator

T = TypeVar("T")

TODAY = date(2026, 3, 4)  # a Wednesday
ZONE = "Pacific/Auckland"
SCALE_START = TODAY - timedelta(days=13)


def credentials(site_uid: str | None = None, secret: str = "demo-secret") -> Credentials:
    return Credentials.of(
        partner_id="demo-partner",
        client_id="demo-client",
        client_secret=secret,
        site_uid=site_uid or f"site-{uuid.uuid4().hex[:8]}",
    )


def fast(pacing: PacingSettings | None = None, page_limit: int = 200) -> EzyVetSettings:
    return EzyVetSettings(
        client=ClientSettings(
            connect_timeout_s=2.0,
            total_timeout_s=10.0,
            retry=RetryPolicy(retries=3, base_delay_s=0.01, max_delay_s=0.05),
            pacing=pacing or PacingSettings(),
            page_limit=page_limit,
        )
    )


def run(coroutine: Awaitable[T]) -> T:
    async def main() -> T:
        return await coroutine

    return asyncio.run(main())


@pytest.fixture(scope="module")
def sim() -> Iterator[EzyVetSimulator]:
    with EzyVetSimulator(today=TODAY, timezone=ZONE) as server:
        yield server


@pytest.fixture(scope="module")
def scale_sim() -> Iterator[EzyVetSimulator]:
    with EzyVetSimulator(scenario="scale", today=TODAY, timezone=ZONE) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_simulators(request: pytest.FixtureRequest) -> None:
    for name in ("sim", "scale_sim"):
        if name in request.fixturenames:
            request.getfixturevalue(name).reset()


@dataclass
class Made:
    provider: EzyVetProvider
    store: MemorySessionStore
    creds: Credentials
    extra: dict[str, Any] = field(default_factory=dict)


Factory = Callable[..., Made]


def make(
    url: str,
    *,
    store: MemorySessionStore | None = None,
    creds: Credentials | None = None,
    settings: EzyVetSettings | None = None,
    provider_settings: ProviderSettings | None = None,
    max_concurrency: int = 5,
    observer: RequestObserver | None = None,
) -> Made:
    store = store or MemorySessionStore()
    context = ProviderContext(
        clinic_id="clinic-ezyvet",
        timezone=ZoneInfo(ZONE),
        base_url=url,
        session_store=store,
        max_concurrency=max_concurrency,
        settings=provider_settings or ProviderSettings(),
        observer=observer or NullObserver(),
    )
    return Made(EzyVetProvider(context, settings or fast()), store, creds or credentials())


async def fetch_all(made: Made, start: date, end: date) -> tuple[list[Appointment], dict[str, Any]]:
    """Appointments of the range and the consultations of the finalized ones."""
    async with made.provider as provider:
        await provider.authenticate(made.creds)
        appointments = await provider.fetch_appointments(start, end)
        ids = [
            a.consultation_id for a in appointments if a.status.is_finalized and a.consultation_id
        ]
        consultations = await provider.fetch_consultations([i for i in ids if i])
    return appointments, {key: comparable(value) for key, value in consultations.items()}


def comparable(result: Consultation | ProviderError) -> Consultation | ProviderError:
    """Errors compare by type and message (exception objects compare by identity)."""
    if isinstance(result, ProviderError):
        return _ComparableError(result)
    return result


class _ComparableError(ProviderError):
    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error
        self.code = error.code  # type: ignore[misc]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ComparableError) and (
            type(self.error),
            str(self.error),
        ) == (type(other.error), str(other.error))

    def __hash__(self) -> int:
        return hash((type(self.error), str(self.error)))


def by_id(appointments: list[Appointment]) -> dict[str, Appointment]:
    return {a.id: a for a in appointments}
