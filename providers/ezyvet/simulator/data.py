"""The simulator's live records: a seeded scenario that tests may then edit while it is served."""

from __future__ import annotations

import copy
import threading
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from providers.ezyvet.simulator import filters, scenarios

Record = dict[str, Any]

#: The fields each resource may be filtered on (the ones pims-sync uses, and a few more).
FILTERABLE: dict[str, frozenset[str]] = {
    "appointment": frozenset(
        {
            "id",
            "active",
            "start_at",
            "status_id",
            "type_id",
            "animal_id",
            "contact_id",
            "consult_id",
            "modified_at",
        }
    ),
    "appointmentstatus": frozenset({"id", "active", "name"}),
    "appointmenttype": frozenset({"id", "active", "name"}),
    "resource": frozenset({"id", "active", "name", "type"}),
    "consult": frozenset({"id", "active", "animal_id", "date"}),
    "assessment": frozenset({"id", "active", "consult_id", "animal_id"}),
    "history": frozenset({"id", "active", "consult_id", "animal_id"}),
    "invoiceline": frozenset({"id", "active", "consult_id"}),
    "animal": frozenset({"id", "active", "contact_id", "name"}),
    "species": frozenset({"id", "active", "name"}),
    "breed": frozenset({"id", "active", "name", "species_id"}),
    "contact": frozenset({"id", "active", "last_name", "is_business"}),
    "contactdetail": frozenset({"id", "active", "contact_id", "contact_detail_type_id"}),
    "contactdetailtype": frozenset({"id", "active", "name"}),
}


def default_today(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


class Dataset:
    """Native-valued records per resource, keyed by id; safe to read and edit from any thread."""

    def __init__(
        self, scenario: str = "default", today: date | None = None, timezone: str = "UTC"
    ) -> None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {timezone!r}") from exc
        self.scenario = scenario
        self.timezone = timezone
        self.today = today if today is not None else default_today(timezone)
        self._original = scenarios.build(scenario, self.today, timezone)
        self.landmarks = dict(self._original.landmarks)
        self._lock = threading.RLock()
        self.tables: dict[str, dict[int, Record]] = {}
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.tables = copy.deepcopy(self._original.tables)

    def query(self, resource: str, query: list[tuple[str, str]]) -> list[Record]:
        """Every record matching the filters, by id (raises ``FilterError``)."""
        predicates = filters.parse(query, FILTERABLE[resource])
        with self._lock:
            # Shallow copies: rendering never mutates a record, and edits replace fields.
            return [
                dict(row)
                for _, row in sorted(self.tables[resource].items())
                if all(p(row) for p in predicates)
            ]

    def records(self, resource: str) -> list[Record]:
        with self._lock:
            return [copy.deepcopy(r) for _, r in sorted(self.tables[resource].items())]

    def get(self, resource: str, key: int) -> Record | None:
        with self._lock:
            found = self.tables[resource].get(key)
            return copy.deepcopy(found) if found is not None else None

    def upsert(self, resource: str, record: Record) -> int:
        """Insert or replace a record by its ``id`` (native values)."""
        if resource not in self.tables:
            raise ValueError(f"unknown resource {resource!r}")
        key = record.get("id")
        if isinstance(key, bool) or not isinstance(key, int) or key <= 0:
            raise ValueError("a record needs a positive integer 'id'")
        with self._lock:
            self.tables[resource][key] = copy.deepcopy(record)
        return key

    def update(self, resource: str, key: int, **fields: Any) -> Record:
        with self._lock:
            record = self.tables[resource][key]
            record.update(fields)
            return copy.deepcopy(record)

    def remove(self, resource: str, key: int) -> bool:
        with self._lock:
            return self.tables.get(resource, {}).pop(key, None) is not None
