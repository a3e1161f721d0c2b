"""The provider's neutral value objects as JSON documents, and the hashes over them.

The documents are what ``cases.metadata`` keeps (``pimsAppointment``, ``pimsConsultation``),
with camelCase keys; the hashes decide whether a row changed. Hashing the stored documents
(rather than the objects) lets reconciliation recompute a case's hash from the consultation it
already stored, so a cases sync and a reconciliation agree on what "unchanged" means.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from providers.base import Appointment, Consultation


def iso_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def appointment_json(appointment: Appointment) -> dict[str, Any]:
    a = appointment
    return {
        "id": a.id,
        "consultationId": a.consultation_id,
        "date": a.local_date.isoformat(),
        "startTime": iso_z(a.starts_at),
        "endTime": iso_z(a.ends_at),
        "duration": a.duration_minutes,
        "status": a.status.value,
        "rawStatus": a.raw_status,
        "isBlock": a.is_block,
        "patient": {
            "id": a.patient.id,
            "name": a.patient.name,
            "species": a.patient.species,
            "breed": a.patient.breed,
        },
        "client": {
            "id": a.client.id,
            "name": a.client.name,
            "phone": a.client.phone,
            "email": a.client.email,
        },
        "provider": {"id": a.provider.id, "name": a.provider.name},
        "roomId": a.room_id,
        "type": a.type,
        "reason": a.reason,
        "title": a.title,
    }


def consultation_json(consultation: Consultation) -> dict[str, Any]:
    c = consultation
    return {
        "id": c.id,
        "status": c.status,
        "notes": c.notes,
        "dischargeSummary": c.discharge_summary,
        "productsServices": c.products_services,
        "declinedProductsServices": c.declined_products_services,
        "reason": c.reason,
        "date": c.date,
        "species": c.species,
        "breed": c.breed,
    }


def _digest(document: Any) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def case_hash(appointment: dict[str, Any], consultation: dict[str, Any] | None) -> str:
    """``cases.sync_hash``: over the neutral appointment and consultation documents."""
    return _digest({"appointment": appointment, "consultation": consultation})


def appointment_row_hash(row: dict[str, Any]) -> str:
    """``pims_appointments.sync_hash``: over the row's content columns (given as stored)."""
    return _digest({k: _plain(v) for k, v in sorted(row.items())})


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_z(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
