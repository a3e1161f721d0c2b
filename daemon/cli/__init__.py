"""The ``pims-sync`` command line (contract §2.1, §2.2).

stdout carries only a command's result; logs and progress go to stderr. Exit codes: 0 success,
1 the command ran and failed, 2 bad usage or an invalid value (the message names the argument or
variable and the rule).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy.exc import OperationalError

from daemon import __version__
from daemon.cli import (
    clinic_cmd,
    credentials_cmd,
    demo_cmd,
    key_cmd,
    migrate_cmd,
    run_cmd,
    schedule_cmd,
    simulator_cmd,
    sync_cmd,
)
from daemon.cli.common import EXIT_FAILED, EXIT_USAGE, CliFailure
from daemon.config import ConfigError, Settings
from daemon.store.crypto import EncryptionKeyMissing, UndecryptableSecret
from daemon.store.database import DatabaseUnavailable
from daemon.store.secrets import NoCredentials

COMMAND_MODULES = [
    migrate_cmd,
    clinic_cmd,
    credentials_cmd,
    key_cmd,
    schedule_cmd,
    sync_cmd,
    run_cmd,
    demo_cmd,
    simulator_cmd,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pims-sync",
        description="Keeps veterinary clinics' PIMS in sync with our database.",
    )
    parser.add_argument("--version", action="version", version=f"pims-sync {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"pims-sync: error: {message}\n")
    sys.stderr.flush()
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
    except EncryptionKeyMissing as exc:
        return _fail(str(exc), EXIT_USAGE)
    except (UndecryptableSecret, NoCredentials, DatabaseUnavailable) as exc:
        return _fail(str(exc), EXIT_FAILED)
    except OperationalError as exc:
        return _fail(
            f"database error: {type(exc.orig).__name__}: "
            f"{str(exc.orig).splitlines()[0] if exc.orig else exc}",
            EXIT_FAILED,
        )
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


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


if __name__ == "__main__":
    sys.exit(main())
