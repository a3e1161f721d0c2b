"""The trigger bodies, declared once (contract §3.2 and §7).

Both the validator (:mod:`daemon.http.validation`) and the OpenAPI document
(:mod:`daemon.http.openapi`) are generated from these declarations, so the two cannot drift:
a field, its type, its range and whether it is deprecated are written here and nowhere else.
Rules that JSON Schema cannot say (start ≤ end, at most 62 dates, the sane date window, one
way of naming a range) live in the validator and are spelled out in the descriptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from daemon.sync.ranges import LOOKBACK_LIMITS, MAX_RANGE_DATES, PARALLEL_LIMITS
from daemon.sync.requests import DEFAULT_LOOKBACK_DAYS, DEFAULT_PARALLEL_BATCH_SIZE
from daemon.validation import DATE_FLOOR, DATE_HORIZON_YEARS

#: Relative ranges of the old service: today … today + N − 1 must stay within 62 dates.
DAYS_AHEAD: Final = (1, MAX_RANGE_DATES)
DAYS_BACK: Final = (1, MAX_RANGE_DATES - 1)

Kind = Literal["boolean", "integer", "date", "date_range", "clinic_id"]

_DATE_SCHEMA: Final = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
_DATE_RULE: Final = (
    f"A clinic-local date YYYY-MM-DD from {DATE_FLOOR.isoformat()} to today + "
    f"{DATE_HORIZON_YEARS} years."
)


@dataclass(frozen=True)
class Field:
    kind: Kind
    description: str
    low: int = 0
    high: int = 0
    default: int | None = None
    #: An old shape, still accepted: the answer carries ``Deprecation: true``.
    deprecated: bool = False
    #: Accepted for old callers and otherwise ignored (logged).
    ignored: bool = False

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any]
        if self.kind == "boolean":
            schema = {"type": "boolean"}
        elif self.kind == "integer":
            # JSON Schema's integer: 25.0 is an integer too, and the validator agrees.
            schema = {"type": "integer", "minimum": self.low, "maximum": self.high}
            if self.default is not None:
                schema["default"] = self.default
        elif self.kind == "date":
            schema = dict(_DATE_SCHEMA)
        elif self.kind == "date_range":
            schema = {
                "type": "object",
                "properties": {"start": dict(_DATE_SCHEMA), "end": dict(_DATE_SCHEMA)},
                "required": ["start", "end"],
                "additionalProperties": False,
            }
        else:
            schema = {"type": "string", "format": "uuid"}
        description = self.description
        if self.kind in ("date", "date_range"):
            description = f"{description} {_DATE_RULE}"
        schema["description"] = description
        if self.deprecated or self.ignored:
            schema["deprecated"] = True
        return schema


def _boolean(description: str, **flags: bool) -> Field:
    return Field("boolean", description, **flags)


def _integer(
    description: str, limits: tuple[int, int], default: int | None = None, **flags: bool
) -> Field:
    return Field("integer", description, limits[0], limits[1], default, **flags)


def _date(description: str, **flags: bool) -> Field:
    return Field("date", description, **flags)


_CLINIC_ID: Final = Field(
    "clinic_id",
    "Deprecated: the key's own clinic (another clinic's id is 403 forbidden). A key acts on "
    "its own clinic only, so this field is never needed.",
    deprecated=True,
)
_FORCE_FULL: Final = _boolean("Ignore sync_hash and rewrite every row (never overrides the guard).")
_FORCE: Final = _boolean("Override the deletion guard (contract §5.4).")


@dataclass(frozen=True)
class Body:
    """One trigger's body: its fields and the pairs that go together."""

    component: str  # the OpenAPI component name
    description: str
    fields: dict[str, Field]
    together: tuple[tuple[str, str], ...] = field(default=())

    def names(self) -> frozenset[str]:
        return frozenset(self.fields)

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "description": self.description,
            "properties": {name: spec.json_schema() for name, spec in self.fields.items()},
            "additionalProperties": False,
        }
        if self.together:
            dependent: dict[str, list[str]] = {}
            for first, second in self.together:
                dependent[first] = [second]
                dependent[second] = [first]
            schema["dependentRequired"] = dependent
        return schema


