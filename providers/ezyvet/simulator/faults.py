"""ezyVet's fault knobs: its endpoints, 429 storms, token expiry, value styles, rate limits,
short pages.

The engine (locking, ``fail_next``/``errors`` injection, reset) is ``providers.simulation.knobs``.
"""

from __future__ import annotations

from typing import Any

from providers.ezyvet.simulator.render import VALUE_STYLES
from providers.ezyvet.simulator.scenarios import RESOURCES
from providers.simulation import knobs
from providers.simulation.knobs import FaultError, Knobs

__all__ = ["ENDPOINTS", "FaultError", "Faults", "default_knobs"]

ENDPOINTS: frozenset[str] = frozenset({"access_token", *RESOURCES})
ERROR_SEED = 20261130


def default_knobs(
    client_secret: str,
    latency_ms: int,
    rate_limit: int,
    site_rate_limit: int,
    window_s: float,
) -> dict[str, Any]:
    return {
        "latency_ms": latency_ms,
        "errors": {},
        "fail_next": {},
        "consult_status": {},
        "empty": [],
        "short_pages": {},
        "storm": 0,
        "storm_reset_s": 1,
        "token_expire_after": None,
        "new_token_revokes_old": True,
        "client_secret": client_secret,
        "value_style": "spec",
        "rate_limit_per_window": rate_limit,
        "site_rate_limit_per_window": site_rate_limit,
        "rate_window_s": window_s,
    }


_VALIDATORS: dict[str, knobs.Validator] = {
    **knobs.common_validators(ENDPOINTS),
    "consult_status": knobs.status_by_id("consult_status", "consult"),
    "empty": knobs.endpoint_list(ENDPOINTS, "empty"),
    "short_pages": knobs.count_by_endpoint(ENDPOINTS, "short_pages"),
    "storm": knobs.integer(0, "storm"),
    "storm_reset_s": knobs.positive_number("storm_reset_s"),
    "token_expire_after": knobs.integer(0, "token_expire_after", optional=True),
    "new_token_revokes_old": knobs.boolean("new_token_revokes_old"),
    "client_secret": knobs.secret("client_secret"),
    "value_style": knobs.choice(VALUE_STYLES, "value_style"),
    "rate_limit_per_window": knobs.integer(1, "rate_limit_per_window"),
    "site_rate_limit_per_window": knobs.integer(1, "site_rate_limit_per_window"),
    "rate_window_s": knobs.positive_number("rate_window_s"),
}


class Faults(Knobs):
    def __init__(self, defaults: dict[str, Any]) -> None:
        # The client secret is a knob so that a test can rotate it; HTTP snapshots omit it.
        super().__init__(defaults, _VALIDATORS, secret="client_secret", seed=ERROR_SEED)

    def take_storm(self) -> float | None:
        """The reset of a 429 this request must get (a storm in progress), else None."""
        with self._lock:
            if self._knobs["storm"] > 0:
                self._knobs["storm"] -= 1
                return float(self._knobs["storm_reset_s"])
        return None

    def take_short_page(self, endpoint: str) -> bool:
        """Whether this answer of a page after the first must come back without its items (the
        meta still counting them), as a lagging read replica behind the API would answer."""
        with self._lock:
            left = self._knobs["short_pages"].get(endpoint, 0)
            if left <= 0:
                return False
            if left == 1:
                del self._knobs["short_pages"][endpoint]
            else:
                self._knobs["short_pages"][endpoint] = left - 1
            return True
