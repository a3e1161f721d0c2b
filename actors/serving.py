"""Which of the clinics the supervisor means to serve are not being served right now, and why.

The supervisor writes it when a clinic actor dies (however it died) and when it is back; the
``/ready`` checks and the ``pims_sync_clinics_unserved`` gauge read it from any thread, without
asking a possibly busy actor.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime

from daemon.observability import metrics
from daemon.store.types import utcnow


@dataclass(frozen=True)
class Unserved:
    clinic_id: uuid.UUID
    clinic_name: str
    reason: str
    since: datetime
    failures: int
    retry_at: datetime | None


class ServiceBoard:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down: dict[uuid.UUID, Unserved] = {}

    def mark_down(
        self,
        clinic_id: uuid.UUID,
        clinic_name: str,
        reason: str,
        *,
        failures: int,
        retry_at: datetime | None,
    ) -> None:
        with self._lock:
            previous = self._down.get(clinic_id)
            since = utcnow() if previous is None else previous.since
            self._down[clinic_id] = Unserved(
                clinic_id, clinic_name, reason, since, failures, retry_at
            )
            metrics.CLINICS_UNSERVED.set(len(self._down))

    def mark_up(self, clinic_id: uuid.UUID) -> bool:
        """True when the clinic was down until now."""
        with self._lock:
            was_down = self._down.pop(clinic_id, None) is not None
            metrics.CLINICS_UNSERVED.set(len(self._down))
        return was_down

    def unserved(self) -> list[Unserved]:
        with self._lock:
            return sorted(self._down.values(), key=lambda u: u.since)
