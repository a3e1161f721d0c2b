"""Strict validation of trigger bodies (contract §3.2): every problem is reported, by field.

Unknown fields are refused (a typo such as ``lookbackDay`` must not silently run a default
sync); booleans are not integers; dates are real ``YYYY-MM-DD`` calendar dates, start ≤ end,
at most 62 dates. The engine fills in the defaults for dates left out (they depend on the
clinic's timezone and configuration, which the HTTP layer does not know).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Final

from daemon.http.errors import ApiError, FieldError
from daemon.sync.requests import DEFAULT_LOOKBACK_DAYS, DEFAULT_PARALLEL_BATCH_SIZE, SyncRequest
from daemon.validation import InvalidValue, local_date

MAX_RANGE_DAYS: Final = 62
PARALLEL_RANGE: Final = (1, 20)
LOOKBACK_RANGE: Final = (1, 90)

#: The fields each trigger accepts (camelCase, as on the wire).
FIELDS: Final[dict[str, frozenset[str]]] = {
    "inbound": frozenset({"dateRange", "forceFullSync"}),
    "cases": frozenset({"startDate", "endDate", "parallelBatchSize", "forceFullSync"}),
    "reconciliation": frozenset({"lookbackDays", "force"}),
}
DATE_RANGE_FIELDS: Final = frozenset({"start", "end"})
_ABSENT: Final = object()  # a field left out (an explicit null is a wrong type, not absent)


class _Collector:
    """Gathers every field error of one body, so the caller can fix them all at once."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message))

    def unknown(self, body: dict[str, Any], allowed: frozenset[str], prefix: str = "") -> None:
        for name in sorted(set(body) - allowed):
            self.add(prefix + name, f"unknown field (allowed: {', '.join(sorted(allowed))})")

    def boolean(self, body: dict[str, Any], name: str) -> bool:
        value = body.get(name, False)
        if not isinstance(value, bool):
            self.add(name, "must be true or false")
            return False
        return value

    def integer(self, body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.add(name, f"must be an integer from {low} to {high}")
            return default
        return value

    def day(self, value: Any, name: str) -> date | None:
        if not isinstance(value, str):
            self.add(name, "must be a date YYYY-MM-DD")
            return None
        try:
            return local_date(value, name)
        except InvalidValue as exc:
            self.add(name, exc.rule)
            return None

    def date_range(
        self, start: Any, end: Any, names: tuple[str, str]
    ) -> tuple[date | None, date | None]:
        """Both dates or neither: a lone bound would silently pair with a default other end."""
        if start is _ABSENT and end is _ABSENT:
            return None, None
        if start is _ABSENT or end is _ABSENT:
            missing, given = (names[0], names[1]) if start is _ABSENT else (names[1], names[0])
            self.add(missing, f"is required when {given} is given")
            return None, None
        first, last = self.day(start, names[0]), self.day(end, names[1])
        if first is None or last is None:
            return None, None
        if first > last:
            self.add(names[1], f"must not be before {names[0]}")
        elif (last - first).days + 1 > MAX_RANGE_DAYS:
            self.add(names[1], f"the range may cover at most {MAX_RANGE_DAYS} dates")
        return first, last

    def raise_if_any(self) -> None:
        if self.errors:
            summary = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
            raise ApiError(400, f"invalid request body: {summary}", details=self.errors)


def _inbound(body: dict[str, Any], check: _Collector) -> SyncRequest:
    start = end = None
    if "dateRange" in body:
        value = body["dateRange"]
        if not isinstance(value, dict):
            check.add("dateRange", "must be an object {start, end}")
        else:
            check.unknown(value, DATE_RANGE_FIELDS, prefix="dateRange.")
            missing = sorted(DATE_RANGE_FIELDS - set(value))
            for name in missing:
                check.add(f"dateRange.{name}", "is required")
            if not missing:
                start, end = check.date_range(
                    value["start"], value["end"], ("dateRange.start", "dateRange.end")
                )
    force_full = check.boolean(body, "forceFullSync")
    return SyncRequest("inbound", "api", start_date=start, end_date=end, force_full_sync=force_full)


def _cases(body: dict[str, Any], check: _Collector) -> SyncRequest:
    start, end = check.date_range(
        body.get("startDate", _ABSENT), body.get("endDate", _ABSENT), ("startDate", "endDate")
    )
    batch = check.integer(body, "parallelBatchSize", DEFAULT_PARALLEL_BATCH_SIZE, *PARALLEL_RANGE)
    force_full = check.boolean(body, "forceFullSync")
    return SyncRequest(
        "cases",
        "api",
        start_date=start,
        end_date=end,
        parallel_batch_size=batch,
        force_full_sync=force_full,
    )


def _reconciliation(body: dict[str, Any], check: _Collector) -> SyncRequest:
    lookback = check.integer(body, "lookbackDays", DEFAULT_LOOKBACK_DAYS, *LOOKBACK_RANGE)
    force = check.boolean(body, "force")
    return SyncRequest("reconciliation", "api", lookback_days=lookback, force=force)


_BUILDERS: Final[dict[str, Callable[[dict[str, Any], _Collector], SyncRequest]]] = {
    "inbound": _inbound,
    "cases": _cases,
    "reconciliation": _reconciliation,
}


def sync_request(sync_type: str, body: dict[str, Any]) -> SyncRequest:
    """The :class:`SyncRequest` a trigger body asks for, or a 400 naming every bad field."""
    check = _Collector()
    check.unknown(body, FIELDS[sync_type])
    request = _BUILDERS[sync_type](body, check)
    check.raise_if_any()
    return request
