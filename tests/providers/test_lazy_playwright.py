"""A sync on a cached IDEXX Neo session does not load Playwright; a login does.

Loading Playwright costs a tenth of a second or more of every ``pims-sync sync``: the provider
module and the sync engine import it only where a login runs. Checked in a fresh process, since
this one has long loaded it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from providers.idexx_neo.simulator import SimulatorServer
from tests.support import CREDENTIALS, TODAY, ZONE

pytestmark = pytest.mark.browser

PROBE = """
import asyncio, json, sys
from datetime import date
from zoneinfo import ZoneInfo

import daemon.sync.runner  # the sync engine
from daemon.cli.common import LazyBrowserPool
from providers.base import Credentials, MemorySessionStore, ProviderContext
from providers.idexx_neo.provider import IdexxNeoProvider, NeoSettings

# Not from tests.support, which imports the browser pool (and so Playwright).
sim_url, zone = sys.argv[1], sys.argv[2]
today = date.fromisoformat(sys.argv[3])
CREDENTIALS = Credentials.of(**json.loads(sys.argv[4]))
session = sys.stdin.read()
loaded = lambda: "playwright" in sys.modules
seen = {"imported": loaded()}
pool = LazyBrowserPool(size=1)


def provider(store):
    context = ProviderContext("clinic-probe", ZoneInfo(zone), sim_url, store, pool)
    return IdexxNeoProvider(context, NeoSettings())


async def cached():
    store = MemorySessionStore()
    store.save(session, None)
    async with provider(store) as neo:
        await neo.authenticate(CREDENTIALS)
        return len(await neo.fetch_appointments(today, today))


async def login():
    async with provider(MemorySessionStore()) as neo:
        await neo.authenticate(CREDENTIALS)
        return neo.is_authenticated()


try:
    seen["appointments"] = asyncio.run(cached())
    seen["cached"] = loaded()
    seen["logged_in"] = asyncio.run(login())
    seen["login"] = loaded()
finally:
    pool.stop()
print(json.dumps(seen))
"""


def test_playwright_is_loaded_by_a_login_not_by_a_cached_session(
    sim: SimulatorServer, session: str
) -> None:
    logins = sim.stats()["logins"]
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE,
            sim.url,
            ZONE,
            TODAY.isoformat(),
            json.dumps({name: CREDENTIALS.require(name) for name in CREDENTIALS.names()}),
        ],
        input=session,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["imported"] is False
    assert seen["appointments"] > 0 and seen["cached"] is False
    assert seen["logged_in"] is True and seen["login"] is True
    assert sim.stats()["logins"] == logins + 1  # the cached session really was used
