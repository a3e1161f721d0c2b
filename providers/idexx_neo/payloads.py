"""IDEXX Neo JSON bodies → the neutral value objects of :mod:`providers.base`.

Pure functions, no I/O. Every shape the spec lists is accepted (bare array or an ``appointments``
/ ``data`` / ``events`` envelope; snake_case events with ``YYYY-MM-DD HH:MM:SS`` times or the
camelCase variant with ISO times). Anything else raises :class:`UnexpectedPayload` naming the
field: a half-read calendar must never pass for a complete one.

Error messages name fields and event ids, never patient or client data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

from providers.base import (
    Appointment,
    BusinessHours,
    Client,
    Consultation,
    NamedItem,
    Patient,
    ScheduleConfig,
    StaffMember,
    UnexpectedPayload,
)
from providers.booleans import parse_bool
from providers.idexx_neo.statuses import normalize_status
from providers.text import storable

ENVELOPE_KEYS = ("appointments", "data", "events")

# ---------------------------------------------------------------------------------------------
# Field readers. ``where`` names the event or object for error messages.


def _first_present(raw: Mapping[str, Any], keys: Sequence[str]) -> tuple[str, Any]:
    for key in keys:
        value = raw.get(key)
        if value is not None:
            return key, value
    return keys[0], None


def _text(raw: Mapping[str, Any], *keys: str, where: str) -> str | None:
    """A display string; numbers are accepted (ids, phone numbers), empty → None."""
    key, value = _first_present(raw, keys)
    if value is None:
        return None
    if isinstance(value, bool):
        raise UnexpectedPayload(f"{where}: field {key!r} is a boolean, expected text")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise UnexpectedPayload(f"{where}: field {key!r} is not a finite number")
        value = str(int(value)) if float(value).is_integer() else str(value)
    if not isinstance(value, str):
        raise UnexpectedPayload(f"{where}: field {key!r} is {type(value).__name__}, expected text")
    value = storable(value).strip()
    return value or None


def _ident(raw: Mapping[str, Any], *keys: str, where: str) -> str | None:
    """An id: number or string; 0 and "" mean "none" (Neo sends 0 for a missing link)."""
    value = _text(raw, *keys, where=where)
    return None if value in (None, "0") else value


def _flag(raw: Mapping[str, Any], *keys: str, where: str) -> bool:
    key, value = _first_present(raw, keys)
    if value is None:
        return False
    try:
        return parse_bool(value)
    except ValueError:
        raise UnexpectedPayload(f"{where}: field {key!r} is not a boolean") from None


def _object(raw: Mapping[str, Any], key: str, *, where: str) -> Mapping[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        kind = type(value).__name__
        raise UnexpectedPayload(f"{where}: field {key!r} is {kind}, expected object")
    return value


def _list(raw: Mapping[str, Any], key: str, *, where: str) -> list[Any]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise UnexpectedPayload(f"{where}: field {key!r} is {type(value).__name__}, expected list")
    return value


# ---------------------------------------------------------------------------------------------
# Wall time


def parse_wall_time(value: str) -> datetime:
    """``YYYY-MM-DD HH:MM[:SS]`` or ISO 8601 → naive wall time, or aware when an offset is given."""
    text = value.strip()
    if len(text) < 16:
        raise ValueError("too short")
    return datetime.fromisoformat(text)


def to_clinic_time(moment: datetime, zone: tzinfo) -> datetime:
    """Attach the clinic zone to a wall time.

    A wall time that does not exist (the spring-forward gap) moves forward by the gap, like a
    clock would; an ambiguous one (the fall-back hour) takes the first occurrence. An aware value
    (an ISO time with an offset) is an instant and is only converted. The process's own ``TZ``
    plays no part.
    """
    if moment.tzinfo is not None:
        return moment.astimezone(zone)
    first = moment.replace(tzinfo=zone, fold=0)
    normalised = first.astimezone(UTC).astimezone(zone)
    # In a gap, fold=0 applies the offset from before the transition, so the round trip lands
    # on the wall time shifted forward by the gap: exactly the "moves forward" we want.
    return first if normalised.replace(tzinfo=None) == moment else normalised


def _event_time(raw: Mapping[str, Any], key: str, where: str) -> datetime:
    value = raw.get(key)
    if value is None:
        raise UnexpectedPayload(f"{where}: field {key!r} is missing")
    if not isinstance(value, str):
        raise UnexpectedPayload(f"{where}: field {key!r} is {type(value).__name__}, expected text")
    try:
        return parse_wall_time(value)
    except ValueError:
        raise UnexpectedPayload(
            f"{where}: field {key!r} is not a date-time: {value[:40]!r}"
        ) from None


# ---------------------------------------------------------------------------------------------
# Calendar


def unwrap_events(body: Any) -> list[Any]:
    """The event list of a calendar body, whatever the tenant's envelope."""
    if isinstance(body, list):
        return body
    if isinstance(body, Mapping):
        for key in ENVELOPE_KEYS:
            if key in body:
                events = body[key]
                if isinstance(events, list):
                    return events
                raise UnexpectedPayload(
                    f"calendar: envelope {key!r} holds {type(events).__name__}, expected list"
                )
        keys = ", ".join(sorted(str(k) for k in body)[:10])
        raise UnexpectedPayload(f"calendar: object without appointments/data/events (keys: {keys})")
    raise UnexpectedPayload(f"calendar: body is {type(body).__name__}, expected list or object")


