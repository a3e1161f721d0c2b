"""The daemon process: what starts in which order, and how it stops (in reverse).

Start: database (migrated) → stale syncs swept → browser pool → supervisor (clinic actors) →
config watcher (first load) → sweeper → HTTP server. Stop: HTTP stops taking triggers (``/ready``
turns 503) and clinic actors start nothing new → running syncs get ``SHUTDOWN_GRACE_S`` to
finish → the rest are cancelled and marked ``interrupted`` → actors stop in reverse order, in
parallel → browsers closed → HTTP server closed. Everything after the grace shares one deadline,
``STOP_OVERRUN_S``, so the process exits within ``SHUTDOWN_GRACE_S + 10`` s (contract §7) with
room left for the final log flush, whatever is stuck.
"""

from __future__ import annotations

import logging
import socket
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
from actors.messages import ClinicServed, Drain, PollNow, PoolStatus, StopChildren
from actors.serving import ServiceBoard
from actors.supervisor import Supervisor
from actors.sweeper import Sweeper
from daemon.config import Settings
from daemon.dispatcher import ActorDispatcher
from daemon.http.app import build_app
from daemon.http.server import HttpServer, bind_socket
from daemon.observability import metrics
from daemon.replication import AlreadyServed, Replication
from daemon.startup_checks import StartupError as StartupError  # re-exported for run_cmd
from daemon.startup_checks import check_encryption_key
from daemon.store import Database, SecretBox, Store
from daemon.store.clinics import ClinicView
from daemon.store.migrate import is_current, upgrade
from daemon.store.syncs import HEARTBEAT_TIMEOUT
from daemon.store.types import utcnow
from daemon.sync.providers import ProviderFactory
from daemon.sync.runner import SyncRunner
from daemon.sync.watch import LocalSyncWatch
from providers.browsers.pool import BrowserPool

log = logging.getLogger("pims_sync.actors")

ACTOR_STOP_TIMEOUT_S = 5.0
#: After the grace, everything shares STOP_OVERRUN_S: cancelled syncs get CANCEL_WAIT_S of it
#: to end, then actors stop, browsers close (given POOL_STOP_MIN_S at least) and the HTTP server
#: closes. With the final log flush (at most 5 s) the process is gone within
#: SHUTDOWN_GRACE_S + 10 s (contract §7).
CANCEL_WAIT_S = 0.8
STOP_OVERRUN_S = 2.0
HTTP_STOP_S = 0.5
POOL_STOP_MIN_S = 2.0
LEFTOVERS_MIN_S = 0.5
ASK_TIMEOUT_S = 2.0
FIRST_LOAD_WAIT_S = 15.0


