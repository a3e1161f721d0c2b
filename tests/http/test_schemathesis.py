"""The live server against its own OpenAPI document, fuzzed by schemathesis (CLI, real sockets).

The target is only a URL and a key, so the same run can later point at the real daemon process.
``positive_data_acceptance`` is left out: JSON Schema cannot say "start ≤ end" or "at most 62
dates", so schema-valid bodies may rightly get 400.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.http.conftest import Api

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@dataclass(frozen=True)
class LiveTarget:
    url: str
    api_key: str


@pytest.fixture
def live_target(make_api: Callable[..., Api]) -> LiveTarget:
    # Every queued sync is finished by the stand-in actor, so triggers answer 200 and streams
    # end; a short wait cap and a rate limit out of reach keep the run quick.
    api = make_api(wait_s=1.0, rate=1_000_000, autorun=True)
    return LiveTarget(api.url, api.key)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_schemathesis_finds_no_server_error_or_schema_violation(
    live_target: LiveTarget, tmp_path: Path
) -> None:
    done = subprocess.run(
        [
            str(SCHEMATHESIS), "run", f"{live_target.url}/openapi.json",
            "--header", f"X-API-Key: {live_target.api_key}",
            "--checks", "all",
            "--exclude-checks", "positive_data_acceptance",
            "--max-examples", "50",
            "--seed", "20250101",
            "--request-timeout", "30",
            "--report", "junit", "--report-dir", str(tmp_path),
        ],
        capture_output=True, text=True, timeout=220, cwd=tmp_path,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-20000:]
    assert "No issues found" in output or "passed" in output.lower(), output[-5000:]
