"""The ``pims-sync`` command line (contract §2.1, §2.2).

stdout carries only a command's result; logs and progress go to stderr. Exit codes: 0 success,
1 the command ran and failed, 2 bad usage or an invalid value (the message names the argument or
variable and the rule).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from daemon import __version__
from daemon.cli.common import EXIT_FAILED, EXIT_USAGE, CliFailure
from daemon.config import ConfigError, Settings

#: command -> (module, one-line summary for ``pims-sync --help``), in the order listed there.
#: A command's module is imported only when that command runs (or shows its ``--help``): the
#: modules behind ``sync``, ``run`` or ``demo`` pull in SQLAlchemy, aiohttp and Playwright,
#: which cost about a second before argparse could even print the usage.
COMMANDS: dict[str, tuple[str, str]] = {
    "migrate": (
        "daemon.cli.migrate_cmd",
        "bring the database at DATABASE_URL to the latest schema",
    ),
    "clinic": ("daemon.cli.clinic_cmd", "add, edit and list clinics"),
    "credentials": ("daemon.cli.credentials_cmd", "store and rotate PIMS logins"),
    "key": ("daemon.cli.key_cmd", "create, list and revoke API keys"),
    "schedule": ("daemon.cli.schedule_cmd", "per-clinic cron schedules"),
    "status": ("daemon.cli.status_cmd", "the fleet: every clinic's syncs, schedules and problems"),
    "sync": ("daemon.cli.sync_cmd", "run one sync in the foreground"),
    "run": ("daemon.cli.run_cmd", "run the daemon (migrates first unless AUTO_MIGRATE=false)"),
    "demo": (
        "daemon.cli.demo_cmd",
        "run the whole system against the simulator on ./pims-sync-demo.db",
    ),
    "simulator": (
        "daemon.cli.simulator_cmd",
        "run a PIMS simulator (IDEXX Neo by default, or ezyVet)",
    ),
}


def command_module(name: str) -> ModuleType:
    return importlib.import_module(COMMANDS[name][0])


def _chosen_command(argv: Sequence[str]) -> str | None:
    """The command named on the line: the first word that is not an option (the top-level
    options, ``-h``, ``--help`` and ``--version``, take no value)."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: the full one for the command it names, a one-line entry for
    every other command. Without ``argv``, every command's full parser (for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="pims-sync",
        description="Keeps veterinary clinics' PIMS in sync with our database.",
    )
    parser.add_argument("--version", action="version", version=f"pims-sync {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = None if argv is None else _chosen_command(argv)
    for name, (_module, summary) in COMMANDS.items():
        if argv is None or name == chosen:
            command_module(name).register(commands)
        else:
            commands.add_parser(name, help=summary, add_help=False)
    return parser


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"pims-sync: error: {message}\n")
    sys.stderr.flush()
    return code


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(words).parse_args(words)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        return _fail(str(exc), EXIT_USAGE)
    _configure_logging(settings)
    try:
        code: int = args.handler(args, settings)
        return code
    except CliFailure as exc:
        return _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as exc:
        known = _known_failure(exc)
        if known is None:
            raise
        return _fail(*known)


def _known_failure(exc: Exception) -> tuple[str, int] | None:
    """The message and exit code of a failure the operator can act on; None for a bug.

    The store's exception classes are imported only now: a command that got this far with such
    an error has loaded the store already, and one that did not must not pay for it up front.
    """
    from sqlalchemy.exc import OperationalError

    from daemon.store.crypto import EncryptionKeyMissing, UndecryptableSecret
    from daemon.store.database import DatabaseUnavailable
    from daemon.store.secrets import NoCredentials

    if isinstance(exc, EncryptionKeyMissing):
        return str(exc), EXIT_USAGE
    if isinstance(exc, UndecryptableSecret | NoCredentials | DatabaseUnavailable):
        return str(exc), EXIT_FAILED
    if isinstance(exc, OperationalError):
        detail = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
        return f"database error: {type(exc.orig).__name__}: {detail}", EXIT_FAILED
    return None


def _configure_logging(settings: Settings) -> None:
    import logging

    # alembic narrates every migration step at INFO; operators need only its warnings.
    logging.getLogger("alembic").setLevel(
        max(logging.WARNING, logging.getLevelName(settings.log_level))
    )
    try:
        from daemon.observability.logging import configure_logging
    except ImportError:  # pragma: no cover - only while the package is being assembled
        logging.basicConfig(level=settings.log_level, stream=sys.stderr)
        return
    configure_logging(level=settings.log_level, fmt=settings.log_format)


#: Commands that serve until a signal: they leave through the interpreter's normal shutdown.
SERVING_COMMANDS = frozenset({"run", "demo", "simulator"})


def entry() -> NoReturn:
    """The ``pims-sync`` console script (and ``python -m daemon``): :func:`main`, then exit.

    A one-shot command has closed what it holds (browsers, its sync) and written its result by
    the time :func:`main` returns. Tearing the interpreter down after that — finalising the module
    graphs of SQLAlchemy, aiohttp and rich — still cost about a quarter of a second, a third of a
    foreground ``pims-sync sync``'s start-up and exit. So such a command flushes and closes the
    log handlers (Axiom's included) and the standard streams itself, then leaves with
    ``os._exit``. A SQLite database needs no closing for this: its WAL is checkpointed by the next
    connection. Serving commands exit normally.
    """
    words = sys.argv[1:]
    code = main(words)
    command = next((word for word in words if not word.startswith("-")), None)
    if command in SERVING_COMMANDS:
        sys.exit(code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe: nothing more can reach the reader.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