@dataclass
class Running:
    store: Store
    pool: BrowserPool
    pool_actor: pykka.ActorRef[Any]
    directory: ClinicDirectory
    board: ServiceBoard
    draining: threading.Event
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
        self.replication = Replication(settings)

    @property
    def port(self) -> int:
        return 0 if self.running is None else self.running.http.port

    # -- start ----------------------------------------------------------------------------------

    def start(self) -> None:
        settings = self.settings
        try:
            self.replication.lock()  # SQLite: one daemon per database
        except AlreadyServed as served:
            raise StartupError(str(served)) from None
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
        swept = self.replication.sweep(store, HEARTBEAT_TIMEOUT)
        if swept:
            log.warning("marked %d sync(s) left by a previous process as interrupted", len(swept))

        # The "no successful sync for a day" alert must survive a restart.
        for clinic_id, sync_type, completed_at in store.syncs.last_successes():
            metrics.LAST_SUCCESS_TIMESTAMP.labels(clinic_id=str(clinic_id), type=sync_type).set(
                completed_at.timestamp()
            )

        # The port is bound before any actor starts: a process that cannot serve (the port
        # taken, HOST unresolvable) must fail before it has run a sync, not after its first
        # scheduled one (a platform restarting it would repeat that sync on every attempt).
        # Connections wait in the backlog until the server starts below.
        listener = _listen(settings)
        pool = BrowserPool(size=settings.browser_pool_size, chromium_path=settings.chromium_path)
        try:
            directory = ClinicDirectory()
            # Starts Chromium once a clinic that logs in through a browser is served.
            pool_actor = BrowserPoolActor.start(
                pool, is_served=lambda clinic_id: directory.actor_for(clinic_id) is not None
            )

            runner = SyncRunner(store, ProviderFactory(store, pool), clock=self.clock)
            clinic_runner = self.replication.runner(runner, store, directory)
            board = ServiceBoard()
            draining = threading.Event()

            def start_clinic(
                clinic: ClinicView, supervisor: pykka.ActorRef[Any]
            ) -> pykka.ActorRef[Any]:
                pool_actor.tell(ClinicServed(clinic.id, clinic.provider))
                return ClinicActor.start(
                    clinic,
                    store=store,
                    runner=clinic_runner,
                    directory=directory,
                    supervisor=supervisor,
                    scheduler_enabled=settings.enable_scheduler,
                    clock=self.clock,
                    draining=draining,
                    hand_over=self.replication.enabled,
                )

            supervisor = Supervisor.start(
                directory=directory, board=board, start_child=start_clinic
            )
            watchers: list[pykka.ActorRef[Any]] = []
            # Replicas: the clinics this replica holds decide which actors the supervisor runs.
            self.replication.start(db, directory, lambda: _reload(watchers))
            watcher = ConfigWatcher.start(
                store=store, supervisor=supervisor, interval_s=settings.config_poll_interval_s
            )
            watchers.append(watcher)
            first_load: dict[str, int] = watcher.ask(PollNow(), block=True)
            self._wait_for_clinics(directory, board, first_load.get("started", 0))
            self._scheduler_loaded.set()
            sweeper = Sweeper.start(store=store)

            def browser_status() -> dict[str, Any]:
                if not pool_actor.is_alive():
                    return {"warmed": False, "error": "browser pool stopped"}
                status: dict[str, Any] = pool_actor.ask(PoolStatus(), block=True, timeout=5)
                return status

            dispatcher = ActorDispatcher(
                store=store,
                directory=directory,
                board=board,
                scheduler_enabled=settings.enable_scheduler,
                scheduler_loaded=self._scheduler_loaded.is_set,
                browser_status=browser_status,
                browser_pss=pool.pss_bytes,
                clock=self.clock,
            )
            watch = LocalSyncWatch()
            self.replication.share_rows(store, watch.notify)  # replicas: rows written elsewhere
            http = HttpServer(
                build_app(dispatcher=dispatcher, store=store, settings=settings, watch=watch),
                host=settings.host,
                port=settings.port,
                sock=listener,
            )
            http.start()
        except BaseException:
            listener.close()
            # Whatever did start must not outlive a failed start-up.
            self.replication.release()
            for ref in reversed(pykka.ActorRegistry.get_all()):
                ref.stop(block=True, timeout=ACTOR_STOP_TIMEOUT_S)
            pool.stop()
            db.dispose()
            self.replication.close()
            raise
        self.running = Running(
            store,
            pool,
            pool_actor,
            directory,
            board,
            draining,
            supervisor,
            watcher,
            sweeper,
            dispatcher,
            http,
        )
        log.info("pims-sync listening on %s:%d", settings.host, http.port)

    # -- operator signals -------------------------------------------------------------------------

    def reload(self) -> None:
        """SIGHUP: reload clinic configuration now; running syncs go on."""
        if self.running is not None and self.running.watcher.is_alive():
            log.info("reloading configuration")
            self.replication.claim_now()
            self.running.watcher.tell(PollNow())

    # -- stop -----------------------------------------------------------------------------------

    def stop(self) -> None:
        """Drain, then tear down in reverse order; never raises, never runs past the bound."""
        if self.running is None or self._stopped.is_set():
            self.replication.close()  # a start-up that failed early may hold the run lock
            return
        self._stopped.set()
        r = self.running
        grace = self.settings.shutdown_grace_s
        began = time.monotonic()
        deadline = began + grace + STOP_OVERRUN_S
        log.info(
            "shutting down: no new syncs; %d running get up to %.0f s",
            len(r.directory.running()),
            grace,
        )
        r.dispatcher.start_draining()
        r.draining.set()  # clinic actors start nothing new from here on
        _attempt("drain the supervisor", lambda: r.supervisor.ask(Drain(), timeout=ASK_TIMEOUT_S))
        _attempt("stop taking clinic leases", self.replication.start_draining)
        self._wait_for_syncs(r.directory, began + grace)
        if r.directory.running():
            log.warning(
                "cancelling %d sync(s) still running after the grace period",
                r.directory.cancel_all(),
            )
            self._wait_for_syncs(r.directory, time.monotonic() + CANCEL_WAIT_S)
        # Bounded: with the database unreachable (not refusing), each try could hang for the
        # driver's connect timeout.
        if self.replication.enabled:
            # Replicas: release every lease now, so another replica takes the clinics in
            # seconds; queued rows wait for the clinics' next owner.
            _attempt_within(
                "release the clinic leases",
                self.replication.release,
                max(deadline - time.monotonic() - 0.5, LEFTOVERS_MIN_S),
            )
        else:
            _attempt_within(
                "mark unfinished syncs interrupted",
                lambda: self._interrupt_leftovers(r.store),
                max(deadline - time.monotonic() - 0.5, LEFTOVERS_MIN_S),
            )

        # Reverse start order; each group stopped in parallel, all under one deadline.
        _stop_all([r.sweeper, r.watcher], deadline)
        children: list[pykka.ActorRef[Any]] = (
            _attempt(
                "collect the clinic actors",
                lambda: r.supervisor.ask(StopChildren(), timeout=ASK_TIMEOUT_S),
            )
            or []
        )
        _stop_all([*children, r.supervisor], deadline)
        # Closing Chromium gets its time even past the deadline: an orphaned browser would
        # outlive the process.
        _stop_all([r.pool_actor], deadline, at_least_s=POOL_STOP_MIN_S)
        _attempt(
            "stop the HTTP server",
            lambda: r.http.stop(timeout_s=max(deadline - time.monotonic(), HTTP_STOP_S)),
        )
        r.dispatcher.close()
        _stop_all(list(reversed(pykka.ActorRegistry.get_all())), deadline, at_least_s=0.0)
        _attempt("close the database", r.store.db.dispose)
        self.replication.close()
        log.info("pims-sync stopped in %.1f s", time.monotonic() - began)

    @staticmethod
    def _wait_for_clinics(directory: ClinicDirectory, board: ServiceBoard, started: int) -> None:
        """Until each clinic actor started has either started (served) or failed (on the
        board, restarting): then /ready tells the truth about every clinic."""
        deadline = time.monotonic() + FIRST_LOAD_WAIT_S
        while time.monotonic() < deadline:
            if directory.clinic_count() + len(board.unserved()) >= started:
                return
            time.sleep(0.02)

    @staticmethod
    def _wait_for_syncs(directory: ClinicDirectory, until: float) -> None:
        while directory.running() and time.monotonic() < until:
            time.sleep(0.1)

    def _interrupt_leftovers(self, store: Store) -> None:
        # Rows of this daemon only: a `pims-sync sync` running beside us (trigger "cli") is
        # another process's business. Queued rows are marked too (contract §2.4): the next
        # process would mark them anyway, and a caller waiting on one learns now.
        for record in store.syncs.active():
            if record.trigger == "cli":
                continue
            store.syncs.interrupt(record.id, "the daemon shut down before this sync finished")
            log.warning(
                "sync marked interrupted at shutdown",
                extra={"sync_id": str(record.id), "clinic_id": str(record.clinic_id)},
            )


