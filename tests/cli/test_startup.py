"""What a command pays before it does its work: the schema check and the browser pool."""

from __future__ import annotations

import subprocess
import sys

from daemon.store import Database
from daemon.store.migrate import current_revision, head_revision, head_revisions, is_current


def test_the_schema_check_agrees_with_alembic(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert head_revisions() == {head_revision()}
    db = Database(database_url)
    try:
        assert current_revision(db.engine) == head_revision() and is_current(db.engine)
    finally:
        db.dispose()
    empty = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert current_revision(empty.engine) is None and not is_current(empty.engine)
    finally:
        empty.dispose()


def test_the_schema_check_and_an_unused_browser_pool_load_neither_alembic_nor_playwright(
    database_url: str,
) -> None:
    probe = f"""
import sys
from daemon.cli.common import LazyBrowserPool
from daemon.store import Database
from daemon.store.migrate import is_current
db = Database({database_url!r})
assert is_current(db.engine)
db.dispose()
pool = LazyBrowserPool(size=1)
pool.stop()
print(sorted(m for m in ("alembic", "playwright") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
