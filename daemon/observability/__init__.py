"""Logs (stderr and Axiom, with context and masking) and Prometheus metrics.

The usual entry points::

    from daemon.observability import configure_logging, get_logger, log_context
    from daemon.observability import metrics

A handler added to the root logger elsewhere must carry ``ContextFilter()`` and then
``RedactionFilter()``, like the ones ``configure_logging`` installs.
"""

from daemon.observability.axiom import AxiomHandler, AxiomSettings
from daemon.observability.context import bind_context, current_context, log_context
from daemon.observability.logging import (
    ContextFilter,
    LoggingHandle,
    configure_logging,
    get_logger,
)
from daemon.observability.redaction import RedactionFilter, redact, redact_text

__all__ = [
    "AxiomHandler",
    "AxiomSettings",
    "ContextFilter",
    "LoggingHandle",
    "RedactionFilter",
    "bind_context",
    "configure_logging",
    "current_context",
    "get_logger",
    "log_context",
    "redact",
    "redact_text",
]