INBOUND: Final = Body(
    "InboundRequest",
    f"Clinic-local dates, start ≤ end, at most {MAX_RANGE_DATES} dates; name the range one way "
    "only (dateRange, or startDate/endDate, or daysAhead). Default: today … today + "
    "sync_horizon_days − 1.",
    {
        "dateRange": Field("date_range", "The range to sync, both ends included."),
        "forceFullSync": _FORCE_FULL,
        "force": _FORCE,
        "startDate": _date("Deprecated: use dateRange.start.", deprecated=True),
        "endDate": _date("Deprecated: use dateRange.end.", deprecated=True),
        "daysAhead": _integer(
            "Deprecated: today … today + daysAhead − 1; use dateRange.", DAYS_AHEAD, deprecated=True
        ),
        "clinicId": _CLINIC_ID,
    },
    together=(("startDate", "endDate"),),
)

CASES: Final = Body(
    "CasesRequest",
    f"startDate and endDate together (clinic-local), start ≤ end, at most {MAX_RANGE_DATES} "
    "dates. Default: yesterday … today.",
    {
        "startDate": _date("First date of appointments to turn into cases."),
        "endDate": _date("Last date of appointments to turn into cases."),
        "parallelBatchSize": _integer(
            "PIMS requests at once.", PARALLEL_LIMITS, DEFAULT_PARALLEL_BATCH_SIZE
        ),
        "forceFullSync": _FORCE_FULL,
        "clinicId": _CLINIC_ID,
    },
    together=(("startDate", "endDate"),),
)

RECONCILIATION: Final = Body(
    "ReconciliationRequest",
    "Window: today − lookbackDays … today.",
    {
        "lookbackDays": _integer("Days back from today.", LOOKBACK_LIMITS, DEFAULT_LOOKBACK_DAYS),
        "force": _FORCE,
        "clinicId": _CLINIC_ID,
    },
)

_AHEAD = "Inbound range today … today + N − 1 (the largest of the four given wins)."
_LOOKBACK = "Reconciliation window (the larger of the two given wins)."
FULL: Final = Body(
    "FullSyncRequest",
    "Deprecated (the old service's /full): inbound, then cases, then reconciliation for the "
    "key's clinic, as one request. Every field is optional.",
    {
        "clinicId": _CLINIC_ID,
        "skipInbound": _boolean("Skip the inbound part.", deprecated=True),
        "skipOutbound": _boolean("Skip the cases and reconciliation parts.", deprecated=True),
        "bidirectional": _boolean("Accepted, no effect: every part runs.", ignored=True),
        "forwardDays": _integer(_AHEAD, DAYS_AHEAD, deprecated=True),
        "daysAhead": _integer(_AHEAD, DAYS_AHEAD, deprecated=True),
        "scheduleDaysAhead": _integer(_AHEAD, DAYS_AHEAD, deprecated=True),
        "appointmentDaysAhead": _integer(_AHEAD, DAYS_AHEAD, deprecated=True),
        "backwardDays": _integer("Cases range today − N … today.", DAYS_BACK, deprecated=True),
        "startDate": _date("Cases range start (overrides backwardDays).", deprecated=True),
        "endDate": _date("Cases range end (overrides backwardDays).", deprecated=True),
        "lookbackDays": _integer(_LOOKBACK, LOOKBACK_LIMITS, deprecated=True),
        "reconciliationLookbackDays": _integer(_LOOKBACK, LOOKBACK_LIMITS, deprecated=True),
        "slotDurationMinutes": _integer(
            "Accepted and ignored: a clinic setting now.", (1, 1440), ignored=True
        ),
        "defaultCapacity": _integer(
            "Accepted and ignored: a clinic setting now.", (0, 1000), ignored=True
        ),
    },
    together=(("startDate", "endDate"),),
)

#: Route body name → its declaration.
BODIES: Final[dict[str, Body]] = {
    "inbound": INBOUND,
    "cases": CASES,
    "reconciliation": RECONCILIATION,
    "full": FULL,
}

#: Fields whose meaning depends on the clinic's "today" (its timezone).
RELATIVE_FIELDS: Final = frozenset(
    {
        "daysAhead",
        "forwardDays",
        "scheduleDaysAhead",
        "appointmentDaysAhead",
        "backwardDays",
    }
)
