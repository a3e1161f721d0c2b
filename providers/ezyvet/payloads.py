"""ezyVet records → the neutral value objects of :mod:`providers.base` (``ezyvet.md`` §4).

Pure functions, no I/O. The provider fetches the records (in batches) and hands them here with
the lookup tables; missing links (no animal, a deleted contact) leave fields empty and never
fail. Error messages name the resource, its id and the field, never client data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from providers.base import (
    Appointment,
    Client,
    Consultation,
    NamedItem,
    Patient,
    ProviderSettings,
    StaffMember,
    UnexpectedPayload,
)
from providers.ezyvet import facts, values
from providers.ezyvet.statuses import is_block_type, status_of

Record = Mapping[str, Any]

#: The ``status`` of every consultation: a consult is read once its appointment is finished.
CONSULTATION_STATUS = "completed"
NOTES_SEPARATOR = "\n\n"
PRODUCTS_SEPARATOR = "; "


def record_id(raw: Record, resource: str) -> str:
    found = values.ident(raw, "id", resource)
    if found is None:
        raise UnexpectedPayload(f"ezyVet {resource}: a record has no 'id'")
    return found


def by_id(records: Iterable[Record], resource: str) -> dict[str, Record]:
    return {record_id(raw, resource): raw for raw in records}


@dataclass(frozen=True)
class Lookups:
    """The tables read once per sync: id → record."""

    statuses: dict[str, Record] = field(default_factory=dict)
    types: dict[str, Record] = field(default_factory=dict)
    resources: dict[str, Record] = field(default_factory=dict)
    species: dict[str, Record] = field(default_factory=dict)
    breeds: dict[str, Record] = field(default_factory=dict)
    detail_types: dict[str, Record] = field(default_factory=dict)

    def name(self, table: dict[str, Record], key: str | None, resource: str) -> str | None:
        if key is None:
            return None
        raw = table.get(key)
        return None if raw is None else values.text(raw, "name", f"{resource} {key}")

    def phone_type_ids(self) -> frozenset[str]:
        ids = set()
        for key, raw in self.detail_types.items():
            name = (values.text(raw, "name", f"contactdetailtype {key}") or "").lower()
            if any(word in name for word in facts.PHONE_TYPE_WORDS):
                ids.add(key)
        return frozenset(ids)

    def named_items(self, table: dict[str, Record], resource: str) -> tuple[NamedItem, ...]:
        items = []
        for key, raw in table.items():
            if values.flag(raw, "active", f"{resource} {key}"):
                items.append(NamedItem(key, self.name(table, key, resource) or key))
        return tuple(items)


@dataclass(frozen=True)
class People:
    """Animals, contacts and each contact's first phone, by id."""

    animals: dict[str, Record] = field(default_factory=dict)
    contacts: dict[str, Record] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)


def first_phones(details: Iterable[Record], phone_types: frozenset[str]) -> dict[str, str]:
    """Each contact's first active phone (lowest detail id: the order the site entered them)."""
    found: dict[str, tuple[int, str]] = {}
    for raw in details:
        key = record_id(raw, "contactdetail")
        where = f"contactdetail {key}"
        if not values.flag(raw, "active", where):
            continue
        contact = values.ident(raw, "contact_id", where)
        kind = values.ident(raw, "contact_detail_type_id", where)
        phone = values.text(raw, "value", where)
        if contact is None or kind not in phone_types or phone is None:
            continue
        order = int(key) if key.isdigit() else 2**63
        if contact not in found or order < found[contact][0]:
            found[contact] = (order, phone)
    return {contact: phone for contact, (_, phone) in found.items()}


def instant(seconds: float, zone: tzinfo) -> datetime:
    """A Unix time in the clinic's zone (the process's own zone plays no part)."""
    return datetime.fromtimestamp(seconds, zone)


def client_name(raw: Record, where: str) -> str | None:
    if values.flag(raw, "is_business", where, default=False):
        business = values.text(raw, "business_name", where)
        if business:
            return business
    first = values.text(raw, "first_name", where)
    last = values.text(raw, "last_name", where)
    joined = " ".join(part for part in (first, last) if part)
    return joined or values.text(raw, "business_name", where)


