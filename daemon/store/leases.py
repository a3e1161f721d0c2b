"""Clinic leases in PostgreSQL: which replica serves which clinic (replicas.md).

Every statement here is PostgreSQL only (on SQLite there is one daemon and none of this runs).

- ``clinic_leases``: one row per clinic; ``owner_id`` holds it until ``expires_at``; the
  ``fencing_token`` grows on every change of owner and is checked by every sync write
  (:mod:`daemon.store.fencing`).
- ``replicas``: the live set (heartbeat within the TTL, not draining) used for balancing.
- One statement per renewal period renews all of a replica's leases, beats its heartbeat,
  counts the live replicas and active clinics, and lists queued syncs of its clinics (the
  slow-poll fallback behind ``LISTEN/NOTIFY``).
- Claims lock free or expired rows ``FOR UPDATE SKIP LOCKED``, so replicas claiming at once
  never wait for each other nor take the same clinic.
- ``NOTIFY`` wakes the others: ``pims_sync_leases`` when leases are given up,
  ``pims_sync_work`` when a sync is queued for a clinic this replica does not serve.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import psycopg
from sqlalchemy import make_url, text

from daemon.store.database import Database

log = logging.getLogger("pims_sync.leases")

LEASES_CHANNEL = "pims_sync_leases"
WORK_CHANNEL = "pims_sync_work"
ROWS_CHANNEL = "pims_sync_rows"
#: Rows of replicas silent for this many TTLs are deleted (crashed replicas leave theirs).
FORGET_AFTER_TTLS = 20


@dataclass(frozen=True)
class Renewal:
    """What one renewal saw: the leases held (clinic → token), the live replicas (this one
    included unless draining), the active clinics, and what needs attention."""

    held: dict[uuid.UUID, int]
    inactive: set[uuid.UUID]  # held leases of clinics deactivated since: to be given up
    live: int
    active: int
    missing: int  # active clinics with no lease row yet
    claimable: int  # active clinics whose lease is free or expired
    queued: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)  # (clinic, sync)


_RENEW = text(
    """
WITH beat AS (
    INSERT INTO replicas (id, started_at, heartbeat_at, draining)
    VALUES (:replica, now(), now(), :draining)
    ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), draining = EXCLUDED.draining
    RETURNING id
), renewed AS (
    UPDATE clinic_leases SET expires_at = now() + make_interval(secs => :ttl)
    WHERE owner_id = :replica
    RETURNING clinic_id, fencing_token
)
SELECT
    (SELECT count(*) FROM beat) AS beat,
    (SELECT count(*) FROM replicas
      WHERE id <> :replica AND NOT draining
        AND heartbeat_at > now() - make_interval(secs => :ttl)) AS others,
    (SELECT count(*) FROM clinics WHERE is_active) AS active,
    (SELECT count(*) FROM clinics c WHERE c.is_active
        AND NOT EXISTS (SELECT 1 FROM clinic_leases l WHERE l.clinic_id = c.id)) AS missing,
    (SELECT count(*) FROM clinic_leases l JOIN clinics c ON c.id = l.clinic_id
      WHERE c.is_active AND (l.owner_id IS NULL OR l.expires_at < now())) AS claimable,
    (SELECT coalesce(json_agg(json_build_array(r.clinic_id, r.fencing_token, c.is_active)), '[]')
       FROM renewed r JOIN clinics c ON c.id = r.clinic_id) AS held,
    (SELECT coalesce(json_agg(json_build_array(s.clinic_id, s.id)), '[]')
       FROM schedule_syncs s JOIN renewed r ON r.clinic_id = s.clinic_id
      WHERE s.status = 'queued' AND s.queued_at < now() - make_interval(secs => :ttl / 3))
      AS queued
"""
)

_ENSURE = text(
    """
INSERT INTO clinic_leases (clinic_id, owner_id, fencing_token, acquired_at, expires_at)
SELECT id, NULL, 0, NULL, now() FROM clinics WHERE is_active
ON CONFLICT (clinic_id) DO NOTHING
"""
)

_CLAIM = text(
    """
WITH picked AS (
    SELECT l.clinic_id, l.owner_id FROM clinic_leases l JOIN clinics c ON c.id = l.clinic_id
    WHERE c.is_active AND (l.owner_id IS NULL OR l.expires_at < now())
    ORDER BY l.expires_at, l.clinic_id
    LIMIT :limit
    FOR UPDATE OF l SKIP LOCKED
)
UPDATE clinic_leases l
SET owner_id = :replica, fencing_token = l.fencing_token + 1,
    acquired_at = now(), expires_at = now() + make_interval(secs => :ttl)
FROM picked WHERE l.clinic_id = picked.clinic_id
RETURNING l.clinic_id, l.fencing_token, picked.owner_id
"""
)

# The previous owner's running syncs of clinics just taken over end now, not after the
# two-minute heartbeat rule; `pims-sync sync` runs (trigger cli) belong to no replica.
_CLOSE_PREVIOUS = text(
    """