def parse_calendar(body: Any, zone: tzinfo) -> list[Appointment]:
    """Every event of a calendar body except staff rosters, in feed order."""
    appointments: list[Appointment] = []
    for index, raw in enumerate(unwrap_events(body)):
        appointment = parse_event(raw, zone, index=index)
        if appointment is not None:
            appointments.append(appointment)
    return appointments


def parse_event(raw: Any, zone: tzinfo, *, index: int = 0) -> Appointment | None:
    """One calendar event; ``None`` for a roster entry (not an appointment)."""
    where = f"calendar event #{index}"
    if not isinstance(raw, Mapping):
        raise UnexpectedPayload(f"{where}: is {type(raw).__name__}, expected object")
    if _flag(raw, "is_roster", "isRoster", where=where):
        return None
    appointment_id = _ident(raw, "appointment_id", "id", "appointmentId", where=where)
    if appointment_id is None:
        raise UnexpectedPayload(f"{where}: field 'appointment_id' (or 'id') is missing")
    where = f"calendar event {appointment_id}"

    wall_start = _event_time(raw, "start", where)
    wall_end = _event_time(raw, "end", where)
    starts_at = to_clinic_time(wall_start, zone)
    ends_at = to_clinic_time(wall_end, zone)
    # Compare instants: Python compares two datetimes of the same zone by wall time alone.
    if ends_at.astimezone(UTC) < starts_at.astimezone(UTC):
        ends_at = _end_after_start(wall_start, wall_end, starts_at, zone, where)

    raw_status = _first_status(raw, where)
    first_name = _text(raw, "first_name", "firstName", where=where)
    last_name = _text(raw, "last_name", "lastName", where=where)
    joined = " ".join(part for part in (first_name, last_name) if part) or None
    return Appointment(
        id=appointment_id,
        starts_at=starts_at,
        ends_at=ends_at,
        local_date=starts_at.date(),
        status=normalize_status(raw_status),
        raw_status=raw_status,
        consultation_id=_ident(raw, "consultation_id", "consultationId", where=where),
        is_block=_flag(raw, "is_block", "isBlock", where=where),
        patient=Patient(
            id=_ident(raw, "patient_id", "patientId", where=where),
            name=_text(raw, "patient_name", "patientName", where=where),
            species=_text(raw, "species", "patient_species", "patientSpecies", where=where),
            breed=_text(raw, "breed", "patient_breed", "patientBreed", where=where),
        ),
        client=Client(
            id=_ident(raw, "client_id", "clientId", where=where),
            name=_text(raw, "clientName", "client_name", where=where) or joined,
            phone=_text(raw, "phone_number", "clientPhone", "phone", where=where),
            email=_text(raw, "email", "clientEmail", where=where),
        ),
        provider=StaffMember(
            id=_ident(raw, "provider_id", "providerId", where=where),
            name=_text(raw, "provider", "providerName", where=where),
        ),
        room_id=_ident(raw, "resourceId", "resource_id", where=where),
        type=_text(raw, "type_description", "appointmentType", where=where),
        reason=_text(raw, "reason", where=where),
        title=_text(raw, "title", where=where),
    )


