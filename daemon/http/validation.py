"""Strict validation of trigger bodies (contract §3.2, §7): every problem is reported, by field.

The fields come from :mod:`daemon.http.schema` (the same declarations the OpenAPI document is
generated from). Unknown fields are refused (a typo such as ``lookbackDay`` must not silently
run a default sync); booleans are not integers, but an integral number written ``25.0`` is one
(JSON Schema's own rule); dates are real ``YYYY-MM-DD`` calendar dates within a sane window,
start ≤ end, at most 62 dates. The engine fills in the defaults for dates left out (they
depend on the clinic's timezone and configuration); the old service's relative ranges
(``daysAhead`` and friends) are turned into dates here, from the clinic's today.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final

from daemon.http.errors import ApiError, FieldError
from daemon.http.schema import (
    BODIES,
    RELATIVE_FIELDS,
    Body,
)
from daemon.http.schema import Field as Spec
from daemon.sync.ranges import MAX_RANGE_DATES
from daemon.sync.requests import DEFAULT_LOOKBACK_DAYS, DEFAULT_PARALLEL_BATCH_SIZE, SyncRequest
from daemon.validation import InvalidValue, local_date, sane_date

MAX_RANGE_DAYS: Final = MAX_RANGE_DATES
DATE_RANGE_FIELDS: Final = frozenset({"start", "end"})
#: The order the parts of ``POST /api/sync/full`` run in.
FULL_PARTS: Final = ("inbound", "cases", "reconciliation")


@dataclass
class TriggerBody:
    """What a valid body asks for."""

    requests: list[SyncRequest]  # one per part, in the order they run
    clinic_id: str | None = None  # the deprecated ``clinicId``, checked against the key
    deprecated: list[str] = field(default_factory=list)  # old shapes used (sorted)
    ignored: list[str] = field(default_factory=list)  # fields accepted without effect


class _Collector:
    """Gathers every field error of one body, so the caller can fix them all at once."""

    def __init__(self, today: date) -> None:
        self.errors: list[FieldError] = []
        self.today = today

    def add(self, name: str, message: str) -> None:
        self.errors.append(FieldError(name, message))

    def unknown(self, body: dict[str, Any], allowed: frozenset[str], prefix: str = "") -> None:
        for name in sorted(set(body) - allowed):
            self.add(prefix + name, f"unknown field (allowed: {', '.join(sorted(allowed))})")

    def values(self, body: dict[str, Any], declared: Body) -> dict[str, Any]:
        """Each declared field present in ``body``, checked and converted."""
        self.unknown(body, declared.names())
        result: dict[str, Any] = {}
        for name, spec in declared.fields.items():
            if name in body:  # an explicit null is a wrong type, not "absent"
                value = self._one(name, spec, body[name])
                if value is not None:
                    result[name] = value
        for first, second in declared.together:
            if (first in body) != (second in body):
                missing, given = (second, first) if first in body else (first, second)
                self.add(missing, f"is required when {given} is given")
                result.pop(first, None)
                result.pop(second, None)
        return result

    def _one(self, name: str, spec: Spec, value: Any) -> Any:
        if spec.kind == "boolean":
            if not isinstance(value, bool):
                self.add(name, "must be true or false")
                return None
            return value
        if spec.kind == "integer":
            return self.integer(name, value, spec.low, spec.high)
        if spec.kind == "date":
            return self.day(value, name)
        if spec.kind == "date_range":
            return self.date_range_object(name, value)
        if not isinstance(value, str) or not value.strip():
            self.add(name, "must be a clinic id (a UUID string)")
            return None
        return value.strip()

    def integer(self, name: str, value: Any, low: int, high: int) -> int | None:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 25.0 is the integer 25 (JSON Schema says so too)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.add(name, f"must be an integer from {low} to {high}")
            return None
        return value

    def day(self, value: Any, name: str) -> date | None:
        if not isinstance(value, str):
            self.add(name, "must be a date YYYY-MM-DD")
            return None
        try:
            parsed = local_date(value, name)
        except InvalidValue as exc:
            self.add(name, exc.rule)
            return None
        try:
            return sane_date(parsed, name, self.today)
        except InvalidValue as exc:
            self.add(name, exc.rule)
            return None

    def date_range_object(self, name: str, value: Any) -> tuple[date, date] | None:
        if not isinstance(value, dict):
            self.add(name, "must be an object {start, end}")
            return None
        self.unknown(value, DATE_RANGE_FIELDS, prefix=f"{name}.")
        missing = sorted(DATE_RANGE_FIELDS - set(value))
        for end in missing:
            self.add(f"{name}.{end}", "is required")
        if missing:
            return None
        first = self.day(value["start"], f"{name}.start")
        last = self.day(value["end"], f"{name}.end")
        if first is None or last is None:
            return None
        return first, last

    def ordered(
        self, first: date | None, last: date | None, names: tuple[str, str]
    ) -> tuple[date | None, date | None]:
        if first is None or last is None:
            return None, None
        if first > last:
            self.add(names[1], f"must not be before {names[0]}")
            return None, None
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            self.add(names[1], f"the range may cover at most {MAX_RANGE_DAYS} dates")
            return None, None
        return first, last

    def raise_if_any(self) -> None:
        if self.errors:
            summary = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
            raise ApiError(400, f"invalid request body: {summary}", details=self.errors)


def _ahead(today: date, days: int) -> tuple[date, date]:
    """today … today + days − 1."""
    return today, today + timedelta(days=days - 1)


def _only_one(check: _Collector, values: dict[str, Any], ways: list[tuple[str, ...]]) -> None:
    """A range is named one way only: two ways at once would leave one silently unused."""
    given = [way for way in ways if any(name in values for name in way)]
    if len(given) > 1:
        names = " and ".join("/".join(way) for way in given)
        check.add(given[1][0], f"name the range one way only (got {names})")


def _inbound(values: dict[str, Any], check: _Collector) -> SyncRequest:
    _only_one(check, values, [("dateRange",), ("startDate", "endDate"), ("daysAhead",)])
    start = end = None
    if "dateRange" in values:
        first, last = values["dateRange"]
        start, end = check.ordered(first, last, ("dateRange.start", "dateRange.end"))
    elif "startDate" in values:
        start, end = check.ordered(
            values.get("startDate"), values.get("endDate"), ("startDate", "endDate")
        )
    elif "daysAhead" in values:
        start, end = _ahead(check.today, values["daysAhead"])
    return SyncRequest(
        "inbound",
        "api",
        start_date=start,
        end_date=end,
        force_full_sync=values.get("forceFullSync", False),
        force=values.get("force", False),
    )


def _cases(values: dict[str, Any], check: _Collector) -> SyncRequest:
    start, end = check.ordered(
        values.get("startDate"), values.get("endDate"), ("startDate", "endDate")
    )
    return SyncRequest(
        "cases",
        "api",
        start_date=start,
        end_date=end,
        parallel_batch_size=values.get("parallelBatchSize", DEFAULT_PARALLEL_BATCH_SIZE),
        force_full_sync=values.get("forceFullSync", False),
    )


def _reconciliation(values: dict[str, Any], _check: _Collector) -> SyncRequest:
    return SyncRequest(
        "reconciliation",
        "api",
        lookback_days=values.get("lookbackDays", DEFAULT_LOOKBACK_DAYS),
        force=values.get("force", False),
    )


def _full(values: dict[str, Any], check: _Collector) -> list[SyncRequest]:
    """The parts of the old ``/full``, in order, each with the range its fields ask for."""
    if values.get("skipInbound") and values.get("skipOutbound"):
        check.add("skipOutbound", "skipInbound and skipOutbound together leave nothing to run")
    parts: list[SyncRequest] = []
    if not values.get("skipInbound"):
        ahead = [
            values[name]
            for name in ("forwardDays", "daysAhead", "scheduleDaysAhead", "appointmentDaysAhead")
            if name in values
        ]
        start, end = _ahead(check.today, max(ahead)) if ahead else (None, None)
        parts.append(SyncRequest("inbound", "api", start_date=start, end_date=end))
    if not values.get("skipOutbound"):
        if "startDate" in values:
            first, last = check.ordered(
                values.get("startDate"), values.get("endDate"), ("startDate", "endDate")
            )
        elif "backwardDays" in values:
            first, last = check.today - timedelta(days=values["backwardDays"]), check.today
        else:
            first = last = None
        parts.append(SyncRequest("cases", "api", start_date=first, end_date=last))
        names = ("lookbackDays", "reconciliationLookbackDays")
        lookbacks = [values[name] for name in names if name in values]
        lookback = max(lookbacks) if lookbacks else DEFAULT_LOOKBACK_DAYS
        parts.append(SyncRequest("reconciliation", "api", lookback_days=lookback))
    return parts


def needs_clinic_today(body: dict[str, Any]) -> bool:
    """Whether the body names a range relative to today (the clinic's, not the server's)."""
    return any(name in body for name in RELATIVE_FIELDS)


def _shapes(route: str, body: dict[str, Any], declared: Body) -> tuple[list[str], list[str]]:
    deprecated = sorted(
        name for name in body if name in declared.fields and declared.fields[name].deprecated
    )
    ignored = sorted(
        name for name in body if name in declared.fields and declared.fields[name].ignored
    )
    if route == "full":
        deprecated = ["/api/sync/full", *deprecated]
    return deprecated, ignored


def trigger_body(route: str, body: dict[str, Any], today: date) -> TriggerBody:
    """What the body of ``route`` (a sync type, or ``full``) asks for, or a 400 naming every
    bad field. ``today`` is the clinic's local date (only relative fields use it; the sane
    date window is wide enough that the server's date does too)."""
    declared = BODIES[route]
    check = _Collector(today)
    values = check.values(body, declared)
    if route == "full":
        requests = _full(values, check)
    else:
        build = {"inbound": _inbound, "cases": _cases, "reconciliation": _reconciliation}[route]
        requests = [build(values, check)]
    check.raise_if_any()
    deprecated, ignored = _shapes(route, body, declared)
    return TriggerBody(requests, values.get("clinicId"), deprecated, ignored)


def sync_request(sync_type: str, body: dict[str, Any], today: date | None = None) -> SyncRequest:
    """The one :class:`SyncRequest` a trigger body asks for (a 400 naming every bad field)."""
    return trigger_body(sync_type, body, today or date.today()).requests[0]
