"""Which Chromium runs: ``CHROMIUM_PATH``, then Debian's headless shell, then the full browser,
then Playwright's own (contract §7); and a real login works with each Debian build."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from providers.base import BrowserUnavailable, MemorySessionStore, ProviderContext
from providers.browsers import BrowserPool, chromium
from providers.idexx_neo.provider import IdexxNeoProvider
from providers.idexx_neo.simulator import SimulatorServer
from tests.providers.conftest import FAST, run
from tests.support import CREDENTIALS, TODAY, ZONE, CountingBrowsers


def _executable(path: Path) -> str:
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return str(path)


def test_autodetect_prefers_the_headless_shell_then_chromium_then_playwrights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shell, full = tmp_path / "chromium-headless-shell", tmp_path / "chromium"
    bundled = _executable(tmp_path / "playwright-chromium")
    monkeypatch.setattr(chromium, "DEBIAN_CANDIDATES", (str(shell), str(full)))

    assert chromium.find_chromium(None, bundled) == bundled
    _executable(full)
    assert chromium.find_chromium(None, bundled) == str(full)
    _executable(shell)
    assert chromium.find_chromium(None, bundled) == str(shell)
    # The operator's choice wins over every autodetected one, and a bad one is an error.
    assert chromium.find_chromium(str(full), bundled) == str(full)
    with pytest.raises(BrowserUnavailable, match="CHROMIUM_PATH"):
        chromium.find_chromium(str(tmp_path / "missing"), bundled)
    shell.chmod(0o644)  # present but not executable: skipped
    assert chromium.find_chromium(None, bundled) == str(full)
    full.unlink()
    shell.unlink()
    with pytest.raises(BrowserUnavailable, match="chromium-headless-shell"):
        chromium.find_chromium(None, None)


def test_this_machine_autodetects_the_headless_shell() -> None:
    assert os.access(chromium.DEBIAN_HEADLESS_SHELL, os.X_OK), (
        "apt-get install chromium-headless-shell"
    )
    # Launched as the binary the Debian script wraps: the script runs it without exec, so the
    # pool would otherwise watch (and kill) the shell instead of the browser.
    assert chromium.find_chromium(None, None) == chromium.DEBIAN_HEADLESS_SHELL_BINARY
    assert chromium.find_chromium(chromium.DEBIAN_HEADLESS_SHELL, None) == (
        chromium.DEBIAN_HEADLESS_SHELL_BINARY
    )


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(today=TODAY, timezone=ZONE) as server:
        yield server


@pytest.mark.browser
@pytest.mark.parametrize("executable", [chromium.DEBIAN_HEADLESS_SHELL, chromium.DEBIAN_CHROMIUM])
def test_a_real_login_works_with_each_debian_build(sim: SimulatorServer, executable: str) -> None:
    pool = BrowserPool(size=1, chromium_path=executable)
    try:
        browsers = CountingBrowsers(pool)
        store = MemorySessionStore()
        context = ProviderContext(
            clinic_id="clinic-test",
            timezone=ZoneInfo(ZONE),
            base_url=sim.url,
            session_store=store,
            browsers=browsers,
        )
        logins = sim.stats()["logins"]

        async def scenario() -> int:
            async with IdexxNeoProvider(context, FAST) as provider:
                await provider.authenticate(CREDENTIALS)
                return len(await provider.fetch_appointments(TODAY, TODAY))

        assert run(scenario()) > 0
        assert pool.executable == chromium.unwrapped(executable)
        assert browsers.leases == 1 and sim.stats()["logins"] == logins + 1
        assert store.load() is not None
    finally:
        pool.stop()
