"""Who and what a log line is about: clinic, sync, provider, HTTP request.

The values live in :mod:`contextvars`, so asyncio tasks inherit them on creation and a thread
sees them when it is started through :func:`bind_context` (or ``contextvars.copy_context().run``).
pykka messages cross threads without a context: send ``current_context()`` along with the
message and re-enter it with ``log_context(**fields)`` in the actor.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any, Final, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

#: The fields every log line carries when they are set, in output order.
CONTEXT_FIELDS: Final = ("clinic_id", "sync_id", "sync_type", "provider", "request_id")

_VARS: Final[dict[str, contextvars.ContextVar[str | None]]] = {
    name: contextvars.ContextVar(f"pims_sync_{name}", default=None) for name in CONTEXT_FIELDS
}

# Any other field (e.g. ``trigger``) rides in one immutable mapping, so that setting it in a
# child task never leaks into the parent's copy.
_EXTRA: Final[contextvars.ContextVar[Mapping[str, Any]]] = contextvars.ContextVar(
    "pims_sync_log_extra", default=MappingProxyType({})
)

#: Attributes every ``logging.LogRecord`` has; a field of ours with one of these names would
#: overwrite the record's own data.
RECORD_ATTRS: Final = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def _check_name(name: str) -> None:
    if not name.isidentifier() or name.startswith("_") or name in RECORD_ATTRS:
        raise ValueError(f"log context field {name!r} is not allowed (reserved or not a name)")


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add fields to every log line written inside the block, then restore what was there.

    ``None`` unsets a field for the block. Non-string values of the five standard fields are
    stored as strings (UUIDs, enums), so that every line of one sync carries the same text.
    """
    tokens: list[tuple[contextvars.ContextVar[str | None], contextvars.Token[str | None]]] = []
    extra_updates: dict[str, Any] = {}
    for name, value in fields.items():
        _check_name(name)
        var = _VARS.get(name)
        if var is None:
            extra_updates[name] = value
        else:
            tokens.append((var, var.set(None if value is None else str(value))))
    extra_token: contextvars.Token[Mapping[str, Any]] | None = None
    if extra_updates:
        merged = {**_EXTRA.get(), **extra_updates}
        merged = {key: value for key, value in merged.items() if value is not None}
        extra_token = _EXTRA.set(MappingProxyType(merged))
    try:
        yield
    finally:
        if extra_token is not None:
            _EXTRA.reset(extra_token)
        for var, token in reversed(tokens):
            var.reset(token)


def current_context() -> dict[str, Any]:
    """The fields set here and now (unset ones are left out), standard fields first."""
    result: dict[str, Any] = {}
    for name, var in _VARS.items():
        value = var.get()
        if value is not None:
            result[name] = value
    result.update(_EXTRA.get())
    return result


def bind_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap ``fn`` so that it runs in the context of the caller of ``bind_context``.

    For thread targets and executor jobs. Each call runs in its own copy, because one
    ``contextvars.Context`` cannot be entered by two threads at once.
    """
    captured = contextvars.copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return captured.copy().run(fn, *args, **kwargs)

    return run