UPDATE schedule_syncs
SET status = 'interrupted', error_code = 'lease_lost', completed_at = now(),
    duration_ms = (extract(epoch FROM now() - coalesce(started_at, queued_at)) * 1000)::int,
    errors = CAST(:errors AS jsonb)
WHERE clinic_id = ANY(:clinics) AND status = 'running' AND trigger <> 'cli'
  AND (replica_id IS NULL OR replica_id <> :replica)
RETURNING id
"""
)

# ... and their audit rows (cases, reconciliation), which the fenced-out run cannot close.
_CLOSE_AUDITS = text(
    """
UPDATE case_sync_audits
SET status = 'interrupted', completed_at = now(),
    duration_ms = (extract(epoch FROM now() - started_at) * 1000)::int
WHERE sync_id = ANY(:syncs) AND status = 'running'
"""
)

_RELEASE = text(
    """
UPDATE clinic_leases SET owner_id = NULL, expires_at = now()
WHERE owner_id = :replica AND clinic_id = ANY(:clinics)
RETURNING clinic_id
"""
)

_RELEASE_ALL = text(
    "UPDATE clinic_leases SET owner_id = NULL, expires_at = now() WHERE owner_id = :replica"
    " RETURNING clinic_id"
)

_MARK_RUNNER = text(
    "UPDATE schedule_syncs SET replica_id = :replica WHERE id = :sync_id AND status = 'queued'"
)

# Start-up sweep (contract §5.1 with replicas): running rows of replicas that are no longer
# live, or silent past the heartbeat rule; queued rows stay for the clinic's owner to run.
# Rows under this replica's own name are a previous process's (a restart under the same
# REPLICA_ID, e.g. a container restarted in place): this one has run nothing yet, and since it
# keeps its leases no new owner would close them.
_SWEEP = text(
    """
UPDATE schedule_syncs s
SET status = 'interrupted', error_code = 'interrupted', completed_at = now(),
    duration_ms = (extract(epoch FROM now() - coalesce(s.started_at, s.queued_at)) * 1000)::int,
    errors = CAST(:errors AS jsonb)
WHERE s.status = 'running' AND s.trigger <> 'cli'
  AND (s.heartbeat_at IS NULL OR s.heartbeat_at < now() - make_interval(secs => :stale)
       OR s.replica_id IS NULL OR s.replica_id = :replica
       OR NOT EXISTS (SELECT 1 FROM replicas r WHERE r.id = s.replica_id
                        AND r.heartbeat_at > now() - make_interval(secs => :ttl)))
