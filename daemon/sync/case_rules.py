"""How an appointment becomes a case row (contract §5.3): ids, type, status, metadata.

Pure functions over :class:`StoredCase` and the neutral documents; the services decide *when*
to apply them, these decide *what* the row becomes.

- A case created by the sync gets status ``completed``; a later write changes the status only
  while it still equals ``metadata.syncedStatus`` (what the sync last wrote), so a status set by
  staff (or by the extension, for an adopted case) is never overwritten.
- ``metadata`` is merged into what is there: keys written by others survive.
- ``syncedAt`` moves only when the row is written.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from daemon.store.cases import CaseWrite, StoredCase
from daemon.sync.neutral import case_hash, iso_z
from providers.base import Appointment

SYNC_CASE_STATUS = "completed"
DEFAULT_CASE_TYPE = "checkup"
REMOVAL_KEY = "pimsRemoval"  # why and when the sync soft-deleted the case

# Contract §5.3, in its order: the first of these words found in the appointment type wins.
_TYPE_WORDS: tuple[tuple[str, str], ...] = (
    ("exam", "checkup"),
    ("checkup", "checkup"),
    ("check-up", "checkup"),
    ("wellness", "checkup"),
    ("vaccine", "checkup"),  # and "vaccines": every word may take a plural s
    ("vaccination", "checkup"),
    ("diagnostic", "checkup"),
    ("consultation", "checkup"),
    ("surgery", "surgery"),
    ("dental", "surgery"),
    ("emergency", "emergency"),
    ("urgent", "emergency"),
    ("follow-up", "follow_up"),
    ("recheck", "follow_up"),
)
_SEPARATORS = re.compile(r"[\s_]+")


def external_id(provider: str, appointment_id: str) -> str:
    return f"pims-appt-{provider}-{appointment_id}"


def case_source(provider: str) -> str:
    return f"pims:{provider}"


def case_type(appointment_type: str | None) -> str:
    """Map a free-text appointment type; "Follow up" and "follow_up" read as "follow-up"."""
    if not appointment_type:
        return DEFAULT_CASE_TYPE
    text = _SEPARATORS.sub("-", appointment_type.strip().lower())
    for word, mapped in _TYPE_WORDS:
        # A word, not a fragment: "exam" in "Exam" or "Exams", never in "example".
        if re.search(rf"(?<![a-z]){re.escape(word)}s?(?![a-z])", text):
            return mapped
        if word == "exam" and re.search(r"(?<![a-z])examination", text):
            return mapped
    return DEFAULT_CASE_TYPE


def is_sync_managed(case: StoredCase) -> bool:
    """Written by a PIMS sync, or an extension case a sync adopted (reconciliation's scope)."""
    return case.source.startswith("pims:") or bool(case.meta.get("adoptedBy"))


def appointment_id_of(case: StoredCase, provider: str) -> str | None:
    """The PIMS appointment a case belongs to."""
    stored = case.meta.get("pimsAppointment")
    if isinstance(stored, dict) and stored.get("id") is not None:
        return str(stored["id"])
    prefix = external_id(provider, "")
    if case.external_id.startswith(prefix):
        return case.external_id[len(prefix) :] or None
    return None


@dataclass(frozen=True)
class Planned:
    outcome: str  # created | updated | skipped | deleted
    write: CaseWrite | None = None


def plan_upsert(
    existing: StoredCase | None,
    appointment: Appointment,
    appointment_doc: dict[str, Any],
    consultation_doc: dict[str, Any] | None,
    *,
    clinic_id: uuid.UUID,
    provider: str,
    now: datetime,
    force: bool,
) -> Planned:
    """The write for a finalized appointment with its consultation (or nothing to do)."""
    source = case_source(provider)
    digest = case_hash(appointment_doc, consultation_doc)
    if existing is None:
        meta = {
            "pimsAppointment": appointment_doc,
            "pimsConsultation": consultation_doc,
            "syncedAt": iso_z(now),
            "syncedStatus": SYNC_CASE_STATUS,
        }
        row = {
            "id": uuid.uuid4(),
            "clinic_id": clinic_id,
            "external_id": external_id(provider, appointment.id),
            "source": source,
            "status": SYNC_CASE_STATUS,
            "type": case_type(appointment.type),
            "scheduled_at": appointment.starts_at,
            "metadata": meta,
            "sync_hash": digest,
            "created_at": now,
            "updated_at": now,
            "deleted_at": None,
        }
        return Planned("created", CaseWrite(row))
    adopting = existing.source != source and existing.meta.get("adoptedBy") != source
    unchanged = existing.sync_hash == digest and not existing.is_deleted and not adopting
    if unchanged and not force:
        return Planned("skipped")
    return Planned(
        "updated",
        refresh(existing, appointment, appointment_doc, consultation_doc, provider, now, digest),
    )


def refresh(
    existing: StoredCase,
    appointment: Appointment,
    appointment_doc: dict[str, Any],
    consultation_doc: dict[str, Any] | None,
    provider: str,
    now: datetime,
    digest: str | None = None,
) -> CaseWrite:
    """``existing`` brought up to date with the PIMS (and restored if it was soft-deleted)."""
    source = case_source(provider)
    meta = dict(existing.meta)
    meta["pimsAppointment"] = appointment_doc
    meta["pimsConsultation"] = consultation_doc
    meta["syncedAt"] = iso_z(now)
    meta.pop(REMOVAL_KEY, None)
    status = existing.status
    if existing.source == source and status == meta.get("syncedStatus"):
        status = SYNC_CASE_STATUS
        meta["syncedStatus"] = SYNC_CASE_STATUS
    if existing.source != source:
        # The browser extension's case for this appointment: updated in place, keeping its
        # external id, source and status, so the extension still finds it as it left it.
        meta["adoptedBy"] = source
    row = existing.row()
    row.update(
        status=status,
        type=case_type(appointment.type),
        scheduled_at=appointment.starts_at,
        metadata=meta,
        sync_hash=digest or case_hash(appointment_doc, consultation_doc),
        updated_at=now,
        deleted_at=None,
    )
    return CaseWrite(row, based_on=existing)


def plan_soft_delete(existing: StoredCase | None, *, reason: str, now: datetime) -> Planned:
    """Soft-delete a live case; a missing or already deleted one is ``skipped``."""
    if existing is None or existing.is_deleted:
        return Planned("skipped")
    meta = dict(existing.meta)
    meta[REMOVAL_KEY] = {"reason": reason, "at": iso_z(now)}
    row = existing.row()
    row.update(metadata=meta, updated_at=now, deleted_at=now)
    return Planned("deleted", CaseWrite(row, based_on=existing))


def rebase_soft_delete(write: CaseWrite, current: StoredCase) -> CaseWrite | None:
    """Redo a soft delete on the row as it is now (someone else may have deleted it)."""
    removal = write.row["metadata"].get(REMOVAL_KEY, {})
    now: datetime = write.row["updated_at"]
    planned = plan_soft_delete(current, reason=str(removal.get("reason", "")), now=now)
    return planned.write
