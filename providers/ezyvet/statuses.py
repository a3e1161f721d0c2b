"""Which ezyVet appointments are which: status names and block types (``ezyvet.md`` §4).

ezyVet sites name their statuses and appointment types themselves, so pims-sync reads meaning
from words in the names, in the order of :data:`STATUS_RULES` (first match wins), and lets a
clinic override single names (``clinic set --status-map NAME=STATUS``, ``--block-type NAME``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from providers.base import AppointmentStatus

_S = AppointmentStatus

#: (status, words): a status name containing one of the words gets the status. Words in
#: :data:`WHOLE_WORDS` must stand alone ("DNA" is an abbreviation, not a syllable).
STATUS_RULES: tuple[tuple[AppointmentStatus, tuple[str, ...]], ...] = (
    (_S.CANCELLED, ("cancel",)),
    (_S.NO_SHOW, ("no show", "no-show", "did not arrive", "dna")),
    (_S.FINALIZED, ("complete", "checked out", "discharged", "finished", "invoiced", "closed")),
    (
        _S.IN_PROGRESS,
        ("arrived", "checked in", "in progress", "in consult", "with vet", "admitted", "waiting"),
    ),
)
WHOLE_WORDS = frozenset({"dna"})

#: An appointment type whose name contains one of these is a block of time.
BLOCK_TYPE_WORDS = ("block", "unavailable", "lunch", "break", "meeting", "out of office")

_SPACES = re.compile(r"\s+")


def fold(name: str) -> str:
    return _SPACES.sub(" ", name.strip().lower())


def _contains(name: str, word: str) -> bool:
    if word in WHOLE_WORDS:
        return re.search(rf"\b{re.escape(word)}\b", name) is not None
    return word in name


def status_of(
    name: str | None, active: bool, overrides: Mapping[str, AppointmentStatus]
) -> AppointmentStatus:
    """An inactive appointment is cancelled whatever its name or any override says."""
    if not active:
        return _S.CANCELLED
    if name is None:
        return _S.SCHEDULED
    folded = fold(name)
    for key, status in overrides.items():
        if fold(key) == folded:
            return status
    for status, words in STATUS_RULES:
        if any(_contains(folded, word) for word in words):
            return status
    return _S.SCHEDULED


def is_block_type(name: str | None, clinic_block_types: tuple[str, ...]) -> bool:
    if name is None:
        return False
    folded = fold(name)
    if any(fold(block) == folded for block in clinic_block_types):
        return True
    return any(word in folded for word in BLOCK_TYPE_WORDS)
