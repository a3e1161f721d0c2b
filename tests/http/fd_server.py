"""The HTTP server as a process of its own, under a lowered open-file limit.

``python -m tests.http.fd_server LIMIT DIR`` prints the port, serves until stdin closes, and
logs as the daemon does (JSON lines on stderr), so a test can count them.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

from daemon.config import Settings
from daemon.http import HttpServer, HttpTuning, build_app
from daemon.observability.logging import configure_logging
from daemon.store import Database, SecretBox, Store
from daemon.store.migrate import upgrade
from tests.conftest import TEST_KEY
from tests.http.standin import StandInDispatcher


def main() -> None:
    limit, directory = int(sys.argv[1]), Path(sys.argv[2])
    db = Database(f"sqlite:///{directory / 'fd.db'}")
    upgrade(db.engine)
    store = Store(db, SecretBox(TEST_KEY))
    configure_logging("INFO", "json")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    tuning = HttpTuning(header_timeout_s=2.0, executor_workers=2)
    dispatcher = StandInDispatcher(store)
    server = HttpServer(
        build_app(store, dispatcher, Settings(host="127.0.0.1", port=0), tuning=tuning),
        "127.0.0.1",
        0,
    )
    server.start()
    print(server.port, flush=True)
    sys.stdin.read()
    server.stop()
    db.dispose()


if __name__ == "__main__":
    main()
