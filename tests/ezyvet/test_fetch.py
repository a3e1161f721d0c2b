"""Reading ezyVet: paging, both value forms, failures and what they are reported as."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from providers.base import BadRequest, NotFound, PimsUnavailable
from providers.ezyvet.client import Page, _incomplete
from providers.ezyvet.simulator import EzyVetSimulator
from tests.ezyvet.conftest import SCALE_START, TODAY, fast, fetch_all, make, run
from tests.providers.conftest import RecordingObserver

WEEK = TODAY - timedelta(days=7)
AHEAD = TODAY + timedelta(days=13)


def test_paging_reads_every_page(sim: EzyVetSimulator) -> None:
    whole = run(fetch_all(make(sim.url), WEEK, AHEAD))
    sim.reset()
    paged = run(fetch_all(make(sim.url, settings=fast(page_limit=10)), WEEK, AHEAD))
    assert paged == whole and len(whole[0]) > 100
    stats = sim.stats()
    assert stats["appointment"] == -(-len(whole[0]) // 10)  # every page, each once
    assert stats["assessment"] >= 3 and stats["contactdetail"] >= 3


@pytest.mark.parametrize("style", ["strings", "native"])
def test_v1_strings_and_v2_native_values_read_alike(sim: EzyVetSimulator, style: str) -> None:
    expected = run(fetch_all(make(sim.url), WEEK, AHEAD))  # v1 strings, v2 native
    sim.set_faults(value_style=style)
    assert run(fetch_all(make(sim.url), WEEK, AHEAD)) == expected


def test_server_errors_are_retried(sim: EzyVetSimulator) -> None:
    expected = run(fetch_all(make(sim.url), TODAY, TODAY))
    sim.reset()
    sim.set_faults(fail_next={"appointment": [502, 503, 500], "animal": [500]})
    assert run(fetch_all(make(sim.url), TODAY, TODAY)) == expected
    assert sim.stats()["appointment"] == 4


def test_a_lasting_outage_is_unavailable_never_empty(sim: EzyVetSimulator) -> None:
    sim.set_faults(errors={"appointment": {"rate": 1.0, "status": 503}})
    made = make(sim.url)

    async def go() -> str:
        async with made.provider as provider:
            await provider.authenticate(made.creds)
            with pytest.raises(PimsUnavailable) as caught:
                await provider.fetch_appointments(TODAY, TODAY)
            return caught.value.code

    assert run(go()) == "pims_unavailable"
    assert sim.stats()["appointment"] == 4  # the first attempt and three retries


@pytest.mark.parametrize("status", [400, 403, 422])
def test_a_4xx_is_a_bad_request_and_never_retried(sim: EzyVetSimulator, status: int) -> None:
    sim.set_faults(fail_next={"appointment": [status, status]})
    observer = RecordingObserver()
    made = make(sim.url, observer=observer)

    async def go() -> str:
        async with made.provider as provider:
            await provider.authenticate(made.creds)
            with pytest.raises(BadRequest) as caught:
                await provider.fetch_appointments(TODAY, TODAY)
            return caught.value.code

    assert run(go()) == "pims_bad_request"
    assert sim.stats()["appointment"] == 1
    # The same metrics outcome as IDEXX Neo's refusals (docs/observability.md): not an outage.
    assert [o for e, o in observer.requests if e == "appointment"] == ["bad_request"]


def test_an_empty_answer_is_passed_on_as_empty(sim: EzyVetSimulator) -> None:
    sim.set_faults(empty=["appointment"])
    appointments, _ = run(fetch_all(make(sim.url), WEEK, AHEAD))
    assert appointments == []


def test_5xx_on_consults_fails_those_ids_only(scale_sim: EzyVetSimulator) -> None:
    made = make(scale_sim.url)
    appointments, expected = run(fetch_all(made, SCALE_START, TODAY))
    ids = sorted(expected)
    assert len(ids) == 150
    scale_sim.reset()
    # A consult that breaks the server: every request whose id list holds it answers 500.
    poison = ids[120]
    scale_sim.set_faults(consult_status={poison: 500})
    _, got = run(fetch_all(make(scale_sim.url), SCALE_START, TODAY))
    failed = {key for key, value in got.items() if getattr(value, "code", "") == "pims_unavailable"}
    # Batches of 100 in the order asked for; the one holding the poisoned id fails as a whole,
    # the other one is complete and correct.
    order = list(
        dict.fromkeys(
            a.consultation_id for a in appointments if a.consultation_id and a.status.is_finalized
        )
    )
    holding = next(batch for batch in (order[:100], order[100:]) if poison in batch)
    assert failed == set(holding) and 0 < len(failed) < 150
    for key in set(ids) - failed:
        assert got[key] == expected[key]
    assert scale_sim.stats()["consult"] == 2 + 3  # one per batch, and three retries


def test_the_registry_gives_an_ezyvet_provider_that_needs_no_browser(sim: EzyVetSimulator) -> None:
    from zoneinfo import ZoneInfo

    from providers.base import ProviderContext
    from providers.registry import create_provider, provider_names

    assert "ezyvet" in provider_names()
    provider = create_provider("ezyvet", ProviderContext("c", ZoneInfo("UTC"), sim.url))
    assert provider.name == "ezyvet" and provider.needs_browser is False
    fields = {f.name: f for f in provider.credential_fields}
    assert [f.option for f in fields.values()] == [
        "--partner-id",
        "--client-id",
        "--secret",
        "--site-uid",
    ]
    assert fields["client_secret"].secret and not fields["site_uid"].required


def test_one_consultation_at_a_time_and_not_found(sim: EzyVetSimulator) -> None:
    marks = sim.dataset.landmarks
    made = make(sim.url)

    async def go() -> tuple[str | None, str]:
        async with made.provider as provider:
            await provider.authenticate(made.creds)
            one = await provider.fetch_consultation(str(marks["midnight_consult"]))
            with pytest.raises(NotFound) as caught:
                await provider.fetch_consultation("99999")
            return one.reason, caught.value.code

    assert run(go()) == ("Hit by car", "not_found")


def test_a_list_that_is_not_there_is_a_bad_request_not_an_empty_list(
    scale_sim: EzyVetSimulator,
) -> None:
    scale_sim.set_faults(fail_next={"invoiceline": [404]})
    _, got = run(fetch_all(make(scale_sim.url), SCALE_START, TODAY))
    codes = {getattr(value, "code", "ok") for value in got.values()}
    assert "pims_bad_request" in codes and "not_found" not in codes


def test_a_page_that_comes_back_short_is_read_again(sim: EzyVetSimulator) -> None:
    """Page 2 of a list answers without its items while the meta still counts them: the list
    is read once more, and what is returned is the whole list, never the short one."""
    whole = run(fetch_all(make(sim.url, settings=fast(page_limit=10)), WEEK, AHEAD))
    pages = -(-len(whole[0]) // 10)
    sim.reset()
    sim.set_faults(short_pages={"appointment": 1})
    assert run(fetch_all(make(sim.url, settings=fast(page_limit=10)), WEEK, AHEAD)) == whole
    assert sim.stats()["appointment"] == 2 * pages  # the short read, then a whole one


def test_a_list_that_stays_short_fails_as_unavailable(sim: EzyVetSimulator) -> None:
    sim.set_faults(short_pages={"appointment": 1000})  # every later page, on every read
    with pytest.raises(PimsUnavailable, match=r"read inconsistently twice: \d+ items read of the"):
        run(fetch_all(make(sim.url, settings=fast(page_limit=10)), WEEK, AHEAD))


def _page(count: int, total: int | None, first_id: int = 1, pages: int = 2) -> Page:
    items: list[Mapping[str, Any]] = [{"id": str(n)} for n in range(first_id, first_id + count)]
    return Page(items, pages, total)


@pytest.mark.parametrize(
    ("pages", "problem"),
    [
        ([_page(2, 4), _page(2, 4, first_id=3)], ""),
        ([_page(2, None), _page(1, None, first_id=3)], ""),  # no count given: nothing to check
        ([_page(2, 4), _page(1, 4, first_id=3)], "3 items read of the 4 it counts"),
        ([_page(2, 4), _page(2, 5, first_id=3)], "its pages disagree on its size"),
        ([_page(2, 4), _page(2, 4, first_id=2)], "an item came back on two pages"),
        ([_page(0, 0, pages=0)], ""),
    ],
)
def test_pages_that_do_not_add_up_are_named(pages: list[Page], problem: str) -> None:
    items = [item for page in pages for item in page.items]
    found = _incomplete(pages, items)
    assert found.startswith(problem) and bool(found) == bool(problem)
