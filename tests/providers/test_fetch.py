"""The JSON calls against the simulator: shapes, retries, failures. One browser login per module;
every test then runs on that cached session, without a browser."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from providers.base import (
    Appointment,
    AppointmentStatus,
    NotFound,
    PimsUnavailable,
    UnexpectedPayload,
)
from providers.idexx_neo.client import ClientSettings, RequestRejected, RetryPolicy
from providers.idexx_neo.provider import EndpointMissing, IdexxNeoProvider
from providers.idexx_neo.simulator import SimulatorServer
from tests.providers.conftest import FAST, Harness, ProviderFactory, run
from tests.support import CREDENTIALS, TODAY

WEEK = (TODAY - timedelta(days=7), TODAY + timedelta(days=7))


@pytest.fixture
def cached(session: str, make_provider: ProviderFactory) -> tuple[IdexxNeoProvider, Harness]:
    provider, harness = make_provider(session=session)
    run(provider.authenticate(CREDENTIALS))
    return provider, harness


def fetch_week(provider: IdexxNeoProvider) -> list[Appointment]:
    async def scenario() -> list[Appointment]:
        async with provider:
            return await provider.fetch_appointments(*WEEK)

    return run(scenario())


def expected_ids(sim: SimulatorServer) -> set[str]:
    """Every event of the week the simulator holds, rosters excluded."""
    start = datetime.combine(WEEK[0], datetime.min.time())
    end = datetime.combine(WEEK[1], datetime.max.time())
    ids = set()
    for key, event in sim.dataset.events.items():
        ev_start = datetime.fromisoformat(event["start"])
        ev_end = datetime.fromisoformat(event["end"])
        if not event.get("is_roster") and ev_start <= end and ev_end > start:
            ids.add(key)
    return ids


def test_week_of_appointments(
    sim: SimulatorServer, cached: tuple[IdexxNeoProvider, Harness]
) -> None:
    provider, harness = cached
    appointments = fetch_week(provider)
    assert {a.id for a in appointments} == expected_ids(sim)
    assert any(a.is_block for a in appointments)
    assert all(a.starts_at.tzinfo is not None for a in appointments)
    assert {a.status for a in appointments} >= {
        AppointmentStatus.SCHEDULED,
        AppointmentStatus.FINALIZED,
        AppointmentStatus.NO_SHOW,
        AppointmentStatus.CANCELLED,
    }
    overnight = [a for a in appointments if a.ends_at.date() > a.local_date]
    assert overnight, "the scenario has an event crossing midnight"
    assert all(a.ends_at > a.starts_at for a in overnight)
    assert harness.browsers is not None and harness.browsers.leases == 0
    assert harness.observer.requests == [("calendar", "ok")]


def test_query_uses_clinic_wall_time(
    sim: SimulatorServer, cached: tuple[IdexxNeoProvider, Harness]
) -> None:
    provider, _ = cached
    late = dict(sim.dataset.events[next(iter(sim.dataset.events))])
    late.update(
        appointment_id=777001,
        id=777001,
        start=f"{TODAY} 23:30:00",
        end=f"{TODAY} 23:45:00",
        is_roster=False,
        is_block=False,
    )
    sim.dataset.upsert_event(late)

    async def scenario() -> list[Appointment]:
        async with provider:
            return await provider.fetch_appointments(TODAY, TODAY)

    found = {a.id: a for a in run(scenario())}
    # 23:30 in Los Angeles is the next day in UTC: still part of "today" for the clinic.
    assert found["777001"].local_date == TODAY
    assert found["777001"].starts_at.astimezone(UTC).date() == TODAY + timedelta(days=1)


@pytest.mark.parametrize("envelope", ["appointments", "data", "events"])
def test_every_envelope(
    envelope: str,
    sim: SimulatorServer,
    cached: tuple[IdexxNeoProvider, Harness],
    session: str,
    make_provider: ProviderFactory,
) -> None:
    provider, _ = cached
    bare = fetch_week(provider)
    sim.set_faults(envelope=envelope)
    wrapped_provider, _ = make_provider(session=session)
    run(wrapped_provider.authenticate(CREDENTIALS))
    assert fetch_week(wrapped_provider) == bare


def test_camel_case_variant(
    sim: SimulatorServer,
    cached: tuple[IdexxNeoProvider, Harness],
    session: str,
    make_provider: ProviderFactory,
) -> None:
    provider, _ = cached
    snake = {a.id: a for a in fetch_week(provider)}
    sim.set_faults(variant="camel", envelope="data")
    camel_provider, _ = make_provider(session=session)
    run(camel_provider.authenticate(CREDENTIALS))
    camel = {a.id: a for a in fetch_week(camel_provider)}
    assert camel.keys() == snake.keys()
    for key, appointment in camel.items():
        reference = snake[key]
        assert (appointment.starts_at, appointment.ends_at) == (
            reference.starts_at,
            reference.ends_at,
        )
        assert appointment.status == reference.status
        assert appointment.is_block == reference.is_block
        assert appointment.patient.name == reference.patient.name
        assert appointment.client.name == reference.client.name
        assert appointment.consultation_id == reference.consultation_id


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_transient_failures_are_retried(
    status: int, sim: SimulatorServer, cached: tuple[IdexxNeoProvider, Harness]
) -> None:
    provider, harness = cached
    sim.set_faults(fail_next={"calendar": [status, status]})
    assert {a.id for a in fetch_week(provider)} == expected_ids(sim)
    assert sim.stats()["calendar"] == 3
    kind = "rate_limited" if status == 429 else "server_error"
    assert harness.observer.outcomes("calendar") == [kind, kind, "ok"]


def test_persistent_server_error_is_unavailable(
    sim: SimulatorServer, cached: tuple[IdexxNeoProvider, Harness]
) -> None:
    provider, _ = cached
    sim.set_faults(errors={"calendar": {"rate": 1.0, "status": 500}})
    with pytest.raises(PimsUnavailable, match="4 attempts") as caught:
        fetch_week(provider)
    assert caught.value.retryable and caught.value.code == "pims_unavailable"
    assert sim.stats()["calendar"] == 4  # the first try and three retries


def test_other_client_errors_are_not_retried(
    sim: SimulatorServer, cached: tuple[IdexxNeoProvider, Harness]
) -> None:
    provider, _ = cached
    sim.set_faults(fail_next={"calendar": [400]})
    with pytest.raises(RequestRejected) as caught:
        fetch_week(provider)
    assert caught.value.code == "pims_bad_request" and not caught.value.retryable
    assert sim.stats()["calendar"] == 1


def test_calendar_404_is_a_fault_not_an_empty_answer(
    sim: SimulatorServer, cached: tuple[IdexxNeoProvider, Harness]
) -> None:
    provider, _ = cached
    sim.set_faults(fail_next={"calendar": [404]})
    with pytest.raises(EndpointMissing, match="404") as caught:
        fetch_week(provider)
    assert caught.value.code == "pims_unavailable"


def test_hanging_endpoint_times_out(
    sim: SimulatorServer, session: str, make_provider: ProviderFactory
) -> None:
    short = replace(
        FAST,
        client=ClientSettings(
            connect_timeout_s=1.0,
            total_timeout_s=0.3,
            retry=RetryPolicy(retries=3, base_delay_s=0.01, max_delay_s=0.02),
        ),
    )
    provider, harness = make_provider(session=session, settings=short)
    run(provider.authenticate(CREDENTIALS))
    sim.set_faults(hang=["calendar"])
    with pytest.raises(PimsUnavailable, match="timeout"):
        fetch_week(provider)
    assert harness.observer.outcomes("calendar") == ["timeout"] * 4


def test_consultation(sim: SimulatorServer, cached: tuple[IdexxNeoProvider, Harness]) -> None:
    provider, _ = cached
    cid = sorted(sim.dataset.consultations)[0]
    page = sim.dataset.consultations[cid]

    async def scenario() -> None:
        async with provider:
            consultation = await provider.fetch_consultation(cid)
        assert consultation.id == cid
        assert consultation.notes == (page["consultation"].get("notes") or None)
        assert consultation.species == page["patient"]["species"]
        wanted = [line for line in page["consultationLines"] if not line.get("isDeclined")]
        assert consultation.products_services is not None
        assert consultation.products_services.count("; ") == len(wanted) - 1

    run(scenario())


def test_missing_consultation_is_not_found(
    sim: SimulatorServer, cached: tuple[IdexxNeoProvider, Harness]
) -> None:
    provider, harness = cached
    cid = sorted(sim.dataset.consultations)[0]
    sim.set_faults(consultation_status={cid: 404})

    async def scenario() -> None:
        async with provider:
            with pytest.raises(NotFound):
                await provider.fetch_consultation(cid)
            with pytest.raises(NotFound):
                await provider.fetch_consultation("999999999")

    run(scenario())
    assert harness.observer.outcomes("consultation") == ["not_found", "not_found"]


def test_consultation_without_consultation_object(
    sim: SimulatorServer, cached: tuple[IdexxNeoProvider, Harness]
) -> None:
    provider, _ = cached
    sim.dataset.upsert_consultation("424242", {"pageData": {"providers": []}})

    async def scenario() -> None:
        async with provider:
            with pytest.raises(UnexpectedPayload, match="consultation"):
                await provider.fetch_consultation("424242")

    run(scenario())


def test_malformed_event_fails_the_whole_fetch(
    sim: SimulatorServer, cached: tuple[IdexxNeoProvider, Harness]
) -> None:
    provider, _ = cached
    key = next(
        k
        for k, e in sim.dataset.events.items()
        if not e.get("is_roster") and e["start"].startswith(str(TODAY))
    )
    broken = dict(sim.dataset.events[key], is_block="sometimes")
    sim.dataset.upsert_event(broken)
    with pytest.raises(UnexpectedPayload, match="is_block"):
        fetch_week(provider)


def test_empty_calendar_is_empty_not_an_error(
    sim: SimulatorServer, cached: tuple[IdexxNeoProvider, Harness]
) -> None:
    provider, _ = cached
    sim.set_faults(empty_calendar=True)
    assert fetch_week(provider) == []


def test_failed_fetch_raises_never_returns_empty(
    sim: SimulatorServer, cached: tuple[IdexxNeoProvider, Harness]
) -> None:
    provider, _ = cached
    sim.set_faults(errors={"calendar": {"rate": 1.0, "status": 503}})
    result: list[Appointment] | None = None
    with pytest.raises(PimsUnavailable):
        result = fetch_week(provider)
    assert result is None


def test_schedule_config(sim: SimulatorServer, cached: tuple[IdexxNeoProvider, Harness]) -> None:
    provider, _ = cached

    async def scenario() -> None:
        async with provider:
            config = await provider.fetch_schedule_config()
        raw = sim.dataset.schedule_config
        assert config.slot_interval_minutes == raw["slotInterval"]
        assert [r.id for r in config.rooms] == [str(r["id"]) for r in raw["appointmentRooms"]]
        assert len(config.business_hours) == sum(len(h["daysOfWeek"]) for h in raw["businessHours"])

    run(scenario())


def test_alternate_case_ids(cached: tuple[IdexxNeoProvider, Harness]) -> None:
    provider, _ = cached
    assert provider.alternate_case_ids("500101") == ("idexx-appt-500101",)
