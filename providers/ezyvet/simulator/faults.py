"""Fault knobs: what a test can make the simulated ezyVet do, validated and thread-safe."""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Callable
from typing import Any

from providers.ezyvet.simulator.render import VALUE_STYLES
from providers.ezyvet.simulator.scenarios import RESOURCES

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


class FaultError(ValueError):
    """A knob change was rejected; the message names the knob, never a secret."""


class Faults:
    def __init__(self, defaults: dict[str, Any]) -> None:
        self._defaults = {name: _validate(name, value) for name, value in defaults.items()}
        self._lock = threading.Lock()
        self._knobs = copy.deepcopy(self._defaults)
        self._rng = random.Random(ERROR_SEED)

    def snapshot(self, *, include_secret: bool = True) -> dict[str, Any]:
        with self._lock:
            knobs = copy.deepcopy(self._knobs)
        if not include_secret:
            knobs.pop("client_secret")
        return knobs

    def get(self, name: str) -> Any:
        with self._lock:
            return copy.deepcopy(self._knobs[name])

    def update(self, changes: dict[str, Any]) -> None:
        """Replace the named knobs (all or none)."""
        if not isinstance(changes, dict):
            raise FaultError("knobs must be a JSON object")
        validated = {name: _validate(name, value) for name, value in changes.items()}
        with self._lock:
            self._knobs.update(validated)
            if "errors" in validated:
                self._rng = random.Random(ERROR_SEED)

    def reset(self) -> None:
        with self._lock:
            self._knobs = copy.deepcopy(self._defaults)
            self._rng = random.Random(ERROR_SEED)

    def injected_status(self, endpoint: str) -> int | None:
        with self._lock:
            queue = self._knobs["fail_next"].get(endpoint)
            if queue:
                status: int = queue.pop(0)
                if not queue:
                    del self._knobs["fail_next"][endpoint]
                return status
            rule = self._knobs["errors"].get(endpoint)
            if rule and self._rng.random() < rule["rate"]:
                return int(rule["status"])
        return None

    def take_storm(self) -> float | None:
        """The reset of a 429 this request must get (a storm in progress), else None."""
        with self._lock:
            if self._knobs["storm"] > 0:
                self._knobs["storm"] -= 1
                return float(self._knobs["storm_reset_s"])
        return None


def _validate(name: str, value: Any) -> Any:
    validator = _VALIDATORS.get(name)
    if validator is None:
        raise FaultError(f"unknown knob {name!r}; known knobs: {', '.join(sorted(_VALIDATORS))}")
    return validator(value)


def _status(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 200 <= value <= 599:
        raise FaultError(f"{where}: an HTTP status must be an integer 200..599")
    return value


def _endpoint(value: Any, where: str) -> str:
    if value not in ENDPOINTS:
        raise FaultError(
            f"{where}: unknown endpoint {value!r}; known: {', '.join(sorted(ENDPOINTS))}"
        )
    return str(value)


def _int(minimum: int, where: str, *, optional: bool = False) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if optional and value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise FaultError(f"{where} must be an integer >= {minimum}")
        return value

    return check


def _positive_number(where: str) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise FaultError(f"{where} must be a number > 0")
        return float(value)

    return check


def _bool(where: str) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise FaultError(f"{where} must be true or false")
        return value

    return check


def _errors(value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        raise FaultError("errors must map endpoint -> {rate, status}")
    result: dict[str, dict[str, Any]] = {}
    for endpoint, rule in value.items():
        _endpoint(endpoint, "errors")
        if not isinstance(rule, dict) or set(rule) - {"rate", "status"}:
            raise FaultError("errors: each rule is {rate, status}")
        rate = rule.get("rate", 1.0)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
            raise FaultError("errors: rate must be a number 0..1")
        result[endpoint] = {
            "rate": float(rate),
            "status": _status(rule.get("status", 500), "errors"),
        }
    return result


def _fail_next(value: Any) -> dict[str, list[int]]:
    if not isinstance(value, dict):
        raise FaultError("fail_next must map endpoint -> [status, ...]")
    result: dict[str, list[int]] = {}
    for endpoint, statuses in value.items():
        _endpoint(endpoint, "fail_next")
        if not isinstance(statuses, list):
            raise FaultError("fail_next: each value is a list of statuses")
        if statuses:
            result[endpoint] = [_status(s, "fail_next") for s in statuses]
    return result


def _consult_status(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise FaultError("consult_status must map consult id -> status")
    return {str(key): _status(status, "consult_status") for key, status in value.items()}


def _empty(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise FaultError("empty must be a list of endpoints")
    return sorted({_endpoint(e, "empty") for e in value})


def _secret(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise FaultError("client_secret must be a non-empty string")
    return value


def _style(value: Any) -> str:
    if value not in VALUE_STYLES:
        raise FaultError(f"value_style must be one of {', '.join(sorted(VALUE_STYLES))}")
    return str(value)


_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "latency_ms": _int(0, "latency_ms"),
    "errors": _errors,
    "fail_next": _fail_next,
    "consult_status": _consult_status,
    "empty": _empty,
    "storm": _int(0, "storm"),
    "storm_reset_s": _positive_number("storm_reset_s"),
    "token_expire_after": _int(0, "token_expire_after", optional=True),
    "new_token_revokes_old": _bool("new_token_revokes_old"),
    "client_secret": _secret,
    "value_style": _style,
    "rate_limit_per_window": _int(1, "rate_limit_per_window"),
    "site_rate_limit_per_window": _int(1, "site_rate_limit_per_window"),
    "rate_window_s": _positive_number("rate_window_s"),
}
