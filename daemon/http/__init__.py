"""The embedded HTTP API (contract §3): authenticated triggers, status, live progress, probes.

``build_app`` assembles the aiohttp application; ``HttpServer`` runs it in its own thread with
its own event loop. Everything the API asks of the running daemon goes through a
:class:`~daemon.http.dispatch.Dispatcher`.
"""

from daemon.http.app import build_app
from daemon.http.server import HttpServer
from daemon.http.state import HttpTuning

__all__ = ["HttpServer", "HttpTuning", "build_app"]
