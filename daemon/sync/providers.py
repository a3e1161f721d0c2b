"""Building a clinic's PIMS provider: the one place the sync engine turns a clinic row into a
:class:`PimsProvider` (which PIMS it is stays the registry's business)."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from daemon.observability.metrics import PrometheusRequestObserver
from daemon.store import Store
from daemon.store.clinics import ClinicView
from providers.base import (
    AppointmentStatus,
    BrowserSource,
    PimsProvider,
    ProviderContext,
    ProviderSettings,
    RequestObserver,
)
from providers.registry import create_provider

ObserverFactory = Callable[[str], RequestObserver]
Creator = Callable[[str, ProviderContext], PimsProvider]


class ProviderFactory:
    """Makes one provider per sync: the clinic's zone, base URL, cached session, browsers and
    provider settings (status map, block types).

    ``creator`` is the registry's ``create_provider``; tests and benchmarks may pass one that
    gives the provider other settings (shorter timeouts).
    """

    def __init__(
        self,
        store: Store,
        browsers: BrowserSource | None,
        observer_factory: ObserverFactory = PrometheusRequestObserver,
        creator: Creator = create_provider,
    ) -> None:
        self.store = store
        self.browsers = browsers
        self.observer_factory = observer_factory
        self.creator = creator

    def create(self, clinic: ClinicView, max_concurrency: int) -> PimsProvider:
        context = ProviderContext(
            clinic_id=str(clinic.id),
            timezone=ZoneInfo(clinic.timezone),
            base_url=clinic.base_url,
            session_store=self.store.session_store(clinic.id),
            browsers=self.browsers,
            max_concurrency=max(1, max_concurrency),
            observer=self.observer_factory(clinic.provider),
            settings=provider_settings(clinic),
        )
        return self.creator(clinic.provider, context)


def provider_settings(clinic: ClinicView) -> ProviderSettings:
    """The clinic's stored provider settings as the provider reads them. The CLI only stores
    valid statuses; an entry that is not one (edited by hand) is left out rather than failing
    every sync of the clinic."""
    statuses = {status.value: status for status in AppointmentStatus}
    return ProviderSettings(
        status_map={
            name.lower(): statuses[status]
            for name, status in clinic.status_map.items()
            if status in statuses
        },
        block_types=tuple(name.lower() for name in clinic.block_types),
    )
