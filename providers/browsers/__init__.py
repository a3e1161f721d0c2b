"""Chromium for providers that log in through a browser: finding, launching and pooling it."""

from providers.browsers.pool import BrowserPool

__all__ = ["BrowserPool"]
