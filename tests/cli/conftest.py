from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import TEST_KEY


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


class Cli:
    """Runs ``pims-sync`` as a user does: a real process, real environment, real database."""

    def __init__(self, database_url: str) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "PIMS_ENCRYPTION_KEY": TEST_KEY,
            "LOG_FORMAT": "json",
        }

    def __call__(self, *args: str, stdin: str | None = None, **env: str) -> Result:
        done = subprocess.run(
            [sys.executable, "-m", "daemon", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**self.env, **env},
            timeout=120,
        )
        return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def cli(database_url: str) -> Cli:
    return Cli(database_url)
