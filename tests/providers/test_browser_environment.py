"""Chromium runs without its sandbox and renders the PIMS's pages: none of the daemon's secrets
(encryption key, database URL, log-shipping token) may be in its processes' environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.browsers import BrowserPool, chromium, procfs

pytestmark = pytest.mark.browser

CANARY = "canary-7d1f0c2e"


def _environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (entry.decode(errors="replace").partition("=") for entry in raw.split(b"\0") if entry)
    return {name: value for name, _, value in pairs}


def test_chromium_processes_get_no_secret_from_the_daemon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIMS_ENCRYPTION_KEY", CANARY)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://sync:{CANARY}@db/pims")
    monkeypatch.setenv("AXIOM_API_TOKEN", CANARY)
    pool = BrowserPool(size=1)
    pool.start()
    try:
        pool.warm_up()
        (pid,) = pool.stats()["pids"]
        group = procfs.group_pids(pid)
        assert pid in group and len(group) > 1  # the browser and its helpers
        for member in group:
            environment = _environment(member)
            assert not any(CANARY in value for value in environment.values()), member
            assert "PIMS_ENCRYPTION_KEY" not in environment
        assert "PATH" in _environment(pid)
    finally:
        pool.stop()


def test_only_the_listed_variables_pass() -> None:
    given = {
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "HTTPS_PROXY": "http://proxy:3128",
        "PIMS_ENCRYPTION_KEY": CANARY,
        "DATABASE_URL": CANARY,
        "REPLICA_ID": "one",
    }
    assert chromium.browser_environment(given) == {
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "HTTPS_PROXY": "http://proxy:3128",
    }
