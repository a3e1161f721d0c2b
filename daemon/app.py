"""The daemon process: what starts in which order, and how it stops (in reverse).

Start: database (migrated) → stale syncs swept → browser pool → supervisor (clinic actors) →
config watcher (first load) → sweeper → HTTP server. Stop: HTTP stops taking triggers (``/ready``
turns 503) → running syncs get ``SHUTDOWN_GRACE_S`` to finish → the rest are cancelled and marked
``interrupted`` → actors stop in reverse order → browsers closed → HTTP server closed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pykka

from actors.browser_pool import BrowserPoolActor
from actors.clinic import ClinicActor
from actors.config_watcher import ConfigWatcher
from actors.directory import ClinicDirectory
from actors.messages import PollNow
from actors.supervisor import Supervisor
from actors.sweeper import HEARTBEAT_TIMEOUT, Sweeper
from daemon.config import Settings
from daemon.dispatcher import ActorDispatcher
from daemon.http.app import build_app
from daemon.http.server import HttpServer
from daemon.observability import metrics
from daemon.startup_checks import StartupError as StartupError  # re-exported for run_cmd
from daemon.startup_checks import check_encryption_key
from daemon.store import Database, SecretBox, Store
from daemon.store.clinics import ClinicView
from daemon.store.migrate import is_current, upgrade
from daemon.store.types import utcnow
from daemon.sync.providers import ProviderFactory
from daemon.sync.runner import SyncRunner
from providers.browsers.pool import BrowserPool

log = logging.getLogger("pims_sync.actors")

CANCEL_WAIT_S = 5.0
ACTOR_STOP_TIMEOUT_S = 5.0


@dataclass
class Running:
    store: Store
    pool: BrowserPool
    pool_actor: pykka.ActorRef[Any]
    directory: ClinicDirectory
    supervisor: pykka.ActorRef[Any]
    watcher: pykka.ActorRef[Any]
    sweeper: pykka.ActorRef[Any]
    dispatcher: ActorDispatcher
    http: HttpServer


class Daemon:
    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.clock = clock
        self.running: Running | None = None
        self._scheduler_loaded = threading.Event()
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        return 0 if self.running is None else self.running.http.port

    # -- start ----------------------------------------------------------------------------------

    def start(self) -> None:
        settings = self.settings
        db = Database(settings.database_url)
        db.ping()
        if settings.auto_migrate:
            revision = upgrade(db.engine)
            log.info("database schema at revision %s", revision)
        elif not is_current(db.engine):
            raise StartupError(
                "the database schema is not current and AUTO_MIGRATE=false: run `pims-sync migrate`"
            )
        store = Store(db, SecretBox(settings.encryption_key, settings.previous_encryption_keys))
        check_encryption_key(store)  # stored credentials that cannot be opened: stop here

        # A previous process may have died mid-sync: its rows must not block the clinics.
        swept = store.syncs.interrupt_stale(
            heartbeat_older_than=HEARTBEAT_TIMEOUT, include_queued=True
        )
        if swept:
            log.warning("marked %d sync(s) left by a previous process as interrupted", len(swept))

        # The "no successful sync for a day" alert must survive a restart.
        for clinic_id, sync_type, completed_at in store.syncs.last_successes():
            metrics.LAST_SUCCESS_TIMESTAMP.labels(clinic_id=str(clinic_id), type=sync_type).set(
                completed_at.timestamp()
            )

        pool = BrowserPool(size=settings.browser_pool_size, chromium_path=settings.chromium_path)
        try:
            directory = ClinicDirectory()
            # Starts Chromium once a clinic that logs in through a browser is served.
            pool_actor = BrowserPoolActor.start(
                pool, is_served=lambda clinic_id: directory.actor_for(clinic_id) is not None
            )

            runner = SyncRunner(store, ProviderFactory(store, pool), clock=self.clock)

            def start_clinic(
                clinic: ClinicView, supervisor: pykka.ActorRef[Any]
            ) -> pykka.ActorRef[Any]:
                pool_actor.proxy().clinic_served(clinic.id, clinic.provider)
                return ClinicActor.start(
                    clinic,
                    store=store,
                    runner=runner,
                    directory=directory,
                    supervisor=supervisor,
                    scheduler_enabled=settings.enable_scheduler,
                    clock=self.clock,
                )

            supervisor = Supervisor.start(directory=directory, start_child=start_clinic)
            watcher = ConfigWatcher.start(
                store=store, supervisor=supervisor, interval_s=settings.config_poll_interval_s
            )
            watcher.ask(PollNow())
            self._scheduler_loaded.set()
            sweeper = Sweeper.start(store=store)

            def browser_status() -> dict[str, Any]:
                if not pool_actor.is_alive():
                    return {"warmed": False, "error": "browser pool stopped"}
                status: dict[str, Any] = pool_actor.proxy().status().get(timeout=5)
                return status

            dispatcher = ActorDispatcher(
                store=store,
                directory=directory,
                scheduler_enabled=settings.enable_scheduler,
                scheduler_loaded=self._scheduler_loaded.is_set,
                browser_status=browser_status,
                browser_pss=pool.pss_bytes,
                clock=self.clock,
            )
            http = HttpServer(
                build_app(dispatcher=dispatcher, store=store, settings=settings),
                host=settings.host,
                port=settings.port,
            )
            http.start()
        except BaseException:
            # Whatever did start must not outlive a failed start-up.
            for ref in reversed(pykka.ActorRegistry.get_all()):
                ref.stop(block=True, timeout=ACTOR_STOP_TIMEOUT_S)
            pool.stop()
            db.dispose()
            raise
        self.running = Running(
            store, pool, pool_actor, directory, supervisor, watcher, sweeper, dispatcher, http
        )
        log.info("pims-sync listening on %s:%d", settings.host, http.port)

    # -- operator signals -------------------------------------------------------------------------

    def reload(self) -> None:
        """SIGHUP: reload clinic configuration now; running syncs go on."""
        if self.running is not None and self.running.watcher.is_alive():
            log.info("reloading configuration")
            self.running.watcher.tell(PollNow())

    # -- stop -----------------------------------------------------------------------------------

    def stop(self) -> None:
        if self.running is None or self._stopped.is_set():
            return
        self._stopped.set()
        r = self.running
        grace = self.settings.shutdown_grace_s
        log.info(
            "shutting down: no new syncs; %d running get up to %.0f s",
            len(r.directory.running()),
            grace,
        )
        r.dispatcher.start_draining()
        r.supervisor.proxy().drain().get(timeout=10)
        self._wait_for_syncs(r.directory, grace)
        if r.directory.running():
            log.warning(
                "cancelling %d sync(s) still running after the grace period",
                r.directory.cancel_all(),
            )
            self._wait_for_syncs(r.directory, CANCEL_WAIT_S)
        self._interrupt_leftovers(r.store)

        for ref in (r.sweeper, r.watcher):
            if ref.is_alive():
                ref.stop(block=True, timeout=ACTOR_STOP_TIMEOUT_S)
        if r.supervisor.is_alive():
            r.supervisor.proxy().stop_children(ACTOR_STOP_TIMEOUT_S).get(
                timeout=ACTOR_STOP_TIMEOUT_S * 10
            )
            r.supervisor.stop(block=True, timeout=ACTOR_STOP_TIMEOUT_S)
        if r.pool_actor.is_alive():
            r.pool_actor.stop(block=True, timeout=30)
        r.http.stop()
        r.dispatcher.close()
        for ref in reversed(pykka.ActorRegistry.get_all()):
            try:
                ref.stop(block=True, timeout=ACTOR_STOP_TIMEOUT_S)
            except pykka.Timeout:
                log.warning("an actor did not stop in time")
        r.store.db.dispose()
        log.info("pims-sync stopped")

    @staticmethod
    def _wait_for_syncs(directory: ClinicDirectory, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while directory.running() and time.monotonic() < deadline:
            time.sleep(0.1)

    def _interrupt_leftovers(self, store: Store) -> None:
        # Rows of this daemon only: a `pims-sync sync` running beside us (trigger "cli") is
        # another process's business.
        for record in store.syncs.active():
            if record.trigger == "cli":
                continue
            store.syncs.interrupt(record.id, "the daemon shut down before this sync finished")
            log.warning(
                "sync marked interrupted at shutdown",
                extra={"sync_id": str(record.id), "clinic_id": str(record.clinic_id)},
            )
