"""Reading ezyVet values: ``/v1`` sends every value as a string (``"id":"7"``,
``"active":"1"``), ``/v2`` sends numbers and booleans. Every reader accepts both.

Errors name the resource, its id and the field, never a value (values may be client data).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from providers.base import UnexpectedPayload

NUL = "\x00"
_TRUE = frozenset({"1", "true", "yes"})
_FALSE = frozenset({"0", "false", "no", ""})


def storable(text: str) -> str:
    """``text`` without what no database can store: NUL characters (PostgreSQL refuses them in
    text and JSON; SQLite keeps them, so one pasted into a note failed the whole write batch on
    PostgreSQL only) and halves of UTF-16 surrogate pairs (an emoji cut in two by a JavaScript
    substring and sent escaped in valid JSON; no UTF-8 encoder takes one, so a single such name
    failed the whole calendar write), which become U+FFFD."""
    if NUL in text:
        text = text.replace(NUL, "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


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
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        folded = value.strip().lower()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
    raise _bad(where, field, "a boolean")


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
