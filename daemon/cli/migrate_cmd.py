"""``pims-sync migrate``: bring the database to the latest schema."""

from __future__ import annotations

import argparse
from typing import Any

from daemon.cli.common import EXIT_OK, add_json_flag, emit
from daemon.config import Settings


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "migrate", help="bring the database at DATABASE_URL to the latest schema"
    )
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.store import Database
    from daemon.store.migrate import upgrade

    db = Database(settings.database_url)
    try:
        db.ping()
        revision = upgrade(db.engine)
    finally:
        db.dispose()
    emit({"revision": revision}, args, f"database at {db.safe_url} is at revision {revision}")
    return EXIT_OK
