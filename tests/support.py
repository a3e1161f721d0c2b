"""What tests of several packages share: the simulator's login, fast provider settings, a
lease-counting browser source, and a clinic pointed at a simulator."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import date

from daemon.store import Store
from daemon.store.clinics import ClinicView
from providers.base import BrowserLease, Credentials
from providers.browsers import BrowserPool
from providers.idexx_neo.client import ClientSettings, RetryPolicy
from providers.idexx_neo.login import LoginTimeouts
from providers.idexx_neo.provider import NeoSettings

# A Wednesday: the default scenario has finalized visits yesterday and today, an all-day
# block the week after, and the US DST change (March 8) inside the inbound horizon.
TODAY = date(2026, 3, 4)
ZONE = "America/Los_Angeles"
PROVIDER = "idexx-neo"
CREDENTIALS = Credentials.of(username="demo", password="demo-password", company_id="demo-clinic")


def fast_settings(login_s: float) -> NeoSettings:
    """Short timeouts and retry delays, so failure tests take milliseconds, not seconds."""
    return NeoSettings(
        client=ClientSettings(
            connect_timeout_s=2.0,
            total_timeout_s=5.0,
            retry=RetryPolicy(retries=3, base_delay_s=0.01, max_delay_s=0.05),
        ),
        login=LoginTimeouts(page_s=login_s, step_s=login_s, outcome_s=login_s),
        lease_timeout_s=30.0,
    )


class CountingBrowsers:
    """A ``BrowserSource`` that counts the leases it hands out."""

    def __init__(self, pool: BrowserPool) -> None:
        self.pool = pool
        self.leases = 0

    def lease(self, timeout_s: float = 60.0) -> AbstractAsyncContextManager[BrowserLease]:
        self.leases += 1
        return self.pool.lease(timeout_s)


def add_simulated_clinic(
    store: Store, name: str, base_url: str, timezone: str = ZONE
) -> ClinicView:
    """A clinic on the simulator at ``base_url``, with the simulator's credentials stored."""
    clinic = store.clinics.add(name=name, timezone=timezone, provider=PROVIDER, base_url=base_url)
    store.credentials.set(
        clinic.id,
        provider=PROVIDER,
        fields={name: CREDENTIALS.require(name) for name in CREDENTIALS.names()},
    )
    return clinic
