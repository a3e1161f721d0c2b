"""What every CLI command shares: errors and exit codes, output, opening the store.

Light on purpose: every command module imports this while its arguments are parsed, and
``--help`` must not wait for SQLAlchemy or alembic. The store is imported when it is opened.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from daemon.config import Settings
from daemon.validation import InvalidValue, parse_uuid

if TYPE_CHECKING:
    from daemon.store import Store
    from providers.base import BrowserLease
    from providers.browsers import BrowserPool

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace, Settings], int]


class CliFailure(Exception):
    """The command ran and failed (exit 1), or was given a bad value (exit 2)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def usage_error(message: str) -> CliFailure:
    return CliFailure(message, EXIT_USAGE)


def emit(result: dict[str, Any], args: argparse.Namespace, human: str) -> None:
    """Print the command's result, and nothing else, on stdout."""
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(human.rstrip("\n") + "\n")
    sys.stdout.flush()


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def clinic_id_arg(value: str, flag: str = "--clinic") -> uuid.UUID:
    try:
        return parse_uuid(value, flag)
    except InvalidValue as exc:
        raise usage_error(str(exc)) from None


def open_store(settings: Settings, *, require_schema: bool = True) -> Store:
    from daemon.store import Database, SecretBox, Store
    from daemon.store.migrate import is_current

    db = Database(settings.database_url)
    db.ping()
    if require_schema and not is_current(db.engine):
        raise CliFailure(
            f"the database at {db.safe_url} is not at the latest schema: run `pims-sync migrate`"
        )
    return Store(db, SecretBox(settings.encryption_key, settings.previous_encryption_keys))


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain aligned text table (stdout stays free of colour codes for scripts and pipes)."""
    if not rows:
        return "(none)"
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


class LazyBrowserPool:
    """A :class:`providers.browsers.BrowserPool` made on the first lease.

    A foreground sync on a cached session needs no browser at all; made lazily, it does not
    pay for importing Playwright either (a tenth of a second or more of every ``pims-sync
    sync``). Same constructor arguments, ``lease`` and ``stop`` as the real pool.
    """

    def __init__(self, size: int = 1, chromium_path: str | None = None) -> None:
        self._size = size
        self._chromium_path = chromium_path
        self._pool: BrowserPool | None = None
        self._lock = threading.Lock()
        self._stopped = False

    def _real(self) -> BrowserPool:
        with self._lock:
            if self._pool is None:
                from providers.browsers import BrowserPool

                self._pool = BrowserPool(size=self._size, chromium_path=self._chromium_path)
                if self._stopped:
                    self._pool.stop()  # a lease after stop fails as the real pool's would
            return self._pool

    def lease(self, timeout_s: float = 60.0) -> AbstractAsyncContextManager[BrowserLease]:
        return self._real().lease(timeout_s)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            pool = self._pool
        if pool is not None:
            pool.stop()
