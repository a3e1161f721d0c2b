"""``REPLICA_ID`` is a replica's name everywhere (``replicas.id``, lease owners, ``/health``, logs):
a bad one stops start-up with one line naming the variable and the rule (contract §2.3)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.config import ConfigError, Settings, default_replica_id

RULE = "must be 1 to 128 characters of A-Z a-z 0-9 . _ : -"


@pytest.mark.parametrize(
    "bad",
    [
        "one\x1b[2Jtwo",  # an escape sequence: clears the screen of whoever reads the logs
        "one\ttwo",
        "one\x00two",
        "two words",
        "zoë",
        "x" * 129,
    ],
)
def test_a_bad_replica_id_is_refused_naming_the_variable_and_the_rule(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"REPLICA_ID": bad})
    assert str(caught.value).startswith(f"REPLICA_ID: {RULE} (got "), caught.value
    assert "\x1b" not in str(caught.value) and "\x00" not in str(caught.value)
    assert len(str(caught.value)) < 200  # a huge value is not repeated in full


@pytest.mark.parametrize("good", ["a", "one", "web-1.eu:3001", "x" * 128, "rw_7f3a"])
def test_a_sane_replica_id_is_kept(good: str) -> None:
    assert Settings.from_env({"REPLICA_ID": good}).replica_id == good


def test_the_default_passes_its_own_rule() -> None:
    replica_id = Settings.from_env({}).replica_id
    assert replica_id == default_replica_id({})
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", replica_id)
    assert replica_id.endswith(f"-{os.getpid()}")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("build box", "build-box"),  # a name the rule would refuse is made to fit
        ("h" * 250, "h" * (128 - 1 - 7)),  # shortened, so that the pid still fits
    ],
)
def test_an_odd_host_name_still_gives_a_default_that_passes(
    monkeypatch: pytest.MonkeyPatch, host: str, expected: str
) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: host)
    monkeypatch.setattr(os, "getpid", lambda: 1234567)
    assert default_replica_id({}) == f"{expected}-1234567"
    assert Settings.from_env({}).replica_id == f"{expected}-1234567"


def test_the_operator_sees_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "daemon", "clinic", "list"],
        capture_output=True,
        text=True,
        env={**os.environ, "REPLICA_ID": "web\x1b[31m1"},
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"pims-sync: error: REPLICA_ID: {RULE} (got 'web\\x1b[31m1')"
    ]
