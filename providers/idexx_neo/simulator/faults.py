"""Fault knobs: what a test can make the simulator do wrong, validated and thread-safe.

Knobs are changed from the test's thread (or over HTTP) while the server's thread reads them,
so every read and write goes through one lock, and readers get copies.
"""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Callable
from typing import Any

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


class FaultError(ValueError):
    """A knob change was rejected; the message names the knob but never echoes a password."""


class Faults:
    def __init__(self, password: str, latency_ms: int = 0) -> None:
        if latency_ms < 0:
            raise FaultError("latency_ms must be >= 0")
        self._defaults = default_knobs(password, latency_ms)
        self._lock = threading.Lock()
        self._knobs = copy.deepcopy(self._defaults)
        self._rng = random.Random(ERROR_SEED)

    def snapshot(self, *, include_password: bool = True) -> dict[str, Any]:
        with self._lock:
            knobs = copy.deepcopy(self._knobs)
        if not include_password:
            knobs.pop("password")
        return knobs

    def get(self, name: str) -> Any:
        with self._lock:
            return copy.deepcopy(self._knobs[name])

    def update(self, changes: dict[str, Any]) -> None:
        """Replace the named knobs (all or none: one invalid value rejects the whole change)."""
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
        """The status this request must fail with (``fail_next`` first, then ``errors``), if any."""
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

    def consultation_status(self, consultation_id: str) -> int | None:
        with self._lock:
            status = self._knobs["consultation_status"].get(consultation_id)
            return int(status) if status is not None else None

    def hangs(self, endpoint: str) -> bool:
        with self._lock:
            return endpoint in self._knobs["hang"]


def _validate(name: str, value: Any) -> Any:
    validator = _VALIDATORS.get(name)
    if validator is None:
        known = ", ".join(sorted(_VALIDATORS))
        raise FaultError(f"unknown knob {name!r}; known knobs: {known}")
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


def _non_negative_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultError(f"{where} must be an integer >= 0")
    return value


def _choice(allowed: frozenset[str], where: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in allowed:
            raise FaultError(f"{where} must be one of {', '.join(sorted(allowed))}")
        return str(value)

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


def _consultation_status(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise FaultError("consultation_status must map consultation id -> status")
    return {str(cid): _status(status, "consultation_status") for cid, status in value.items()}


def _hang(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise FaultError("hang must be a list of endpoints")
    return sorted({_endpoint(endpoint, "hang") for endpoint in value})


def _session_expire_after(value: Any) -> int | None:
    return None if value is None else _non_negative_int(value, "session_expire_after")


def _password(value: Any) -> str:
    if not isinstance(value, str) or value == "":
        raise FaultError("password must be a non-empty string")
    return value


def _empty_calendar(value: Any) -> bool:
    if not isinstance(value, bool):
        raise FaultError("empty_calendar must be true or false")
    return value


_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "latency_ms": lambda v: _non_negative_int(v, "latency_ms"),
    "errors": _errors,
    "fail_next": _fail_next,
    "consultation_status": _consultation_status,
    "hang": _hang,
    "session_expire_after": _session_expire_after,
    "expiry_mode": _choice(EXPIRY_MODES, "expiry_mode"),
    "password": _password,
    "variant": _choice(VARIANTS, "variant"),
    "envelope": _choice(ENVELOPES, "envelope"),
    "tenant": _choice(TENANTS, "tenant"),
    "empty_calendar": _empty_calendar,
}
