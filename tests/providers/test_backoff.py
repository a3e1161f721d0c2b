"""The one backoff rule: exponential, capped, jittered, and the server's Retry-After."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from providers.backoff import Backoff, retry_after_seconds

NOW = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC


def test_ceiling_doubles_from_the_first_delay_up_to_the_cap() -> None:
    backoff = Backoff(first_s=0.5, max_s=30.0)
    assert [backoff.ceiling(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff.ceiling(10_000) == 30.0  # no overflow however long the outage


def test_equal_jitter_stays_between_half_and_all_of_the_ceiling() -> None:
    backoff = Backoff(first_s=0.5, max_s=30.0, jitter=0.5)
    for attempt in range(1, 12):
        ceiling = backoff.ceiling(attempt)
        delays = [backoff.delay(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert len({backoff.delay(5) for _ in range(20)}) > 1  # callers do not come back together


def test_no_jitter_is_exact_and_full_jitter_may_be_anything_below_the_ceiling() -> None:
    assert [Backoff(1.0, 300.0, jitter=0).delay(n) for n in (1, 2, 9, 10)] == [1, 2, 256, 300]
    full = [Backoff(1.0, 8.0, jitter=1).delay(4) for _ in range(200)]
    assert all(0 <= delay <= 8 for delay in full) and min(full) < 4


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    backoff = Backoff(first_s=0.5, max_s=10.0)
    assert backoff.delay(1, retry_after_s=7.0) == 7.0  # later than our own backoff: theirs
    assert 0.25 <= backoff.delay(1, retry_after_s=0.0) <= 0.5  # sooner: ours
    assert backoff.delay(1, retry_after_s=600.0) == 10.0  # never past the cap


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"first_s": 0}, "first_s"),
        ({"first_s": float("nan")}, "first_s"),
        ({"first_s": 2, "max_s": 1}, "max_s"),
        ({"jitter": 1.5}, "jitter"),
    ],
)
def test_nonsense_settings_are_refused(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Backoff(**kwargs)
    with pytest.raises(ValueError, match="attempt"):
        Backoff().delay(0)


def test_retry_after_as_seconds() -> None:
    assert retry_after_seconds("3", NOW) == 3.0
    assert retry_after_seconds(" 120 ", NOW) == 120.0
    assert retry_after_seconds("1.5", NOW) == 1.5
    assert retry_after_seconds("-4", NOW) == 0.0


def test_retry_after_as_an_http_date() -> None:
    assert retry_after_seconds("Sun, 15 Jun 2025 15:07:00 GMT", NOW) == 20.0
    assert retry_after_seconds("Sun, 15 Jun 2025 15:07:00 -0000", NOW) == 20.0
    assert retry_after_seconds("Sun, 15 Jun 2025 15:00:00 GMT", NOW) == 0.0  # already past
    soon = datetime.now(UTC).timestamp() + 60
    written = format_datetime(datetime.fromtimestamp(soon, UTC), usegmt=True)
    assert 55 <= (retry_after_seconds(written) or 0) <= 61  # default "now" is the clock


@pytest.mark.parametrize("value", [None, "", "soon", "inf", "nan", "Someday, 99 Foo 20x5"])
def test_unreadable_retry_after_means_use_our_own_backoff(value: str | None) -> None:
    assert retry_after_seconds(value, NOW) is None


def test_the_pims_client_waits_what_an_http_date_asks_within_its_cap() -> None:
    from providers.idexx_neo.client import RetryPolicy

    asked = retry_after_seconds("Sun, 15 Jun 2025 15:06:45 GMT", NOW)
    assert asked == 5.0
    assert RetryPolicy(max_delay_s=8.0).delay(1, asked) == 5.0
    assert RetryPolicy(max_delay_s=8.0).delay(1, 60.0) == 8.0  # a sync's wait stays bounded


@pytest.mark.parametrize("pims", ["idexx_neo", "ezyvet"])
def test_both_pims_clients_back_off_alike_and_never_past_the_cap(pims: str) -> None:
    # ezyvet.md: 5xx and timeouts are retried "with backoff as for IDEXX Neo".
    module = importlib.import_module(f"providers.{pims}.client")
    policy = module.RetryPolicy(base_delay_s=1.0, max_delay_s=8.0, jitter=0.3)
    for retry_number, ceiling in ((1, 1.0), (2, 2.0), (4, 8.0), (9, 8.0)):
        delays = [policy.delay(retry_number) for _ in range(50)]
        assert all(0.7 * ceiling <= d <= ceiling for d in delays), (retry_number, max(delays))
