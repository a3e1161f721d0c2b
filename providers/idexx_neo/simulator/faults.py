"""IDEXX Neo's fault knobs: its endpoints, session expiry, tenant and payload variants.

The engine (locking, ``fail_next``/``errors`` injection, reset) is ``providers.simulation.knobs``.
"""

from __future__ import annotations

from typing import Any

from providers.simulation import knobs
from providers.simulation.knobs import FaultError, Knobs

__all__ = ["ENDPOINTS", "FaultError", "Faults", "default_knobs"]

ENDPOINTS: frozenset[str] = frozenset(
    {"login", "dashboard", "calendar", "consultation", "appointment_view"}
)
EXPIRY_MODES: frozenset[str] = frozenset({"redirect", "401", "403", "html"})
VARIANTS: frozenset[str] = frozenset({"snake", "camel"})
ENVELOPES: frozenset[str] = frozenset({"array", "appointments", "data", "events"})
TENANTS: frozenset[str] = frozenset({"standard", "no_company", "second_factor", "branch_picker"})

ERROR_SEED = 20260302  # random error injection is reproducible from one run to the next


def default_knobs(password: str, latency_ms: int) -> dict[str, Any]:
    return {
        "latency_ms": latency_ms,
        "errors": {},
        "fail_next": {},
        "consultation_status": {},
        "hang": [],
        "session_expire_after": None,
        "expiry_mode": "redirect",
        "password": password,
        "variant": "snake",
        "envelope": "array",
        "tenant": "standard",
        "empty_calendar": False,
    }


_VALIDATORS: dict[str, knobs.Validator] = {
    **knobs.common_validators(ENDPOINTS),
    "consultation_status": knobs.status_by_id("consultation_status", "consultation"),
    "hang": knobs.endpoint_list(ENDPOINTS, "hang"),
    "session_expire_after": knobs.integer(0, "session_expire_after", optional=True),
    "expiry_mode": knobs.choice(EXPIRY_MODES, "expiry_mode"),
    "password": knobs.secret("password"),
    "variant": knobs.choice(VARIANTS, "variant"),
    "envelope": knobs.choice(ENVELOPES, "envelope"),
    "tenant": knobs.choice(TENANTS, "tenant"),
    "empty_calendar": knobs.boolean("empty_calendar"),
}


class Faults(Knobs):
    def __init__(self, password: str, latency_ms: int = 0) -> None:
        if latency_ms < 0:
            raise FaultError("latency_ms must be >= 0")
        # The password is a knob so that a test can change it; snapshots served over HTTP omit it.
        super().__init__(
            default_knobs(password, latency_ms), _VALIDATORS, secret="password", seed=ERROR_SEED
        )

    def consultation_status(self, consultation_id: str) -> int | None:
        status = self.get("consultation_status").get(consultation_id)
        return int(status) if status is not None else None

    def hangs(self, endpoint: str) -> bool:
        return endpoint in self.get("hang")
