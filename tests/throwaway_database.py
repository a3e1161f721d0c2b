"""A fresh PostgreSQL database on the test server (``TEST_DATABASE_URL``), for a test run, a
multi-process test or a benchmark, dropped (connections and all) when done."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from daemon.config import DEFAULT_TEST_DATABASE_URL, normalise_database_url


def server_url() -> URL:
    return make_url(
        normalise_database_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL))
    )


def create_database(prefix: str) -> tuple[str, Callable[[], None]]:
    """A new database named ``<prefix>_<random>``; returns its URL and a dropper."""
    server = server_url()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:
        admin.dispose()
        raise

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return server.set(database=name).render_as_string(hide_password=False), drop
