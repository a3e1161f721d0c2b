"""Every bounded integer option of the CLI refuses a bad value by naming the flag and its range
(contract §2.2: exit 2), not with argparse's bare ``invalid int value: 'x'``."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from daemon.cli import build_parser
from daemon.cli.common import CliFailure
from daemon.config import Settings

CLINIC = str(uuid.uuid4())

#: (the words before the option, the option, its lowest and highest value)
OPTIONS = [
    (("clinic", "set", CLINIC), "--horizon-days", 1, 60),
    (("clinic", "set", CLINIC), "--slot-minutes", 5, 120),
    (("clinic", "set", CLINIC), "--capacity", 1, 1000),
    (("key", "create", "--clinic", CLINIC, "--name", "k"), "--expires-in-days", 1, 3650),
    (("demo",), "--port", 0, 65535),
    (("simulator",), "--port", 0, 65535),
    (("simulator",), "--latency-ms", 0, 60000),
    (("simulator",), "--rate-limit-per-min", 1, 100000),
    (("simulator",), "--site-rate-limit-per-min", 1, 100000),
]


def _refusal(words: list[str]) -> CliFailure:
    """The failure of running ``words``; argument parsing must not exit on its own."""
    args = build_parser(words).parse_args(words)
    with pytest.raises(CliFailure) as caught:
        args.handler(args, Settings())
    return caught.value


@pytest.mark.parametrize(("before", "flag", "low", "high"), OPTIONS)
@pytest.mark.parametrize("bad", ["x", "1.5", "", "0x10"])
def test_a_value_that_is_no_integer_names_the_flag_and_the_range(
    before: tuple[str, ...], flag: str, low: int, high: int, bad: str
) -> None:
    failure = _refusal([*before, flag, bad])
    assert failure.exit_code == 2
    assert str(failure).startswith(f"{flag}: must be an integer from {low} to {high}"), failure


@pytest.mark.parametrize(("before", "flag", "low", "high"), OPTIONS)
def test_a_value_out_of_range_names_the_flag_and_the_range(
    before: tuple[str, ...], flag: str, low: int, high: int
) -> None:
    for outside in (low - 1, high + 1):
        failure = _refusal([*before, flag, str(outside)])
        assert failure.exit_code == 2
        assert str(failure).startswith(f"{flag}: must be an integer from {low} to {high}"), failure


def test_the_operator_sees_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "daemon", "clinic", "set", CLINIC, "--horizon-days", "x"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # nothing may be written: the value is refused before the store opens
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "pims-sync: error: --horizon-days: must be an integer from 1 to 60 (got 'x')"
    ]
    assert done.stdout == ""
