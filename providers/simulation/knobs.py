"""The fault-knob engine: what a test can make a simulator do wrong, validated and thread-safe.

Knobs are changed from the test's thread (or over HTTP) while the server's thread reads them,
so every read and write goes through one lock, and readers get copies. Each simulator names its
knobs, their defaults and validators; the engine and the validators common to both live here.
"""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Callable, Mapping
from typing import Any

Validator = Callable[[Any], Any]


class FaultError(ValueError):
    """A knob change was rejected; the message names the knob, never a secret's value."""


class Knobs:
    def __init__(
        self,
        defaults: dict[str, Any],
        validators: Mapping[str, Validator],
        *,
        secret: str,
        seed: int,
    ) -> None:
        """``secret`` names the knob that holds a credential (left out of public snapshots);
        ``seed`` makes random error injection reproducible from one run to the next."""
        self._validators = validators
        self._secret = secret
        self._seed = seed
        self._defaults = {name: self._validate(name, value) for name, value in defaults.items()}
        self._lock = threading.Lock()
        self._knobs = copy.deepcopy(self._defaults)
        self._rng = random.Random(seed)

    def snapshot(self, *, include_secret: bool = True) -> dict[str, Any]:
        with self._lock:
            knobs = copy.deepcopy(self._knobs)
        if not include_secret:
            knobs.pop(self._secret)
        return knobs

    def get(self, name: str) -> Any:
        with self._lock:
            return copy.deepcopy(self._knobs[name])

    def update(self, changes: dict[str, Any]) -> None:
        """Replace the named knobs (all or none: one invalid value rejects the whole change)."""
        if not isinstance(changes, dict):
            raise FaultError("knobs must be a JSON object")
        validated = {name: self._validate(name, value) for name, value in changes.items()}
        with self._lock:
            self._knobs.update(validated)
            if "errors" in validated:
                self._rng = random.Random(self._seed)

    def reset(self) -> None:
        with self._lock:
            self._knobs = copy.deepcopy(self._defaults)
            self._rng = random.Random(self._seed)

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

    def _validate(self, name: str, value: Any) -> Any:
        validator = self._validators.get(name)
        if validator is None:
            known = ", ".join(sorted(self._validators))
            raise FaultError(f"unknown knob {name!r}; known knobs: {known}")
        return validator(value)


# -- validators -------------------------------------------------------------------------------


def status(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 200 <= value <= 599:
        raise FaultError(f"{where}: an HTTP status must be an integer 200..599")
    return value


def endpoint(endpoints: frozenset[str], value: Any, where: str) -> str:
    if value not in endpoints:
        raise FaultError(
            f"{where}: unknown endpoint {value!r}; known: {', '.join(sorted(endpoints))}"
        )
    return str(value)


def integer(minimum: int, where: str, *, optional: bool = False) -> Validator:
    def check(value: Any) -> Any:
        if optional and value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise FaultError(f"{where} must be an integer >= {minimum}")
        return value

    return check


def positive_number(where: str) -> Validator:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise FaultError(f"{where} must be a number > 0")
        return float(value)

    return check


def boolean(where: str) -> Validator:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise FaultError(f"{where} must be true or false")
        return value

    return check


def choice(allowed: frozenset[str], where: str) -> Validator:
    def check(value: Any) -> str:
        if value not in allowed:
            raise FaultError(f"{where} must be one of {', '.join(sorted(allowed))}")
        return str(value)

    return check


def secret(where: str) -> Validator:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise FaultError(f"{where} must be a non-empty string")
        return value

    return check


def status_by_id(where: str, what: str) -> Validator:
    """A map of record id -> the HTTP status its detail request must get."""

    def check(value: Any) -> dict[str, int]:
        if not isinstance(value, dict):
            raise FaultError(f"{where} must map {what} id -> status")
        return {str(key): status(code, where) for key, code in value.items()}

    return check


def endpoint_list(endpoints: frozenset[str], where: str) -> Validator:
    def check(value: Any) -> list[str]:
        if not isinstance(value, list):
            raise FaultError(f"{where} must be a list of endpoints")
        return sorted({endpoint(endpoints, item, where) for item in value})

    return check


def count_by_endpoint(endpoints: frozenset[str], where: str) -> Validator:
    """A map of endpoint -> how many of its next answers the fault applies to."""

    def check(value: Any) -> dict[str, int]:
        if not isinstance(value, dict):
            raise FaultError(f"{where} must map endpoint -> count")
        result: dict[str, int] = {}
        for name, count in value.items():
            endpoint(endpoints, name, where)
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise FaultError(f"{where}: each count must be a whole number >= 0")
            if count:
                result[name] = count
        return result

    return check


def errors(endpoints: frozenset[str]) -> Validator:
    """``errors``: endpoint -> {rate, status}, a random share of requests fail with status."""

    def check(value: Any) -> dict[str, dict[str, Any]]:
        if not isinstance(value, dict):
            raise FaultError("errors must map endpoint -> {rate, status}")
        result: dict[str, dict[str, Any]] = {}
        for name, rule in value.items():
            endpoint(endpoints, name, "errors")
            if not isinstance(rule, dict) or set(rule) - {"rate", "status"}:
                raise FaultError("errors: each rule is {rate, status}")
            rate = rule.get("rate", 1.0)
            if (
                isinstance(rate, bool)
                or not isinstance(rate, int | float)
                or not 0.0 <= rate <= 1.0
            ):
                raise FaultError("errors: rate must be a number 0..1")
            result[name] = {
                "rate": float(rate),
                "status": status(rule.get("status", 500), "errors"),
            }
        return result

    return check


def fail_next(endpoints: frozenset[str]) -> Validator:
    """``fail_next``: endpoint -> [status, ...], the next requests fail with these, in order."""

    def check(value: Any) -> dict[str, list[int]]:
        if not isinstance(value, dict):
            raise FaultError("fail_next must map endpoint -> [status, ...]")
        result: dict[str, list[int]] = {}
        for name, statuses in value.items():
            endpoint(endpoints, name, "fail_next")
            if not isinstance(statuses, list):
                raise FaultError("fail_next: each value is a list of statuses")
            if statuses:
                result[name] = [status(s, "fail_next") for s in statuses]
        return result

    return check


def common_validators(endpoints: frozenset[str]) -> dict[str, Validator]:
    """The knobs every simulator has: latency and injected errors."""
    return {
        "latency_ms": integer(0, "latency_ms"),
        "errors": errors(endpoints),
        "fail_next": fail_next(endpoints),
    }
