"""Response helpers shared by the simulated app and its control routes."""

from __future__ import annotations

import functools
import json
from typing import Any

from aiohttp import web

# Real servers send UTF-8 as is; escaping "Zoë" as "Zo\u00eb" would hide encoding bugs.
_dumps = functools.partial(json.dumps, ensure_ascii=False)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=_dumps)


def html_response(markup: str, status: int = 200) -> web.Response:
    return web.Response(text=markup, status=status, content_type="text/html", charset="utf-8")


def redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})
