"""``pims-sync run``: the always-on daemon (Procfile: ``web: pims-sync run``).

Signals (contract §2.4): SIGTERM/SIGINT drain and exit 0 (a second one exits at once); SIGHUP
reloads clinic configuration; SIGUSR1 logs every thread's stack.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import traceback
from types import FrameType
from typing import TYPE_CHECKING, Any

from daemon.cli.common import EXIT_FAILED, EXIT_OK, CliFailure
from daemon.config import Settings

if TYPE_CHECKING:
    from daemon.app import Daemon
    from daemon.observability.logging import LoggingHandle

log = logging.getLogger("pims_sync.actors")

LOG_FLUSH_S = 5.0


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "run", help="run the daemon (migrates first unless AUTO_MIGRATE=false)"
    )
    parser.set_defaults(handler=run)


def configure_daemon_logging(settings: Settings) -> LoggingHandle:
    from daemon.observability.axiom import AxiomSettings
    from daemon.observability.logging import configure_logging

    axiom = None
    if settings.axiom_api_token:
        axiom = AxiomSettings(
            token=settings.axiom_api_token, dataset=settings.axiom_dataset, url=settings.axiom_url
        )
    handle = configure_logging(level=settings.log_level, fmt=settings.log_format, axiom=axiom)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return handle


def dump_stacks() -> None:
    names = {t.ident: t.name for t in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        stack = "".join(traceback.format_stack(frame))
        log.warning("thread %s (%s) stack:\n%s", names.get(ident, "?"), ident, stack)


class SignalPlan:
    """Turns operator signals into daemon actions; the main thread waits on ``stop``."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.stop = threading.Event()

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._terminate)
        signal.signal(signal.SIGINT, self._terminate)
        signal.signal(signal.SIGHUP, self._reload)
        signal.signal(signal.SIGUSR1, self._dump)

    def _terminate(self, signum: int, _frame: FrameType | None) -> None:
        if self.stop.is_set():
            os.write(2, b"pims-sync: second signal, exiting at once\n")
            os._exit(1)
        log.info("received %s: draining", signal.Signals(signum).name)
        self.stop.set()

    def _reload(self, _signum: int, _frame: FrameType | None) -> None:
        # Handlers run between bytecodes of the main thread: hand the work to a thread.
        threading.Thread(target=self.daemon.reload, name="sighup", daemon=True).start()

    def _dump(self, _signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=dump_stacks, name="sigusr1", daemon=True).start()


def run(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here: the daemon pulls in the HTTP server, actors and browsers, which the
    # short admin commands do not need.
    from daemon.app import Daemon, StartupError

    handle = configure_daemon_logging(settings)
    daemon = Daemon(settings)
    plan = SignalPlan(daemon)
    plan.install()
    try:
        daemon.start()
    except StartupError as exc:
        daemon.stop()
        handle.shutdown(LOG_FLUSH_S)
        raise CliFailure(str(exc)) from None
    except OSError as exc:  # typically the port is taken
        daemon.stop()
        handle.shutdown(LOG_FLUSH_S)
        raise CliFailure(f"could not start: {exc}") from None
    try:
        while not plan.stop.wait(1.0):
            pass
    finally:
        daemon.stop()
        handle.shutdown(LOG_FLUSH_S)
    _exit_if_stuck()
    return EXIT_OK


def _exit_if_stuck() -> None:
    """A sync stuck in a call that ignores cancellation keeps a non-daemon thread alive; the
    grace is over and every row is marked, so the process ends anyway."""
    others = [
        t
        for t in threading.enumerate()
        if t is not threading.current_thread() and not t.daemon and t.is_alive()
    ]
    if others:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_OK)


__all__ = ["EXIT_FAILED", "register", "run"]
