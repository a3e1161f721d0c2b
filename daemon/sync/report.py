"""What one sync reports: its stats, its errors and the final status they imply.

Contract §3.2/§3.3: every item lands in exactly one outcome, so the outcomes add up to the
total; at most 50 errors are kept (the first code also goes to ``schedule_syncs.error_code``);
``failed`` means the run as a whole failed, ``partial`` that some items or some part of the
work could not be done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from daemon.store.crypto import UndecryptableSecret
from daemon.store.fencing import LeaseLost
from daemon.store.secrets import NoCredentials
from providers.base import NotFound, ProviderError

MAX_ERRORS = 50

CASE_OUTCOMES = ("created", "updated", "skipped", "failed", "deleted")
INBOUND_OUTCOMES = ("created", "updated", "unchanged")

#: Sync error codes of contract §3.4 that a provider may raise.
PROVIDER_CODES = frozenset(
    {
        "pims_auth_failed",
        "pims_second_factor",
        "pims_branch_picker",
        "pims_session_lost",
        "pims_unavailable",
        "pims_rate_limited",
        "pims_bad_request",
        "pims_bad_payload",
    }
)


class SyncCancelled(Exception):
    """The run was asked to stop (shutdown); raised between batches."""


class SyncAborted(Exception):
    """The service decided the run as a whole fails (guard, bad range); nothing more is done."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_code_of(error: BaseException) -> str:
    """The contract's code for an exception that ended a run (or an item)."""
    if isinstance(error, NoCredentials):
        return "no_credentials"
    if isinstance(error, LeaseLost):
        return "lease_lost"
    if isinstance(error, UndecryptableSecret):
        return "credentials_undecryptable"
    if isinstance(error, NotFound):
        # A whole endpoint answering 404 means the PIMS is not where we think it is.
        return "pims_unavailable"
    if isinstance(error, ProviderError):
        return error.code if error.code in PROVIDER_CODES else "pims_unavailable"
    if isinstance(error, SyncAborted):
        return error.code
    if isinstance(error, SyncCancelled):
        return "interrupted"
    return "internal"


@dataclass
class SyncReport:
    """Mutable during a run; turned into the ``schedule_syncs`` row's fields at the end."""

    sync_type: str
    stats: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0
    failed_code: str | None = None  # set → the run as a whole failed
    partial: bool = False

    @classmethod
    def for_type(cls, sync_type: str) -> SyncReport:
        if sync_type == "inbound":
            keys: tuple[str, ...] = (
                "appointments",
                *INBOUND_OUTCOMES,
                "removed",
                "slots",
                "blockedSlots",
            )
        else:
            keys = ("total", *CASE_OUTCOMES)
        return cls(sync_type=sync_type, stats=dict.fromkeys(keys, 0))

    # -- counting ---------------------------------------------------------------------------

    def count(self, outcome: str, n: int = 1) -> None:
        if outcome not in self.stats:
            raise KeyError(f"{self.sync_type} has no outcome {outcome!r}")
        self.stats[outcome] += n

    # -- errors -----------------------------------------------------------------------------

    def error(self, code: str, message: str, item_id: str | None = None) -> None:
        """Record an error; the sync ends ``partial`` (unless something makes it ``failed``)."""
        self.partial = True
        self._append(code, message, item_id)

    def fail(self, code: str, message: str) -> None:
        """The run as a whole failed; its code becomes the first error."""
        if self.failed_code is None:
            self.failed_code = code
            self.errors.insert(0, {"code": code, "message": message})
            self.error_count += 1
            del self.errors[MAX_ERRORS:]
        else:
            self._append(code, message, None)

    def _append(self, code: str, message: str, item_id: str | None) -> None:
        self.error_count += 1
        if len(self.errors) >= MAX_ERRORS:
            return
        entry: dict[str, Any] = {"code": code, "message": message}
        if item_id is not None:
            entry["itemId"] = item_id
        self.errors.append(entry)

    # -- the end ----------------------------------------------------------------------------

    def status(self, *, interrupted: bool = False) -> str:
        if interrupted:
            return "interrupted"
        if self.failed_code is not None:
            return "failed"
        return "partial" if self.partial else "completed"

    @property
    def error_code(self) -> str | None:
        return self.errors[0]["code"] if self.errors else None

    def total(self) -> int:
        return self.stats.get("total", self.stats.get("appointments", 0))
