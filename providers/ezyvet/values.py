"""Reading ezyVet values: ``/v1`` sends every value as a string (``"id":"7"``,
``"active":"1"``), ``/v2`` sends numbers and booleans. Every reader accepts both.

Errors name the resource, its id and the field, never a value (values may be client data).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from providers.base import UnexpectedPayload
from providers.booleans import parse_bool
from providers.text import storable


def _bad(where: str, field: str, expected: str) -> UnexpectedPayload:
    return UnexpectedPayload(f"ezyVet {where}: field {field!r} is not {expected}")


def number(raw: Mapping[str, Any], field: str, where: str) -> float | None:
    value = raw.get(field)
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            raise _bad(where, field, "a number")
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            raise _bad(where, field, "a number") from None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(where, field, "a number")
    return float(value)


def integer(raw: Mapping[str, Any], field: str, where: str) -> int | None:
    value = number(raw, field, where)
    if value is None:
        return None
    if not value.is_integer():
        raise _bad(where, field, "a whole number")
    return int(value)


def ident(raw: Mapping[str, Any], field: str, where: str) -> str | None:
    """An id as text; absent, empty, null or 0 mean "no link"."""
    value = raw.get(field)
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            raise _bad(where, field, "an id")
        return None
    if isinstance(value, int | float):
        if isinstance(value, float) and not value.is_integer():
            raise _bad(where, field, "an id")
        value = str(int(value))
    if not isinstance(value, str):
        raise _bad(where, field, "an id")
    text = value.strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return None if text in ("", "0") else text


def flag(raw: Mapping[str, Any], field: str, where: str, default: bool = True) -> bool:
    """A boolean (``active`` is true when absent: a row without it was never deactivated)."""
    value = raw.get(field)
    if value is None:
        return default
    try:
        return parse_bool(value)
    except ValueError:
        raise _bad(where, field, "a boolean") from None


def text(raw: Mapping[str, Any], field: str, where: str) -> str | None:
    value = raw.get(field)
    if value is None:
        return None
    if isinstance(value, bool):
        raise _bad(where, field, "text")
    if isinstance(value, int | float):
        value = str(int(value)) if float(value).is_integer() else str(value)
    if not isinstance(value, str):
        raise _bad(where, field, "text")
    return storable(value).strip() or None


def object_list(raw: Mapping[str, Any], field: str, where: str) -> list[Mapping[str, Any]]:
    value = raw.get(field)
    if value is None or value == "":
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise _bad(where, field, "a list of objects")
    return value