def _listen(settings: Settings) -> socket.socket:
    try:
        return bind_socket(settings.host, settings.port)
    except OSError as error:  # the port is taken, the host does not resolve, …
        # socket.create_server words its strerror "… (while attempting to bind on address …)":
        # the line already names the address, so the plain reason for its errno is enough.
        reason = (error.strerror or str(error)).split(" (while attempting", 1)[0]
        raise StartupError(
            f"cannot listen on {settings.host}:{settings.port} (HOST, PORT): {reason}"
        ) from error


def _attempt(what: str, step: Callable[[], Any]) -> Any:
    """One shutdown step: a failure is logged and the shutdown goes on."""
    try:
        return step()
    except Exception:
        log.warning("shutdown: could not %s", what, exc_info=True)
        return None


def _attempt_within(what: str, step: Callable[[], Any], seconds: float) -> None:
    """``_attempt`` on a helper thread, waited for at most ``seconds``."""
    worker = threading.Thread(target=_attempt, args=(what, step), name="shutdown", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        log.warning("shutdown: could not %s within %.0f s; going on", what, seconds)


def _stop_all(refs: list[pykka.ActorRef[Any]], deadline: float, at_least_s: float = 0.5) -> None:
    """Ask every actor to stop at once, then wait for them until ``deadline`` (or
    ``at_least_s`` from now, for the whole group). An actor stuck in a call that ignores
    cancellation is left behind: its thread ends with the process."""
    until = max(deadline, time.monotonic() + at_least_s)
    futures = []
    for ref in refs:
        if ref.is_alive():
            try:
                futures.append((ref, ref.stop(block=False)))
            except pykka.ActorDeadError:
                continue
    for ref, future in futures:
        try:
            future.get(timeout=max(until - time.monotonic(), 0.001))
        except pykka.Timeout:
            log.warning("shutdown: %s did not stop in time; leaving it", ref)
        except Exception:
            log.warning("shutdown: %s failed while stopping", ref, exc_info=True)


def _reload(watchers: list[pykka.ActorRef[Any]]) -> None:
    for watcher in watchers:
        if watcher.is_alive():
            watcher.tell(PollNow())