def _end_after_start(
    wall_start: datetime, wall_end: datetime, starts_at: datetime, zone: tzinfo, where: str
) -> datetime:
    """The end of an event whose end, read as the first occurrence of its wall time, falls
    before its start. Two DST cases make that a real event; anything else is refused."""
    if wall_start.tzinfo is None and wall_end.tzinfo is None:
        if wall_end >= wall_start:
            # Both ends fell in or around a spring-forward gap and the start moved forward
            # past the end: the event has no real duration left.
            return starts_at
        # The event crosses a fall-back change: it starts in the first pass of the repeated
        # hour and ends in the second, so its end reads earlier on the wall clock
        # (01:45 daylight time + 30 minutes = 01:15 standard time).
        second_pass = wall_end.replace(tzinfo=zone, fold=1)
        if second_pass.astimezone(UTC) >= starts_at.astimezone(UTC):
            return second_pass
    raise UnexpectedPayload(f"{where}: field 'end' is before 'start'")


def _first_status(raw: Mapping[str, Any], where: str) -> str | None:
    """``current_status`` then ``status_label`` (then camelCase ``status``): first non-empty."""
    for key in ("current_status", "status_label", "status"):
        value = _text(raw, key, where=where)
        if value is not None:
            return value
    return None


# ---------------------------------------------------------------------------------------------
# Consultation page-data


def _quantity_text(quantity: Any, where: str) -> str | None:
    """``None`` when the quantity adds nothing to the label (absent, 0 or 1)."""
    if quantity is None or isinstance(quantity, bool):
        return None
    if isinstance(quantity, str):
        try:
            quantity = float(quantity.strip())
        except ValueError:
            raise UnexpectedPayload(f"{where}: field 'quantity' is not a number") from None
    if not isinstance(quantity, int | float) or not math.isfinite(quantity):
        raise UnexpectedPayload(f"{where}: field 'quantity' is not a number")
    if quantity in (0, 1):
        return None
    return str(int(quantity)) if float(quantity).is_integer() else f"{quantity:g}"


def _lines_text(lines: list[Any], *, declined: bool) -> str | None:
    parts: list[str] = []
    for index, line in enumerate(lines):
        where = f"consultation line #{index}"
        if not isinstance(line, Mapping):
            raise UnexpectedPayload(f"{where}: is {type(line).__name__}, expected object")
        if _flag(line, "isDeclined", "is_declined", where=where) != declined:
            continue
        name = _text(line, "productService", "product_service", "name", where=where)
        if name is None:
            continue
        quantity = _quantity_text(line.get("quantity"), where)
        parts.append(name if quantity is None else f"{name} (Qty: {quantity})")
    return "; ".join(parts) or None


