"""Fencing: every write of a sync checks, inside its own transaction, that this replica still
holds the clinic's lease with the token the sync started under.

The check is one place — :meth:`daemon.store.database.Database.session` calls :func:`check` at
the start of every transaction — and applies to whatever runs inside :func:`fenced` (the sync,
its worker threads started with a copy of the context, its heartbeat). It reads the lease row
``FOR SHARE``: a new owner's claim (an ``UPDATE`` of that row) waits until our transaction ends,
so no write of ours can land after the clinic changed hands. A replica frozen mid-transaction
(SIGSTOP, a partition) would hold that lock; ``idle_in_transaction_session_timeout`` set for the
transaction makes PostgreSQL end it after the lease's TTL, so the clinic never stays stuck.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session


class LeaseLost(RuntimeError):
    """This replica no longer holds the clinic's lease: the sync must stop writing."""

    code = "lease_lost"

    def __init__(self, clinic_id: uuid.UUID) -> None:
        super().__init__(f"this replica lost the lease of clinic {clinic_id}")
        self.clinic_id = clinic_id


@dataclass(frozen=True)
class Fence:
    clinic_id: uuid.UUID
    owner_id: str
    token: int
    ttl_s: float


_CURRENT: contextvars.ContextVar[Fence | None] = contextvars.ContextVar("lease_fence", default=None)

_CHECK = text(
    "SELECT fencing_token FROM clinic_leases"
    " WHERE clinic_id = :clinic_id AND owner_id = :owner_id FOR SHARE"
)
_TIMEOUT = text("SELECT set_config('idle_in_transaction_session_timeout', :ms, true)")


@contextmanager
def fenced(fence: Fence) -> Iterator[None]:
    """Run the block's transactions under ``fence`` (this thread and contexts copied from it)."""
    reset = _CURRENT.set(fence)
    try:
        yield
    finally:
        _CURRENT.reset(reset)


@contextmanager
def unfenced() -> Iterator[None]:
    """The one write a fenced-out sync still makes: closing its own ``schedule_syncs`` row."""
    reset = _CURRENT.set(None)
    try:
        yield
    finally:
        _CURRENT.reset(reset)


def current() -> Fence | None:
    return _CURRENT.get()


def check(session: Session) -> None:
    """Raise :class:`LeaseLost` unless the current fence (if any) still holds; called first in
    every transaction, so the lease row stays share-locked until the transaction ends."""
    fence = _CURRENT.get()
    if fence is None:
        return
    session.execute(_TIMEOUT, {"ms": str(int(fence.ttl_s * 1000))})
    token = session.execute(
        _CHECK, {"clinic_id": fence.clinic_id, "owner_id": fence.owner_id}
    ).scalar_one_or_none()
    if token != fence.token:
        raise LeaseLost(fence.clinic_id)
