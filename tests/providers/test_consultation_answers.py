"""Every answer a consultation request can get, each with its own meaning: a page however large or
sparse, "not there" (404), an outage (5xx), and a login page (a dead session, never a payload).

One browser login per module; the tests then run on that cached session.
"""

from __future__ import annotations

import json

import pytest

from providers.base import Consultation, NotFound, PimsUnavailable, ProviderError
from providers.idexx_neo.provider import IdexxNeoProvider
from providers.idexx_neo.simulator import SESSION_COOKIE, SimulatorServer
from tests.providers.conftest import Harness, ProviderFactory, run
from tests.support import CREDENTIALS


@pytest.fixture
def cached(session: str, make_provider: ProviderFactory) -> tuple[IdexxNeoProvider, Harness]:
    provider, harness = make_provider(session=session)
    run(provider.authenticate(CREDENTIALS))
    return provider, harness


def fetch(provider: IdexxNeoProvider, consultation_id: str) -> Consultation | ProviderError:
    async def scenario() -> Consultation | ProviderError:
        async with provider:
            try:
                return await provider.fetch_consultation(consultation_id)
            except ProviderError as error:
                return error

    return run(scenario())


def test_huge_notes_arrive_whole(
    sim: SimulatorServer, cached: tuple[IdexxNeoProvider, Harness]
) -> None:
    provider, _ = cached
    notes = "Owner reports coughing at night. Ünïcödé ✓. " * 100_000  # about 4.5 MB
    sim.dataset.upsert_consultation(
        "777001", {"consultation": {"id": 777001, "notes": notes, "status": "completed"}}
    )
    result = fetch(provider, "777001")
    assert isinstance(result, Consultation)
    assert result.notes == notes.strip() and result.status == "completed"


def test_sparse_page_keeps_what_is_there(
    sim: SimulatorServer, cached: tuple[IdexxNeoProvider, Harness]
) -> None:
    provider, _ = cached
    # Only the consultation object, with none of its optional fields.
    sim.dataset.upsert_consultation("777002", {"consultation": {}})
    result = fetch(provider, "777002")
    assert isinstance(result, Consultation)
    assert result.id == "777002"
    assert result.notes is None and result.discharge_summary is None
    assert result.products_services is None and result.species is None


@pytest.mark.parametrize(
    ("status", "expected", "outcomes"),
    [
        (404, NotFound, ["not_found"]),
        (500, PimsUnavailable, ["server_error"] * 4),
        (503, PimsUnavailable, ["server_error"] * 4),
    ],
)
def test_not_there_is_not_an_outage(
    status: int,
    expected: type[ProviderError],
    outcomes: list[str],
    sim: SimulatorServer,
    cached: tuple[IdexxNeoProvider, Harness],
) -> None:
    provider, harness = cached
    cid = sorted(sim.dataset.consultations)[0]
    sim.set_faults(consultation_status={cid: status})
    result = fetch(provider, cid)
    assert type(result) is expected
    assert harness.observer.outcomes("consultation") == outcomes
    assert harness.observer.logins == []


def test_login_page_instead_of_a_consultation_is_a_dead_session(
    sim: SimulatorServer, session: str, make_provider: ProviderFactory
) -> None:
    # A cached session Neo no longer knows: its login page (200, HTML) is served where the
    # consultation's JSON belongs.
    state = json.loads(session)
    for cookie in state["cookies"]:
        if cookie["name"] == SESSION_COOKIE:
            cookie["value"] = "forgotten-by-neo"
    sim.set_faults(expiry_mode="html")
    provider, harness = make_provider(session=json.dumps(state))
    cid = sorted(sim.dataset.consultations)[0]

    async def scenario() -> Consultation:
        async with provider:
            await provider.authenticate(CREDENTIALS)
            return await provider.fetch_consultation(cid)

    result = run(scenario())
    assert result.id == cid
    assert harness.observer.outcomes("consultation") == ["session_expired", "ok"]
    assert harness.observer.logins == ["ok"]  # one login, after the login page was seen
