"""Response helpers shared by the simulated app and its control routes."""

from __future__ import annotations

from aiohttp import web

from providers.simulation.control import json_response

__all__ = ["html_response", "json_response", "redirect"]


def html_response(markup: str, status: int = 200) -> web.Response:
    return web.Response(text=markup, status=status, content_type="text/html", charset="utf-8")


def redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})
