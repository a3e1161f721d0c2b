"""ezyVet's list filters: ``field=value`` or ``field={"op": operand}`` (URL-encoded JSON), with
``eq neq gt lt gte lte like in``; several filters are ANDed. Values compare as numbers when the
record's value is a number, as booleans when it is one, else as text."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

COMPARATORS = frozenset({"eq", "neq", "gt", "lt", "gte", "lte", "like", "in"})
RESERVED = frozenset({"limit", "page"})

Predicate = Callable[[Mapping[str, Any]], bool]


class FilterError(ValueError):
    """A filter the API would refuse (400); the message names the field and the rule."""


def _coerce(record_value: Any, operand: Any, field: str) -> tuple[Any, Any] | None:
    """Both sides in one comparable type, or None when the record has no value."""
    if record_value is None:
        return None
    if isinstance(record_value, bool):
        if isinstance(operand, str):
            operand = operand.strip().lower() in ("1", "true")
        return record_value, bool(operand)
    if isinstance(record_value, int | float):
        try:
            return float(record_value), float(operand)
        except (TypeError, ValueError):
            raise FilterError(f"filter on {field!r}: {operand!r} is not a number") from None
    return str(record_value), str(operand)


def _like(pattern: str) -> re.Pattern[str]:
    parts = (re.escape(part) for part in pattern.split("%"))
    return re.compile("^" + ".*".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def _compare(op: str, operand: Any, field: str) -> Predicate:
    if op == "in":
        if not isinstance(operand, list):
            raise FilterError(f"filter on {field!r}: 'in' takes an array")
        # Built once per request: an ``in`` list of 100 ids over thousands of rows is the
        # common case, and must not cost a comparison per member per row.
        numbers, texts = set(), set()
        for member in operand:
            texts.add(str(member))
            with contextlib.suppress(TypeError, ValueError):
                numbers.add(float(member))

        def is_in(record: Mapping[str, Any]) -> bool:
            value = record.get(field)
            if value is None:
                return False
            if isinstance(value, bool):
                return ("1" if value else "0") in texts or str(value).lower() in texts
            if isinstance(value, int | float):
                return float(value) in numbers
            return str(value) in texts

        return is_in
    if op == "like":
        pattern = _like(str(operand))
        return lambda r: r.get(field) is not None and bool(pattern.match(str(r.get(field))))

    def check(record: Mapping[str, Any]) -> bool:
        pair = _coerce(record.get(field), operand, field)
        if pair is None:
            return op == "neq" or (op == "eq" and operand in (None, "", 0, "0"))
        left, right = pair
        if op == "eq":
            return bool(left == right)
        if op == "neq":
            return bool(left != right)
        if op == "gt":
            return bool(left > right)
        if op == "lt":
            return bool(left < right)
        if op == "gte":
            return bool(left >= right)
        return bool(left <= right)

    return check


def parse(query: Iterable[tuple[str, str]], fields: frozenset[str]) -> list[Predicate]:
    predicates: list[Predicate] = []
    for field, raw in query:
        if field in RESERVED:
            continue
        if field not in fields:
            raise FilterError(f"unknown filter field {field!r}")
        text = raw.strip()
        if text.startswith("{"):
            try:
                spec = json.loads(text)
            except json.JSONDecodeError:
                raise FilterError(f"filter on {field!r} is not valid JSON") from None
            if not isinstance(spec, dict) or not spec:
                raise FilterError(f"filter on {field!r} must be an object of comparators")
            for op, operand in spec.items():
                if op not in COMPARATORS:
                    known = " ".join(sorted(COMPARATORS))
                    raise FilterError(f"filter on {field!r}: unknown comparator {op!r} ({known})")
                predicates.append(_compare(op, operand, field))
        else:
            predicates.append(_compare("eq", text, field))
    return predicates
