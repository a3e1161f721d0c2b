"""How records go on the wire: ``/v1`` carries every value as a string, ``/v2`` native values.

The ``value_style`` knob can force one form everywhere (``strings`` or ``native``) so that the
provider is tested on both for every resource.
"""

from __future__ import annotations

from typing import Any

VALUE_STYLES = frozenset({"spec", "strings", "native"})


def stringify(value: Any) -> Any:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.2f}"  # v1 sends decimals with two places ("1.50")
    if isinstance(value, list):
        return [stringify(v) for v in value]
    if isinstance(value, dict):
        return {k: stringify(v) for k, v in value.items()}
    return value


def as_strings(version: str, style: str) -> bool:
    if style == "strings":
        return True
    if style == "native":
        return False
    return version == "v1"


def envelope(
    resource: str,
    records: list[dict[str, Any]],
    *,
    page: int,
    limit: int,
    total: int,
    now: int,
    strings: bool,
) -> dict[str, Any]:
    pages = (total + limit - 1) // limit
    meta: dict[str, Any] = {
        "timestamp": now,
        "items_page": page,
        "items_page_total": pages,
        "items_page_size": len(records),
        "items_total": total,
    }
    items = [{resource: stringify(r) if strings else r} for r in records]
    return {"meta": stringify(meta) if strings else meta, "items": items, "messages": []}
