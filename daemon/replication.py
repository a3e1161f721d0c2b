"""The daemon's side of running beside other replicas (replicas.md), in one place.

On PostgreSQL with ``ENABLE_LEASES`` (the default there): a lease keeper decides which clinics
this replica serves, sync writes are fenced, triggers for clinics served elsewhere are handed to
their owner by ``NOTIFY``, the start-up sweep spares live replicas' rows, and a drain releases
every lease once the syncs are over. On SQLite: an OS lock makes sure that exactly one
``pims-sync run`` serves the database. :class:`daemon.app.Daemon` calls these steps in order.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pykka

from actors.directory import ClinicDirectory
from actors.fenced_runner import FencedRunner, Runner
from actors.lease_keeper import LeaseKeeper
from actors.messages import LeaseTick, Notification, ReleaseLeases, StopClaiming
from daemon.config import Settings
from daemon.store import Database, Store
from daemon.store.leases import (
    LEASES_CHANNEL,
    ROWS_CHANNEL,
    WORK_CHANNEL,
    LeaseStore,
    Listener,
    RunLock,
    RunLockHeld,
    listen_url,
    sqlite_path,
)

log = logging.getLogger("pims_sync.leases")


class AlreadyServed(RuntimeError):
    """Another ``pims-sync run`` serves this SQLite database (the message says so)."""


class Replication:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.leases: LeaseStore | None = None
        self.keeper: pykka.ActorRef[Any] | None = None
        self.listener: Listener | None = None
        self._run_lock: RunLock | None = None
        self._row_followers: list[Callable[[uuid.UUID], None]] = []

    @property
    def enabled(self) -> bool:
        return self.settings.enable_leases

    # -- start, in the daemon's order -----------------------------------------------------------

    def lock(self) -> None:
        """Before anything else: on SQLite, refuse to be the second daemon of a database."""
        path = sqlite_path(self.settings.database_url)
        if path is None:
            return
        lock = RunLock(path)
        try:
            lock.acquire()
        except RunLockHeld as held:
            raise AlreadyServed(str(held)) from None
        self._run_lock = lock

    def sweep(self, store: Store, heartbeat_older_than: timedelta) -> list[uuid.UUID]:
        """The start-up sweep (contract §5.1): with leases only rows of replicas that are no
        longer live, and queued rows are left for their clinic's owner to run."""
        if not self.enabled:
            return store.syncs.interrupt_stale(
                heartbeat_older_than=heartbeat_older_than, include_queued=True
            )
        self.leases = LeaseStore(store.db, self.settings.replica_id, self.settings.lease_ttl_s)
        self.leases.forget_old_replicas()
        self.leases.renew(draining=False)  # registers this replica in the live set
        return self.leases.sweep_dead(heartbeat_older_than=heartbeat_older_than)

    def runner(self, runner: Runner, store: Store, directory: ClinicDirectory) -> Runner:
        """The clinic actors' runner, fenced by the clinic's lease; and from here on the
        directory serves only the clinics this replica holds."""
        leases = self.leases
        if leases is None:
            return runner

        def hand_over(clinic_id: uuid.UUID, sync_id: uuid.UUID) -> None:
            leases.notify(WORK_CHANNEL, f"{clinic_id} {sync_id}")

        directory.use_leases(self.settings.replica_id, self.settings.lease_ttl_s, hand_over)
        return FencedRunner(runner, store, leases, directory)

    def start(self, db: Database, directory: ClinicDirectory, reload: Any) -> None:
        """After the supervisor, before the first configuration load: take this replica's
        clinics, then listen for other replicas' releases and hand-overs. ``reload()`` is
        called whenever the held set changes (the supervisor then starts and stops actors)."""
        if self.leases is None:
            return
        self.keeper = LeaseKeeper.start(leases=self.leases, directory=directory, on_change=reload)
        self.keeper.ask(LeaseTick())
        keeper = self.keeper

        def route(channel: str, payload: str) -> None:
            if channel == ROWS_CHANNEL:
                self._row_changed(payload)
            elif keeper.is_alive():
                keeper.tell(Notification(channel, payload))

        self.listener = Listener(
            listen_url(db), (LEASES_CHANNEL, WORK_CHANNEL, ROWS_CHANNEL), route
        ).start()

    # -- while running --------------------------------------------------------------------------

    def follow_rows(self, on_change: Callable[[uuid.UUID], None]) -> None:
        """Call ``on_change(sync_id)`` when another replica announces a change of a sync's
        row (a waiting trigger or an SSE stream here is then woken, not left to its poll)."""
        self._row_followers.append(on_change)

    def share_rows(self, store: Store, on_change: Callable[[uuid.UUID], None]) -> None:
        """Waiting triggers and SSE streams on any replica are woken by a change of their
        sync's row wherever it was written: this process's changes are announced to the
        others (``NOTIFY``), and theirs reach ``on_change`` here."""
        if self.leases is None:
            return
        store.syncs.on_change(self.announce_row)
        self.follow_rows(on_change)

    def announce_row(self, sync_id: uuid.UUID) -> None:
        """Tell the other replicas that the row of ``sync_id`` changed (after the commit)."""
        if self.leases is not None:
            with contextlib.suppress(Exception):  # waiters still re-read the row now and then
                self.leases.notify(ROWS_CHANNEL, str(sync_id))

    def _row_changed(self, payload: str) -> None:
        try:
            sync_id = uuid.UUID(payload)
        except ValueError:
            return
        for follower in list(self._row_followers):
            follower(sync_id)

    def claim_now(self) -> None:
        """SIGHUP: claim new clinics at once rather than at the next renewal."""
        if self.keeper is not None and self.keeper.is_alive():
            self.keeper.tell(LeaseTick())

    # -- stop -----------------------------------------------------------------------------------

    def start_draining(self) -> None:
        """Take no new lease, count for nobody's share; the leases stay while syncs finish."""
        if self.keeper is not None and self.keeper.is_alive():
            with contextlib.suppress(Exception):
                self.keeper.ask(StopClaiming(), timeout=5)

    def release(self) -> None:
        """Once the syncs are finished or interrupted: release every lease at once, so that
        another replica takes the clinics in seconds rather than after the TTL."""
        if self.listener is not None:
            self.listener.stop()
        if self.keeper is not None and self.keeper.is_alive():
            try:
                self.keeper.ask(ReleaseLeases(), timeout=10)
            except Exception:
                log.exception("releasing the clinic leases failed; they expire after the TTL")
            self.keeper.stop(block=False)
        elif self.leases is not None:
            with contextlib.suppress(Exception):  # they expire after the TTL anyway
                self.leases.release_all()
                self.leases.unregister()

    def close(self) -> None:
        if self._run_lock is not None:
            self._run_lock.release()
            self._run_lock = None
