"""scripts/setup.sh decides which optional Debian packages to install with ``has_candidate``.

It runs under ``set -o pipefail``: a reader that stops early (``grep -q``) kills ``apt-cache`` with
SIGPIPE, and the pipeline then fails although the package is there, so the lighter headless shell
was skipped at random. The function is taken from the script itself and run against a stand-in
``apt-cache`` whose answer is long enough that an early exit would always break the pipe.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

SETUP = Path(__file__).resolve().parents[2] / "scripts" / "setup.sh"


def _has_candidate_function() -> str:
    match = re.search(r"^has_candidate\(\) \{.*\}$", SETUP.read_text(), re.MULTILINE)
    assert match, "scripts/setup.sh no longer defines has_candidate() on one line"
    return match.group(0)


def _fake_apt_cache(bin_dir: Path, candidate: str) -> None:
    script = bin_dir / "apt-cache"
    # The answer's first lines decide; 20,000 more lines (far over a pipe's buffer) follow.
    script.write_text(
        "#!/bin/sh\n"
        f"printf '%s:\\n  Installed: (none)\\n  Candidate: {candidate}\\n' \"$2\"\n"
        "i=0; while [ $i -lt 20000 ]; do echo '     500 http://archive/debian main amd64 Packages';"
        " i=$((i+1)); done\n"
    )
    script.chmod(0o755)


@pytest.mark.parametrize(("candidate", "expected"), [("1.2-1", "yes"), ("(none)", "no")])
def test_has_candidate_is_not_fooled_by_a_broken_pipe(
    tmp_path: Path, candidate: str, expected: str
) -> None:
    _fake_apt_cache(tmp_path, candidate)
    program = (
        "set -euo pipefail\n"
        f"{_has_candidate_function()}\n"
        "for i in 1 2 3; do\n"
        "  if has_candidate chromium-headless-shell; then echo yes; else echo no; fi\n"
        "done\n"
    )
    done = subprocess.run(
        ["bash", "-c", program],
        capture_output=True,
        text=True,
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == [expected] * 3
