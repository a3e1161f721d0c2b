"""Provider lookup by name: the only place that maps a clinic's ``pims_provider`` to code."""

from __future__ import annotations

import importlib

from providers.base import PimsProvider, ProviderContext

# name -> "module:Class"; imported lazily so that a clinic on one PIMS never loads another's code.
_PROVIDERS: dict[str, str] = {
    "idexx-neo": "providers.idexx_neo.provider:IdexxNeoProvider",
    "ezyvet": "providers.ezyvet.provider:EzyVetProvider",
}


class UnknownProvider(ValueError):
    def __init__(self, name: str) -> None:
        known = ", ".join(sorted(_PROVIDERS))
        super().__init__(f"unknown PIMS provider {name!r}: must be one of {known}")
        self.name = name


def provider_names() -> tuple[str, ...]:
    return tuple(sorted(_PROVIDERS))


def validate_provider_name(name: str) -> str:
    if name not in _PROVIDERS:
        raise UnknownProvider(name)
    return name


def provider_class(name: str) -> type[PimsProvider]:
    module_name, _, class_name = _PROVIDERS[validate_provider_name(name)].partition(":")
    cls: type[PimsProvider] = getattr(importlib.import_module(module_name), class_name)
    return cls


def create_provider(name: str, context: ProviderContext) -> PimsProvider:
    return provider_class(name)(context)
