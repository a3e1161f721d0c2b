"""IDEXX Neo appointment status strings → the neutral :class:`AppointmentStatus`.

Neo tenants spell statuses freely ("Checked In", "checked_in", "No-Show", "Canceled"), so the raw
value is folded (lower case, ``_``/``-`` → space, runs of spaces collapsed) before the lookup.
"""

from __future__ import annotations

import logging
import re
import threading

from providers.base import AppointmentStatus

log = logging.getLogger("pims_sync.pims")

_S = AppointmentStatus
STATUS_TABLE: dict[str, AppointmentStatus] = {
    "scheduled": _S.SCHEDULED,
    "confirmed": _S.SCHEDULED,
    "not arrived": _S.SCHEDULED,
    "booked": _S.SCHEDULED,
    "arrived": _S.IN_PROGRESS,
    "checked in": _S.IN_PROGRESS,
    "in progress": _S.IN_PROGRESS,
    "with vet": _S.IN_PROGRESS,
    "ready to pay": _S.FINALIZED,
    "finalized": _S.FINALIZED,
    "finalised": _S.FINALIZED,
    "completed": _S.FINALIZED,
    "complete": _S.FINALIZED,
    "discharged": _S.FINALIZED,
    "checked out": _S.FINALIZED,
    "paid": _S.FINALIZED,
    "no show": _S.NO_SHOW,
    "noshow": _S.NO_SHOW,
    "did not arrive": _S.NO_SHOW,
    "cancelled": _S.CANCELLED,
    "canceled": _S.CANCELLED,
    "deleted": _S.CANCELLED,
}

_SEPARATORS = re.compile(r"[\s_\-]+")

# An unknown status is logged once per process and value: the calendar is fetched every few
# minutes and the same unknown value would otherwise flood the log.
_unknown_seen: set[str] = set()
_unknown_lock = threading.Lock()


def fold_status(raw: str) -> str:
    return _SEPARATORS.sub(" ", raw.strip().lower()).strip()


def normalize_status(raw: str | None) -> AppointmentStatus:
    """Map a raw Neo status; absent means ``scheduled`` (the spec's default)."""
    if raw is None:
        return AppointmentStatus.SCHEDULED
    key = fold_status(raw)
    if not key:
        return AppointmentStatus.SCHEDULED
    status = STATUS_TABLE.get(key)
    if status is not None:
        return status
    with _unknown_lock:
        first_time = key not in _unknown_seen
        _unknown_seen.add(key)
    if first_time:
        log.warning(
            "unknown IDEXX Neo appointment status, treated as scheduled",
            extra={"raw_status": raw[:64]},
        )
    return AppointmentStatus.SCHEDULED