def parse_appointment(
    raw: Record,
    zone: tzinfo,
    lookups: Lookups,
    people: People,
    settings: ProviderSettings,
) -> Appointment:
    key = record_id(raw, "appointment")
    where = f"appointment {key}"
    start = values.number(raw, "start_at", where)
    if start is None:
        raise UnexpectedPayload(f"ezyVet {where}: field 'start_at' is missing")
    duration = values.number(raw, "duration", where) or 0.0
    if duration < 0:
        raise UnexpectedPayload(f"ezyVet {where}: field 'duration' is negative")
    starts_at = instant(start, zone)
    ends_at = instant(start + duration * facts.DURATION_UNIT_S, zone)

    active = values.flag(raw, "active", where)
    type_name = lookups.name(lookups.types, values.ident(raw, "type_id", where), "appointmenttype")
    status_name = lookups.name(
        lookups.statuses, values.ident(raw, "status_id", where), "appointmentstatus"
    )
    status = status_of(status_name, active, settings.status_map)
    description = values.text(raw, "description", where)
    # A deleted (inactive) block no longer closes any slot: it is reported as a cancelled
    # appointment, which occupies no time and never becomes a case.
    block = active and is_block_type(type_name, settings.block_types)

    resources = values.object_list(raw, "resources", where)
    resource_id = values.ident(resources[0], "id", where) if resources else None
    resource_name = lookups.name(lookups.resources, resource_id, "resource")

    animal_id = values.ident(raw, "animal_id", where)
    animal = people.animals.get(animal_id) if animal_id is not None else None
    patient = Patient(id=animal_id)
    contact_id = values.ident(raw, "contact_id", where)
    if animal is not None:
        animal_where = f"animal {animal_id}"
        patient = Patient(
            id=animal_id,
            name=values.text(animal, "name", animal_where),
            species=lookups.name(
                lookups.species, values.ident(animal, "species_id", animal_where), "species"
            ),
            breed=lookups.name(
                lookups.breeds, values.ident(animal, "breed_id", animal_where), "breed"
            ),
        )
        contact_id = contact_id or values.ident(animal, "contact_id", animal_where)
    contact = people.contacts.get(contact_id) if contact_id is not None else None
    client = Client(id=contact_id)
    if contact is not None and contact_id is not None:
        client = Client(
            id=contact_id,
            name=client_name(contact, f"contact {contact_id}"),
            phone=people.phones.get(contact_id),
        )

    return Appointment(
        id=key,
        starts_at=starts_at,
        ends_at=ends_at,
        local_date=starts_at.date(),
        status=status,
        raw_status=status_name,
        consultation_id=values.ident(raw, "consult_id", where),
        is_block=block,
        patient=patient,
        client=client,
        provider=StaffMember(id=resource_id, name=resource_name),
        room_id=resource_id,
        type=type_name,
        reason=description,
        title=description if block else None,
    )


def _quantity(raw: Record, where: str) -> str:
    quantity = values.number(raw, "quantity", where)
    if quantity is None:
        return "1"
    return str(int(quantity)) if quantity.is_integer() else f"{quantity:g}"


def parse_consultation(
    consult: Record,
    assessments: Iterable[Record],
    histories: Iterable[Record],
    lines: Iterable[Record],
    zone: tzinfo,
    lookups: Lookups,
    animals: Mapping[str, Record],
) -> Consultation:
    """One active consult with its (already grouped) notes and invoice lines."""
    key = record_id(consult, "consult")
    where = f"consult {key}"
    notes: list[tuple[float, int, str]] = []
    for order, raw in enumerate(assessments):
        item = f"assessment {record_id(raw, 'assessment')}"
        text = values.text(raw, "notes", item)
        if text and values.flag(raw, "active", item):
            notes.append((values.number(raw, "timestamp", item) or 0.0, order, text))
    for order, raw in enumerate(histories):
        item = f"history {record_id(raw, 'history')}"
        text = values.text(raw, facts.HISTORY_TEXT_FIELD, item)
        if text and values.flag(raw, "active", item):
            notes.append((values.number(raw, "date", item) or 0.0, 10_000 + order, text))
    notes.sort()
    products = []
    for raw in lines:
        item = f"invoiceline {record_id(raw, 'invoiceline')}"
        name = values.text(raw, "name", item)
        if name and values.flag(raw, "active", item):
            products.append(f"{name} × {_quantity(raw, item)}")

    animal_id = values.ident(consult, "animal_id", where)
    animal = animals.get(animal_id) if animal_id is not None else None
    species = breed = None
    if animal is not None:
        animal_where = f"animal {animal_id}"
        species = lookups.name(
            lookups.species, values.ident(animal, "species_id", animal_where), "species"
        )
        breed = lookups.name(
            lookups.breeds, values.ident(animal, "breed_id", animal_where), "breed"
        )
    when = values.number(consult, "date", where)
    return Consultation(
        id=key,
        status=CONSULTATION_STATUS,
        notes=NOTES_SEPARATOR.join(text for _, _, text in notes) or None,
        products_services=PRODUCTS_SEPARATOR.join(products) or None,
        reason=values.text(consult, "description", where),
        date=instant(when, zone).isoformat() if when is not None else None,
        species=species,
        breed=breed,
    )


def sort_key(record: Record) -> tuple[int, str]:
    key = str(record.get("id", ""))
    return (int(key), key) if key.isdigit() else (2**63, key)


def group_by(records: Iterable[Record], field_name: str, resource: str) -> dict[str, list[Record]]:
    grouped: dict[str, list[Record]] = {}
    for raw in sorted(records, key=sort_key):
        owner = values.ident(raw, field_name, f"{resource} {raw.get('id')}")
        if owner is not None:
            grouped.setdefault(owner, []).append(raw)
    return grouped


def range_bounds(start: date, end: date, zone: tzinfo) -> tuple[int, int]:
    """Unix times of the clinic's local midnight before ``start`` and after ``end``."""
    first = datetime(start.year, start.month, start.day, tzinfo=zone)
    after = end + timedelta(days=1)
    last = datetime(after.year, after.month, after.day, tzinfo=zone)
    return int(first.timestamp()), int(last.timestamp())
