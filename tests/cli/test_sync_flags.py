"""``pims-sync sync TYPE --full/--force`` (contract §7): rewriting rows and overriding the
deletion guard are two separate requests, never implied by each other."""

from __future__ import annotations

import uuid

import pytest

from daemon.cli import build_parser
from daemon.cli.common import CliFailure
from daemon.cli.sync_cmd import parse_request

CLINIC = str(uuid.uuid4())


def parsed(*argv: str) -> tuple[bool, bool]:
    args = build_parser().parse_args(["sync", *argv, "--clinic", CLINIC])
    _, request = parse_request(args)
    return request.force_full_sync, request.force


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["inbound"], (False, False)),
        (["inbound", "--full"], (True, False)),  # rewrites rows, the guard still holds
        (["inbound", "--force"], (False, True)),
        (["inbound", "--full", "--force"], (True, True)),
        (["cases", "--full"], (True, False)),
        (["reconciliation", "--force"], (False, True)),
    ],
)
def test_full_and_force_mean_different_things(argv: list[str], expected: tuple[bool, bool]) -> None:
    assert parsed(*argv) == expected


def test_force_on_cases_is_a_deprecated_alias_of_full(capsys: pytest.CaptureFixture[str]) -> None:
    assert parsed("cases", "--force") == (True, False)
    warning = capsys.readouterr().err
    assert "deprecated" in warning and "--full" in warning


def test_full_on_reconciliation_is_a_usage_error() -> None:
    with pytest.raises(CliFailure) as caught:
        parsed("reconciliation", "--full")
    assert caught.value.exit_code == 2
    assert "--full" in str(caught.value)


@pytest.mark.parametrize("kind", ["inbound", "reconciliation"])
def test_parallel_is_refused_where_it_does_nothing(kind: str) -> None:
    """``--parallel`` is the cases sync's ``parallelBatchSize`` (contract §3.2); the other types
    have no such setting, so accepting it silently let an operator believe it applied."""
    with pytest.raises(CliFailure) as caught:
        parsed(kind, "--parallel", "3")
    assert caught.value.exit_code == 2
    assert str(caught.value) == f"--parallel: only for cases (not {kind})"


def test_parallel_still_sets_the_cases_batch_size() -> None:
    args = build_parser().parse_args(["sync", "cases", "--parallel", "3", "--clinic", CLINIC])
    assert parse_request(args)[1].parallel_batch_size == 3