def _name_of(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    """Species and breed come as text or as ``{id, name}`` depending on the page."""
    value = raw.get(key)
    if isinstance(value, Mapping):
        return _text(value, "name", where=f"{where}.{key}")
    return _text(raw, key, where=where)


def parse_consultation(body: Any, requested_id: str) -> Consultation:
    if not isinstance(body, Mapping):
        raise UnexpectedPayload(
            f"consultation {requested_id}: body is {type(body).__name__}, expected object"
        )
    where = f"consultation {requested_id}"
    consultation = body.get("consultation")
    if not isinstance(consultation, Mapping):
        raise UnexpectedPayload(f"{where}: field 'consultation' is missing or not an object")
    notes_block = _object(body, "consultationNotes", where=where)
    patient = _object(body, "patient", where=where)
    lines = _list(body, "consultationLines", where=where)
    discharge = _text(consultation, "dischargeSummary", where=where) or _text(
        notes_block, "notes", where=f"{where}.consultationNotes"
    )
    return Consultation(
        id=_ident(consultation, "id", where=where) or requested_id,
        status=_text(consultation, "status", where=where) or "unknown",
        notes=_text(consultation, "notes", where=where),
        discharge_summary=discharge,
        products_services=_lines_text(lines, declined=False),
        declined_products_services=_lines_text(lines, declined=True),
        reason=_text(consultation, "reason", where=where),
        date=_text(consultation, "date", where=where),
        species=_name_of(patient, "species", f"{where}.patient"),
        breed=_name_of(patient, "breed", f"{where}.patient"),
    )


# ---------------------------------------------------------------------------------------------
# Schedule configuration


def _clock(value: Any, where: str) -> time:
    if not isinstance(value, str):
        raise UnexpectedPayload(f"{where}: is {type(value).__name__}, expected HH:MM")
    text = value.strip()
    if text in ("24:00", "24:00:00"):
        return time.max  # "until midnight": the end of the day, not its start
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise UnexpectedPayload(f"{where}: {text[:12]!r} is not HH:MM") from None


def _named_items(body: Mapping[str, Any], key: str) -> tuple[NamedItem, ...]:
    items: list[NamedItem] = []
    for index, raw in enumerate(_list(body, key, where="appointment view")):
        where = f"appointment view {key}[{index}]"
        if not isinstance(raw, Mapping):
            raise UnexpectedPayload(f"{where}: is {type(raw).__name__}, expected object")
        item_id = _text(raw, "id", where=where)
        if item_id is None:
            raise UnexpectedPayload(f"{where}: field 'id' is missing")
        items.append(NamedItem(id=item_id, name=_text(raw, "name", where=where) or item_id))
    return tuple(items)


def parse_schedule_config(body: Any) -> ScheduleConfig:
    if not isinstance(body, Mapping):
        raise UnexpectedPayload(f"appointment view: body is {type(body).__name__}, expected object")
    interval_text = _text(body, "slotInterval", where="appointment view")
    try:
        interval = int(interval_text) if interval_text is not None else None
    except ValueError:
        raise UnexpectedPayload("appointment view: field 'slotInterval' is not a number") from None
    hours: list[BusinessHours] = []
    for index, raw in enumerate(_list(body, "businessHours", where="appointment view")):
        where = f"appointment view businessHours[{index}]"
        if not isinstance(raw, Mapping):
            raise UnexpectedPayload(f"{where}: is {type(raw).__name__}, expected object")
        opens = _clock(raw.get("startTime"), f"{where}.startTime")
        closes = _clock(raw.get("endTime"), f"{where}.endTime")
        for day in _list(raw, "daysOfWeek", where=where):
            if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
                raise UnexpectedPayload(f"{where}: daysOfWeek holds {day!r}, expected 0..6")
            hours.append(BusinessHours(day_of_week=day, opens=opens, closes=closes))
    hours.sort(key=lambda h: (h.day_of_week, h.opens))
    return ScheduleConfig(
        slot_interval_minutes=interval,
        business_hours=tuple(hours),
        appointment_types=_named_items(body, "appointmentTypes"),
        rooms=_named_items(body, "appointmentRooms"),
        providers=_named_items(body, "providers"),
    )


def format_wall_time(day: date, clock: time) -> str:
    """The calendar's query format: ``YYYY-MM-DD HH:MM:SS``, clinic wall time, no offset."""
    return datetime.combine(day, clock).strftime("%Y-%m-%d %H:%M:%S")
