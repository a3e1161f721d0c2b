"""Uninstall from this environment what a lock file no longer lists.

`pip install -r LOCK` adds and changes packages but never removes one, so an environment made
from an older lock would keep a dependency the project dropped, and differ from a fresh one.
Usage: .venv/bin/python scripts/prune_venv.py requirements-test.lock
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import distributions

# Installed by the virtual environment itself or the project's own editable install.
ALWAYS_KEPT = {"pip", "setuptools", "wheel", "pims-sync"}
PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_names(lock_text: str) -> set[str]:
    return {canonical(m.group(1)) for line in lock_text.splitlines() if (m := PINNED.match(line))}


def main(lock_path: str) -> int:
    with open(lock_path, encoding="utf-8") as lock:
        keep = locked_names(lock.read()) | ALWAYS_KEPT
    installed = {canonical(dist.metadata["Name"]) for dist in distributions()}
    extra = sorted(installed - keep)
    if not extra:
        return 0
    print(f"removing packages {lock_path} does not list: {' '.join(extra)}")
    return subprocess.call([sys.executable, "-m", "pip", "uninstall", "-y", *extra])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
