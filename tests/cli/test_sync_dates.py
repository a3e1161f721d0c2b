"""``pims-sync sync --start/--end``: the same sane window of dates as the HTTP API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from daemon.cli import build_parser
from daemon.cli.common import CliFailure
from daemon.cli.sync_cmd import parse_request
from daemon.sync.requests import SyncRequest


def _parse(*argv: str) -> SyncRequest:
    args = build_parser().parse_args(["sync", *argv, "--clinic", str(uuid.uuid4())])
    return parse_request(args)[1]


@pytest.mark.parametrize(
    ("start", "end", "named"),
    [
        ("0001-01-01", "0001-01-02", "--start"),  # a year typed as 1: was sent to the PIMS
        ("1999-12-31", "2000-01-01", "--start"),
        ("9999-12-30", "9999-12-31", "--start"),  # was a 'completed' sync of nothing
    ],
)
def test_dates_outside_the_window_are_refused_naming_the_flag(
    start: str, end: str, named: str
) -> None:
    with pytest.raises(CliFailure) as caught:
        _parse("inbound", "--start", start, "--end", end)
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert message.startswith(f"{named}: must be from 2000-01-01 to "), message


def test_an_end_past_the_horizon_names_end() -> None:
    year = datetime.now(UTC).year + 6
    with pytest.raises(CliFailure) as caught:
        _parse("cases", "--start", f"{year}-01-01", "--end", f"{year}-01-02")
    assert str(caught.value).startswith("--start:")
    today = datetime.now(UTC).date()
    with pytest.raises(CliFailure) as caught:
        _parse("cases", "--start", today.isoformat(), "--end", f"{year}-01-02")
    assert str(caught.value).startswith("--end:")


def test_dates_inside_the_window_still_work() -> None:
    request = _parse("inbound", "--start", "2000-01-01", "--end", "2000-01-31")
    assert request.start_date is not None and request.start_date.isoformat() == "2000-01-01"
