"""The calendar feed: which events a range returns and in which dialect."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from providers.idexx_neo.simulator.walltime import format_iso, parse_event_time


def overlapping(
    events: list[dict[str, Any]], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Events overlapping the inclusive range ``[start, end]``, ordered by start then id.

    Events are half-open ``[start, end)``: one ending exactly at the range's start is not in it,
    while one running past midnight appears for both days.
    """
    selected: list[tuple[datetime, str, dict[str, Any]]] = []
    for event in events:
        try:
            ev_start = parse_event_time(event.get("start"))
            ev_end = parse_event_time(event.get("end"))
        except ValueError:
            continue
        # A zero-length event lives at its instant.
        zero_length = ev_end <= ev_start
        hit = start <= ev_start <= end if zero_length else ev_start <= end and ev_end > start
        if hit:
            selected.append((ev_start, str(event.get("appointment_id", event.get("id"))), event))
    selected.sort(key=lambda item: (item[0], item[1]))
    return [event for _, _, event in selected]


def _status(event: dict[str, Any]) -> str:
    for name in ("current_status", "status_label"):
        value = event.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return "Scheduled"


def _iso(value: Any) -> Any:
    try:
        return format_iso(parse_event_time(value))
    except ValueError:
        return value


def to_camel(event: dict[str, Any]) -> dict[str, Any]:
    """The older documented dialect: camelCase names and ISO ``T`` times."""
    first = event.get("first_name") or ""
    last = event.get("last_name") or ""
    client = f"{first} {last}".strip()
    status = _status(event)
    camel: dict[str, Any] = {
        "id": event.get("appointment_id", event.get("id")),
        "title": event.get("title"),
        "start": _iso(event.get("start")),
        "end": _iso(event.get("end")),
        "className": re.sub(r"[^a-z0-9]+", "-", status.lower()).strip("-"),
        "patientName": event.get("patient_name"),
        "clientName": client or None,
        "clientPhone": event.get("phone_number"),
        "providerName": event.get("provider"),
        "appointmentType": event.get("type_description"),
        "status": status,
        # Not in the old documentation, but without them a client could not tell a block or a
        # roster from a visit, nor find the consultation.
        "consultationId": event.get("consultation_id"),
        "patientId": event.get("patient_id"),
        "clientId": event.get("client_id"),
        "clientEmail": event.get("email"),
        "reason": event.get("reason"),
        "isBlock": bool(event.get("is_block")),
        "isRoster": bool(event.get("is_roster")),
    }
    if "resourceId" in event:
        camel["resourceId"] = event["resourceId"]
    return camel


def render(events: list[dict[str, Any]], *, variant: str, envelope: str) -> Any:
    body: list[dict[str, Any]] = [to_camel(e) for e in events] if variant == "camel" else events
    if envelope == "array":
        return body
    return {envelope: body}