RETURNING s.id
"""
)


def _errors(code: str, message: str) -> str:
    return json.dumps([{"code": code, "message": message}])


class LeaseStore:
    """The lease statements of one replica."""

    def __init__(self, db: Database, replica_id: str, ttl_s: float) -> None:
        self.db = db
        self.replica_id = replica_id
        self.ttl_s = ttl_s
        self.statements = 0  # counted for the benchmark of the loop's cost

    def _execute(self, statement: Any, **params: Any) -> Any:
        self.statements += 1
        with self.db.engine.begin() as connection:
            return connection.execute(statement, params).all()

    # -- the loop -------------------------------------------------------------------------------

    def renew(self, *, draining: bool) -> Renewal:
        row = self._execute(_RENEW, replica=self.replica_id, draining=draining, ttl=self.ttl_s)[0]
        leases = [(uuid.UUID(str(c)), int(t), bool(a)) for c, t, a in _json(row.held)]
        held = {c: t for c, t, _active in leases}
        inactive = {c for c, _t, active in leases if not active}
        queued = [(uuid.UUID(str(c)), uuid.UUID(str(s))) for c, s in _json(row.queued)]
        return Renewal(
            held=held,
            inactive=inactive,
            live=int(row.others) + (0 if draining else 1),
            active=int(row.active),
            missing=int(row.missing),
            claimable=int(row.claimable),
            queued=queued,
        )

    def ensure_rows(self) -> None:
        self._execute_no_rows(_ENSURE)

    def claim(self, limit: int) -> dict[uuid.UUID, tuple[int, str | None]]:
        """Take up to ``limit`` free or expired leases: clinic → (token, previous owner)."""
        if limit <= 0:
            return {}
        rows = self._execute(_CLAIM, replica=self.replica_id, ttl=self.ttl_s, limit=limit)
        return {r.clinic_id: (int(r.fencing_token), r.owner_id) for r in rows}

    def close_previous_runs(self, clinic_ids: list[uuid.UUID]) -> list[uuid.UUID]:
        if not clinic_ids:
            return []
        rows = self._execute(
            _CLOSE_PREVIOUS,
            clinics=clinic_ids,
            replica=self.replica_id,
            errors=_errors("lease_lost", "the replica running this sync lost the clinic's lease"),
        )
        closed = [r.id for r in rows]
        if closed:
            self._execute_no_rows(_CLOSE_AUDITS, syncs=closed)
        return closed

    def release(self, clinic_ids: list[uuid.UUID]) -> list[uuid.UUID]:
        if not clinic_ids:
            return []
        rows = self._execute(_RELEASE, replica=self.replica_id, clinics=clinic_ids)
        self.notify(LEASES_CHANNEL, "released")
        return [r.clinic_id for r in rows]

    def release_all(self) -> int:
        rows = self._execute(_RELEASE_ALL, replica=self.replica_id)
        self.notify(LEASES_CHANNEL, "released")
        return len(rows)

    # -- the replica registry -------------------------------------------------------------------

    def forget_old_replicas(self) -> int:
        rows = self._execute(
            text(
                "DELETE FROM replicas WHERE heartbeat_at < now() - make_interval(secs => :age)"
                " RETURNING id"
            ),
            age=self.ttl_s * FORGET_AFTER_TTLS,
        )
        return len(rows)

    def unregister(self) -> None:
        self._execute_no_rows(
            text("DELETE FROM replicas WHERE id = :replica"), replica=self.replica_id
        )

    def live_replicas(self) -> list[str]:
        rows = self._execute(
            text(
                "SELECT id FROM replicas WHERE NOT draining"
                " AND heartbeat_at > now() - make_interval(secs => :ttl) ORDER BY id"
            ),
            ttl=self.ttl_s,
        )
        return [r.id for r in rows]

    # -- syncs ----------------------------------------------------------------------------------

    def mark_runner(self, sync_id: uuid.UUID) -> None:
        """Record this replica on a sync it is about to run (through a fenced session)."""
        with self.db.session() as session:
            session.execute(_MARK_RUNNER, {"replica": self.replica_id, "sync_id": sync_id})

    def sweep_dead(self, *, heartbeat_older_than: timedelta) -> list[uuid.UUID]:
        rows = self._execute(
            _SWEEP,
            stale=heartbeat_older_than.total_seconds(),
            ttl=self.ttl_s,
            replica=self.replica_id,
            errors=_errors("interrupted", "the run stopped reporting (replica died or hung)"),
        )
        return [r.id for r in rows]

    def interrupt_own(self, message: str) -> list[uuid.UUID]:
        """At the end of a drain: this replica's rows still running (their thread is stuck)."""
        rows = self._execute(
            text(
                """
UPDATE schedule_syncs
SET status = 'interrupted', error_code = 'interrupted', completed_at = now(),
    duration_ms = (extract(epoch FROM now() - coalesce(started_at, queued_at)) * 1000)::int,
    errors = CAST(:errors AS jsonb)
WHERE replica_id = :replica AND status = 'running' RETURNING id
"""
            ),
            replica=self.replica_id,
            errors=_errors("interrupted", "the daemon shut down before this sync finished"),
        )
        return [r.id for r in rows]

    # -- notifications --------------------------------------------------------------------------

    def notify(self, channel: str, payload: str) -> None:
        self._execute_no_rows(
            text("SELECT pg_notify(:channel, :payload)"), channel=channel, payload=payload
        )

    def _execute_no_rows(self, statement: Any, **params: Any) -> None:
        self.statements += 1
        with self.db.engine.begin() as connection:
            connection.execute(statement, params)


def _json(value: Any) -> list[Any]:
    if isinstance(value, str):
        loaded: list[Any] = json.loads(value)
        return loaded
    return list(value or [])


def listen_url(db: Database) -> str:
    """The database URL in the form psycopg connects with (no SQLAlchemy driver suffix)."""
    url = make_url(db.url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class Listener:
    """A thread holding one connection that ``LISTEN``s and hands each notification to
    ``on_notify(channel, payload)``; it reconnects with backoff when the database goes away."""

    def __init__(
        self, url: str, channels: tuple[str, ...], on_notify: Callable[[str, str], None]
    ) -> None:
        self._url = url
        self._channels = channels
        self._on_notify = on_notify
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lease-listener", daemon=True)
        self.connected = threading.Event()

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=10) as conn:
                    for channel in self._channels:
                        conn.execute(f"LISTEN {channel}")
                    self.connected.set()
                    delay = 0.5
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._deliver(note.channel, note.payload)
            except Exception as error:  # the database went away: try again, slowly
                self.connected.clear()
                log.warning("notification listener lost its connection: %s", type(error).__name__)
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, 10.0)

    def _deliver(self, channel: str, payload: str) -> None:
        try:
            self._on_notify(channel, payload)
        except Exception:
            log.exception("handling a %s notification failed", channel)


class RunLockHeld(RuntimeError):
    pass


class RunLock:
    """On SQLite exactly one ``pims-sync run`` serves a database: an OS lock on a file beside
    it. One-off commands (``sync``, ``status``) never take it, so they still work beside the
    daemon. The kernel drops the lock when the process dies, however it dies."""

    def __init__(self, database_path: Path) -> None:
        self.path = database_path.with_name(database_path.name + ".run.lock")
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunLockHeld(
                f"another `pims-sync run` ({holder}) already serves this SQLite database "
                f"(lock {self.path}); SQLite runs one daemon — use PostgreSQL for replicas. "
                "One-off commands such as `pims-sync sync` and `pims-sync status` still work."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database).expanduser().resolve()
